//! A small on-disk cache of facts derived from the measured database (which
//! quant modes each table holds, which expert-parallel sizes the all-to-all
//! data covers). Deriving them reads parquet columns and costs a few hundred ms
//! per (system, backend, version); the database folder does not change once
//! fetched, so a later process reuses the answer. Entries are keyed by the
//! folder and its modification times: a changed folder misses.

use super::database::QuantTable;
use super::DbError;
use crate::domain::Backend;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Bump when the cached format or its derivation changes.
// 2: quant tables list the granular and wide-EP MLA tables.
const FORMAT: u32 = 2;

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Cache file for one key, or `None` when there is no cache folder. `what`
/// names the kind of fact and `extra` whatever else the fact depends on.
fn entry(
    systems_dir: &Path,
    what: &str,
    system: &str,
    backend: Backend,
    version: &str,
    extra: &str,
) -> Option<PathBuf> {
    let root = std::env::var_os("XPYD_META_CACHE")
        .map(PathBuf::from)
        .or_else(|| super::locate::default_cache_root().map(|r| r.join("meta")))?;
    let canonical =
        std::fs::canonicalize(systems_dir).unwrap_or_else(|_| systems_dir.to_path_buf());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        FORMAT,
        env!("CARGO_PKG_VERSION"),
        &canonical,
        system,
        backend.name(),
        version,
        what,
        extra,
    )
        .hash(&mut h);
    for p in [
        canonical.join("query_versions.yaml"),
        canonical.join("data"),
        canonical.join("data").join(system),
        canonical.join("data").join(system).join(backend.name()),
        canonical
            .join("data")
            .join(system)
            .join(backend.name())
            .join(version),
    ] {
        mtime(&p).hash(&mut h);
    }
    Some(root.join(format!("{what}-{:016x}.json", h.finish())))
}

/// `compute`d once per key, then served from disk. Cache problems are never
/// errors: the value is simply computed again.
fn cached<T, E>(path: Option<PathBuf>, compute: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if let Some(p) = &path {
        if let Ok(text) = std::fs::read_to_string(p) {
            if let Ok(v) = serde_json::from_str::<T>(&text) {
                return Ok(v);
            }
        }
    }
    let value = compute()?;
    if let Some(p) = &path {
        if let (Some(dir), Ok(text)) = (p.parent(), serde_json::to_string(&value)) {
            // Write then rename, so a concurrent reader never sees half a file.
            let tmp = p.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, p);
            }
        }
    }
    Ok(value)
}

/// The quant table of (system, backend, version).
pub fn quant_table(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
    compute: impl FnOnce() -> Result<Option<QuantTable>, DbError>,
) -> Result<Option<QuantTable>, DbError> {
    cached(
        entry(systems_dir, "quants", system, backend, version, ""),
        compute,
    )
}

/// Large-EP coverage (comm backend → EP sizes) of one MoE shape, quant and phase.
pub fn large_ep_coverage(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
    key: &str,
    compute: impl FnOnce() -> BTreeMap<String, BTreeSet<u32>>,
) -> BTreeMap<String, BTreeSet<u32>> {
    let r: Result<_, std::convert::Infallible> = cached(
        entry(systems_dir, "large-ep", system, backend, version, key),
        || Ok(compute()),
    );
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn second_lookup_is_served_from_disk_and_a_changed_folder_misses() {
        let cache = tempfile::tempdir().unwrap();
        let db = tempfile::tempdir().unwrap();
        std::fs::write(db.path().join("query_versions.yaml"), "x: 1\n").unwrap();
        // Isolated from the user's cache for this test process.
        std::env::set_var("XPYD_META_CACHE", cache.path());
        let calls = Cell::new(0);
        let mut table = QuantTable::default();
        table.ops.insert("gemm".into(), vec!["fp8".into()]);
        let compute = || {
            calls.set(calls.get() + 1);
            Ok(Some(table.clone()))
        };
        let a = quant_table(db.path(), "h100_sxm", Backend::Trtllm, "1.0", compute).unwrap();
        let b = quant_table(db.path(), "h100_sxm", Backend::Trtllm, "1.0", compute).unwrap();
        assert_eq!(a, b);
        assert_eq!(calls.get(), 1, "second lookup must come from the cache");
        let _ = quant_table(db.path(), "h200_sxm", Backend::Trtllm, "1.0", compute).unwrap();
        assert_eq!(calls.get(), 2, "another key computes");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(db.path().join("query_versions.yaml"), "x: 2\n").unwrap();
        let _ = quant_table(db.path(), "h100_sxm", Backend::Trtllm, "1.0", compute).unwrap();
        assert_eq!(calls.get(), 3, "a modified database folder misses");

        // Large-EP facts are keyed by shape/quant/phase too: no collisions.
        let a = large_ep_coverage(db.path(), "h100_sxm", Backend::Trtllm, "1.0", "ctx", || {
            BTreeMap::from([("x".to_string(), BTreeSet::from([8]))])
        });
        let b = large_ep_coverage(db.path(), "h100_sxm", Backend::Trtllm, "1.0", "gen", || {
            BTreeMap::from([("y".to_string(), BTreeSet::from([16]))])
        });
        assert_ne!(a, b);
        let again = large_ep_coverage(
            db.path(),
            "h100_sxm",
            Backend::Trtllm,
            "1.0",
            "ctx",
            BTreeMap::new,
        );
        assert_eq!(again, a, "served from disk");
    }
}
