//! The step memo on disk, so a new process starts where the last one stopped.
//!
//! Engine results are pure functions of (op graph, database contents, step
//! inputs). One file per op graph holds every step latency and per-op
//! breakdown computed for it, with f64s stored as raw bits: a hit returns
//! the very number the engine returned. A file is trusted only when its
//! header names the same xpyd build and the same database fingerprint (the
//! size and modification time of every file under the database folder);
//! anything else is a miss, and a store problem is never an error.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Bump when the record layout or anything a record depends on changes.
const FORMAT: u32 = 1;
const MAGIC: &[u8; 8] = b"XPYDSTEP";
/// A file is rewritten with only the entries the last process used once it
/// grows past this many records, so the store does not grow without bound.
pub const MAX_RECORDS: usize = 200_000;

/// Where the store lives: `XPYD_STEP_CACHE` (a folder, or `off` to disable),
/// else `<cache root>/steps`.
pub fn store_root() -> Option<PathBuf> {
    match std::env::var_os("XPYD_STEP_CACHE") {
        Some(v) if v == "off" || v == "0" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => crate::system::locate::default_cache_root().map(|r| r.join("steps")),
    }
}

/// Hex SHA-256 of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The identity of a database folder's contents: every file's relative path,
/// size and modification time, plus the build that reads them.
pub fn fingerprint(systems_dir: &Path) -> Option<String> {
    let root = std::fs::canonicalize(systems_dir).ok()?;
    // A folder that cannot be read leaves the identity unknown: no store.
    let (files, complete) = files_under(&root);
    if !complete {
        return None;
    }
    let mut lines: Vec<String> = files
        .into_iter()
        .map(|(p, m)| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let rel = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
            format!("{rel}\t{}\t{t}", m.len())
        })
        .collect();
    lines.sort();
    let head = format!(
        "xpyd {} · aiconfigurator-core 0.12.0 · format {FORMAT} · {}\n",
        env!("CARGO_PKG_VERSION"),
        root.display()
    );
    Some(digest((head + &lines.join("\n")).as_bytes()))
}

/// Every file below `root` with its metadata, and whether every folder could
/// be read.
fn files_under(root: &Path) -> (Vec<(PathBuf, std::fs::Metadata)>, bool) {
    let mut out = Vec::new();
    let mut complete = true;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            complete = false;
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m));
            }
        }
    }
    (out, complete)
}

/// A step record: (isl, osl, prefix, kind, a, b) → latency bits or error.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub workload: (u32, u32, u32),
    pub kind: u8,
    pub a: u32,
    pub b: u32,
    pub value: Result<u64, String>,
}

/// A breakdown record: opaque JSON, already bit-exact (floats as bits).
#[derive(Clone, Debug, PartialEq)]
pub struct DetailRecord {
    pub json: String,
}

#[derive(Default, Debug, PartialEq)]
pub struct SpecFile {
    pub steps: Vec<StepRecord>,
    pub details: Vec<DetailRecord>,
}

/// The file of one op graph under one database fingerprint.
pub fn path_for(root: &Path, fingerprint: &str, spec_digest: &str) -> PathBuf {
    root.join(&fingerprint[..16.min(fingerprint.len())])
        .join(format!("{spec_digest}.bin"))
}

fn header(fingerprint: &str, spec_digest: &str) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend(FORMAT.to_le_bytes());
    put_str(&mut h, fingerprint);
    put_str(&mut h, spec_digest);
    h
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u32).to_le_bytes());
    out.extend(s.as_bytes());
}

