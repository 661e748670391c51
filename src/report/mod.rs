//! Result types and their renderings (table, JSON, CSV).
pub mod types;
pub use types::*;
pub mod csv;
pub mod diff;
pub mod table;

/// `v` as pretty JSON with a final newline: what `--format json` prints.
pub fn json_text<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| format!("encoding JSON: {e}"))
}
