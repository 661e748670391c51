//! Backend versions of the measured database: the queryable slots of
//! `query_versions.yaml` (current / previous / derived next) and the version
//! folders under `data/<system>/<family>/<backend>/<version>/`, following the
//! same rules as the reference so defaults agree.

use super::DbError;
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// First-level folders under `data/<system>/` that are backends, not families.
const KNOWN_BACKEND_DIRS: [&str; 5] = ["trtllm", "sglang", "vllm", "nccl", "oneccl"];
/// Sidecars that do not count as measured data in a version folder.
const METADATA_FILES: [&str; 4] = [
    "SHARED_LAYER_REUSE.txt",
    "INCOMPLETE.txt",
    "reuse.yaml",
    "collection_meta.yaml",
];

/// Parsed `query_versions.yaml`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct QueryVersions {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub defaults: BTreeMap<String, Slot>,
    #[serde(default)]
    pub overrides: BTreeMap<String, BTreeMap<String, Slot>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Slot {
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
}

impl QueryVersions {
    pub fn load(path: &Path) -> Result<Self, DbError> {
        let text = std::fs::read_to_string(path).map_err(|e| DbError::io(path, e))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, DbError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(text).map_err(|e| DbError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The authored entry for (system, backend): a per-system override wins.
    /// Returns the entry and whether it came from an override.
    fn entry(&self, system: &str, backend: &str) -> Option<(&Slot, bool)> {
        if let Some(slot) = self.overrides.get(system).and_then(|m| m.get(backend)) {
            return Some((slot, true));
        }
        self.defaults.get(backend).map(|s| (s, false))
    }

    /// Systems whose override names this backend (kept out of the fleet-wide
    /// `next` derivation: they are frozen baselines).
    fn override_systems(&self, backend: &str) -> BTreeSet<String> {
        self.overrides
            .iter()
            .filter(|(_, m)| m.contains_key(backend))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// Resolved slots of one (system, backend).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slots {
    pub current: String,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Slots {
    pub fn values(&self) -> Vec<String> {
        let mut v = vec![self.current.clone()];
        v.extend(self.previous.clone());
        v.extend(self.next.clone());
        v.sort_by(|a, b| compare_versions(a, b));
        v.dedup();
        v
    }

    /// Map an alias (`current`/`previous`/`next`) or a slot version.
    pub fn resolve(&self, requested: &str) -> Option<String> {
        match requested {
            "current" => Some(self.current.clone()),
            "previous" => self.previous.clone(),
            "next" => self.next.clone(),
            v if self.values().iter().any(|x| x == v) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// Sort key of a version string, e.g. `1.3.0rc10`, `0.5.6.post2`:
/// (major, minor, patch, release(1) or rc(0), rc number, trailing number).
pub fn version_key(version: &str) -> [i64; 6] {
    let v = version.to_lowercase();
    let prerelease = || -> [i64; 2] {
        match first_rc_number(&v) {
            Some(n) => [0, n],
            None if v.contains("rc") => [0, 0],
            None => [1, 0],
        }
    };
    // Last run of digits after `start`.
    let suffix = |start: usize| -> i64 {
        let tail = &v[start..];
        let mut last = None;
        let mut cur = String::new();
        for c in tail.chars() {
            if c.is_ascii_digit() {
                cur.push(c);
            } else if !cur.is_empty() {
                last = Some(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            last = Some(cur);
        }
        last.and_then(|s| s.parse().ok()).unwrap_or(0)
    };
    if let Some((nums, end)) = find_dotted(&v, 3) {
        let pr = prerelease();
        return [nums[0], nums[1], nums[2], pr[0], pr[1], suffix(end)];
    }
    if let Some((nums, end)) = find_dotted(&v, 2) {
        let pr = prerelease();
        return [nums[0], nums[1], 0, pr[0], pr[1], suffix(end)];
    }
    [0, 0, 0, 0, 0, 0]
}

fn first_rc_number(v: &str) -> Option<i64> {
    let mut rest = v;
    while let Some(pos) = rest.find("rc") {
        let digits: String = rest[pos + 2..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(n) = digits.parse() {
            return Some(n);
        }
        rest = &rest[pos + 2..];
    }
    None
}

/// First occurrence of `n` dot-separated digit runs (`\d+\.\d+(\.\d+)`),
/// returning the numbers and the byte offset just past the match.
fn find_dotted(v: &str, n: usize) -> Option<([i64; 3], usize)> {
    let b = v.as_bytes();
    for start in 0..b.len() {
        if !b[start].is_ascii_digit() || (start > 0 && b[start - 1].is_ascii_digit()) {
            continue;
        }
        let mut i = start;
        let mut nums = [0i64; 3];
        let mut ok = true;
        for (k, num) in nums.iter_mut().enumerate().take(n) {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == s {
                ok = false;
                break;
            }
            *num = v[s..i].parse().unwrap_or(0);
            if k + 1 < n {
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                } else {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return Some((nums, i));
        }
    }
    None
}

pub fn compare_versions(a: &str, b: &str) -> Ordering {
    version_key(a).cmp(&version_key(b))
}

/// Every (version, folder) of `backend` under a system data folder, in both
/// layouts: `<family>/<backend>/<version>` and legacy `<backend>/<version>`.
pub fn backend_version_dirs(data_dir: &Path, backend: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return out;
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    names.sort();
    for (name, path) in names {
        let backend_path = if name == backend {
            path
        } else if !KNOWN_BACKEND_DIRS.contains(&name.as_str()) {
            path.join(backend)
        } else {
            continue;
        };
        let Ok(versions) = std::fs::read_dir(&backend_path) else {
            continue;
        };
        let mut vs: Vec<(String, PathBuf)> = versions
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| !n.starts_with('.') && !n.starts_with('_'))
            .collect();
        vs.sort();
        out.extend(vs);
    }
    out
}

/// Whether a version folder holds measured files (not just sidecars).
pub fn has_perf_files(version_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(version_dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        !name.starts_with('.') && !METADATA_FILES.contains(&name.as_str()) && e.path().is_file()
    })
}

/// Whether the folder declares reuse of another version's tables: a
/// `reuse.yaml` with at least one entry, or the legacy marker file.
fn declares_reuse(version_dir: &Path) -> bool {
    let reuse = version_dir.join("reuse.yaml");
    if reuse.is_file() {
        #[derive(Deserialize)]
        struct Reuse {
            reuse: Vec<serde_json::Value>,
        }
        return std::fs::read_to_string(&reuse)
            .ok()
            .and_then(|t| serde_saphyr::from_str::<Reuse>(&t).ok())
            .is_some_and(|r| !r.reuse.is_empty());
    }
    version_dir.join("SHARED_LAYER_REUSE.txt").is_file()
}

/// A legacy `INCOMPLETE.txt` (without the newer `collection_meta.yaml`)
/// vetoes the whole folder.
fn unusable(version_dir: &Path) -> bool {
    !version_dir.join("collection_meta.yaml").is_file()
        && version_dir.join("INCOMPLETE.txt").is_file()
}

/// Versions of `backend` that hold data or declared reuse in some family.
pub fn declared_versions(data_dir: &Path, backend: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (v, dir) in backend_version_dirs(data_dir, backend) {
        if out.contains(&v) || unusable(&dir) {
            continue;
        }
        if has_perf_files(&dir) || declares_reuse(&dir) {
            out.insert(v);
        }
    }
    out
}

/// A declared version with only reuse markers and no measured files anywhere.
fn marker_only(data_dir: &Path, backend: &str, version: &str) -> bool {
    let mut saw_marker = false;
    for (v, dir) in backend_version_dirs(data_dir, backend) {
        if v != version || unusable(&dir) {
            continue;
        }
        if has_perf_files(&dir) {
            return false;
        }
        saw_marker |= declares_reuse(&dir);
    }
    saw_marker
}

/// What a systems folder knows about one system's data folder.
pub trait SystemsTree {
    /// Absolute data folder of a system, if its YAML names one.
    fn data_dir(&self, system: &str) -> Option<PathBuf>;
    /// Every system with a YAML in the folder.
    fn systems(&self) -> Vec<String>;
}

/// Resolved slots for (system, backend); `None` when the slots file is
/// absent/empty, the pair has no authored entry, or the system holds no
/// version folder for the backend (ungated, like the reference).
pub fn slots(
    doc: Option<&QueryVersions>,
    tree: &dyn SystemsTree,
    system: &str,
    backend: &str,
) -> Option<Slots> {
    let doc = doc?;
    let (entry, is_override) = doc.entry(system, backend)?;
    let current = entry.current.clone().filter(|c| !c.is_empty())?;
    let data_dir = tree.data_dir(system)?;
    if backend_version_dirs(&data_dir, backend).is_empty() {
        return None;
    }
    let previous = entry.previous.clone().filter(|p| !p.is_empty());
    let next = if is_override {
        None
    } else {
        fleet_next(tree, backend, &current, &doc.override_systems(backend))
    };
    Some(Slots {
        current,
        previous,
        next,
    })
}

/// Highest version newer than `current` holding measured files on any system
/// not governed by an override.
fn fleet_next(
    tree: &dyn SystemsTree,
    backend: &str,
    current: &str,
    exclude: &BTreeSet<String>,
) -> Option<String> {
    let cur = version_key(current);
    let mut best: Option<String> = None;
    for system in tree.systems() {
        if exclude.contains(&system) {
            continue;
        }
        let Some(data_dir) = tree.data_dir(&system) else {
            continue;
        };
        for (v, dir) in backend_version_dirs(&data_dir, backend) {
            if version_key(&v) > cur && has_perf_files(&dir) {
                let better = match &best {
                    None => true,
                    Some(b) => version_key(&v) > version_key(b),
                };
                if better {
                    best = Some(v);
                }
            }
        }
    }
    best
}

/// Queryable versions of (system, backend) and the default one, exactly as
/// the reference lists them: the slot set when slots apply, otherwise every
/// declared folder (default = newest that is not marker-only).
pub fn versions(
    doc: Option<&QueryVersions>,
    tree: &dyn SystemsTree,
    system: &str,
    backend: &str,
) -> (Vec<String>, Option<String>) {
    let Some(data_dir) = tree.data_dir(system) else {
        return (Vec::new(), None);
    };
    if !data_dir.is_dir() {
        return (Vec::new(), None);
    }
    let declared = declared_versions(&data_dir, backend);
    if declared.is_empty() {
        return (Vec::new(), None);
    }
    if let Some(s) = slots(doc, tree, system, backend) {
        return (s.values(), Some(s.current));
    }
    let listed: Vec<String> = declared.iter().cloned().collect();
    let default = listed
        .iter()
        .filter(|v| !marker_only(&data_dir, backend, v))
        .max_by(|a, b| compare_versions(a, b))
        .cloned();
    (listed, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering_matches_release_semantics() {
        assert!(compare_versions("1.3.0rc20", "1.3.0rc23").is_lt());
        assert!(compare_versions("1.3.0rc9", "1.3.0rc10").is_lt());
        assert!(compare_versions("1.3.0rc23", "1.3.0").is_lt());
        assert!(compare_versions("0.5.14", "0.5.9").is_gt());
        assert!(compare_versions("0.5.6", "0.5.6.post2").is_lt());
        assert_eq!(version_key("v0.20_fix0719"), [0, 20, 0, 1, 0, 719]);
        assert_eq!(version_key("1.0.0"), [1, 0, 0, 1, 0, 0]);
        assert_eq!(version_key("garbage"), [0; 6]);
    }

    #[test]
    fn slots_values_sorted_and_aliases_resolve() {
        let s = Slots {
            current: "1.3.0rc20".into(),
            previous: Some("1.2.0".into()),
            next: Some("1.3.0rc23".into()),
        };
        assert_eq!(s.values(), ["1.2.0", "1.3.0rc20", "1.3.0rc23"]);
        assert_eq!(s.resolve("next").as_deref(), Some("1.3.0rc23"));
        assert_eq!(s.resolve("1.2.0").as_deref(), Some("1.2.0"));
        assert_eq!(s.resolve("1.1.0"), None);
    }
}