pub fn encode(fingerprint: &str, spec_digest: &str, f: &SpecFile) -> Vec<u8> {
    let mut out = header(fingerprint, spec_digest);
    out.reserve(f.steps.len() * 34);
    for s in &f.steps {
        out.push(1);
        for v in [s.workload.0, s.workload.1, s.workload.2] {
            out.extend(v.to_le_bytes());
        }
        out.push(s.kind);
        out.extend(s.a.to_le_bytes());
        out.extend(s.b.to_le_bytes());
        match &s.value {
            Ok(bits) => {
                out.push(0);
                out.extend(bits.to_le_bytes());
            }
            Err(msg) => {
                out.push(1);
                put_str(&mut out, msg);
            }
        }
    }
    for d in &f.details {
        out.push(2);
        put_str(&mut out, &d.json);
    }
    out
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// The records of a file, or `None` when it is not a valid file for this
/// fingerprint and op graph (truncated, another build, another database).
pub fn decode(bytes: &[u8], fingerprint: &str, spec_digest: &str) -> Option<SpecFile> {
    let head = header(fingerprint, spec_digest);
    let rest = bytes.strip_prefix(head.as_slice())?;
    let mut c = Cursor(rest);
    let mut f = SpecFile::default();
    while !c.0.is_empty() {
        match c.u8()? {
            1 => {
                let workload = (c.u32()?, c.u32()?, c.u32()?);
                let kind = c.u8()?;
                let (a, b) = (c.u32()?, c.u32()?);
                let value = match c.u8()? {
                    0 => Ok(c.u64()?),
                    1 => Err(c.string()?),
                    _ => return None,
                };
                f.steps.push(StepRecord {
                    workload,
                    kind,
                    a,
                    b,
                    value,
                });
            }
            2 => f.details.push(DetailRecord { json: c.string()? }),
            _ => return None,
        }
    }
    Some(f)
}

pub fn read(path: &Path, fingerprint: &str, spec_digest: &str) -> Option<SpecFile> {
    decode(&std::fs::read(path).ok()?, fingerprint, spec_digest)
}

/// Write atomically (temp file + rename): a concurrent reader sees the old or
/// the new file, never half of one.
pub fn write(path: &Path, fingerprint: &str, spec_digest: &str, f: &SpecFile) {
    let Some(dir) = path.parent() else { return };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::create_dir_all(dir).is_ok()
        && std::fs::write(&tmp, encode(fingerprint, spec_digest, f)).is_ok()
        && std::fs::rename(&tmp, path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Files and bytes under the store folder.
pub fn usage(root: &Path) -> (usize, u64) {
    let (files, _) = files_under(root);
    (files.len(), files.iter().map(|(_, m)| m.len()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SpecFile {
        SpecFile {
            steps: vec![
                StepRecord {
                    workload: (4000, 1000, 0),
                    kind: 0,
                    a: 128,
                    b: 7,
                    value: Ok(0.1_f64.to_bits()),
                },
                StepRecord {
                    workload: (0, 0, 0),
                    kind: 4,
                    a: 512,
                    b: 4033,
                    value: Err("no data for 'generation_attention'".into()),
                },
            ],
            details: vec![DetailRecord {
                json: "{\"k\":1}".into(),
            }],
        }
    }

    #[test]
    fn records_round_trip_bit_for_bit() {
        let f = sample();
        let bytes = encode("fp", "spec", &f);
        assert_eq!(decode(&bytes, "fp", "spec"), Some(f));
    }

    #[test]
    fn another_database_or_graph_or_a_torn_file_is_a_miss() {
        let bytes = encode("fp", "spec", &sample());
        assert_eq!(decode(&bytes, "fp2", "spec"), None);
        assert_eq!(decode(&bytes, "fp", "spec2"), None);
        assert_eq!(decode(&bytes[..bytes.len() - 3], "fp", "spec"), None);
    }

    #[test]
    fn fingerprint_changes_when_a_file_changes() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("data/h100")).expect("mkdir");
        std::fs::write(d.path().join("data/h100/a.parquet"), b"1").expect("write");
        let before = fingerprint(d.path());
        assert!(before.is_some());
        assert_eq!(before, fingerprint(d.path()));
        std::fs::write(d.path().join("data/h100/a.parquet"), b"12").expect("write");
        assert_ne!(before, fingerprint(d.path()));
        let size_changed = fingerprint(d.path());
        std::fs::write(d.path().join("data/h100/b.parquet"), b"").expect("write");
        assert_ne!(size_changed, fingerprint(d.path()));
    }
}
