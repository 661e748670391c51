//! Result types and their renderings (table, JSON, CSV).
pub mod types;
pub use types::*;
pub mod csv;
pub mod diff;
pub mod table;
