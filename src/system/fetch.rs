//! `xpyd db fetch` and `xpyd db status` as library functions. Fetching uses
//! pip to download the aiconfigurator-core wheel and Python's zipfile module
//! to unpack only `systems/` and `model_configs/` into xpyd's cache.
//!
//! Progress is structured ([`FetchProgress`]) so front ends can draw a bar;
//! [`phase_lines`] turns it into the one-line-per-phase log the CLI prints.

use super::database::Database;
use super::locate::{cache_dir, default_cache_root, validate_measured, DbKind, DbLocation};
use super::{DbError, AIC_CORE_VERSION};
use crate::domain::Backend;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Rough size of the wheel (the 0.12.0 manylinux wheel is 81.7 MB), for a
/// progress bar while pip has not announced the real size yet.
pub const WHEEL_SIZE_HINT: u64 = 80_000_000;

/// How often the download folder is measured while pip runs.
const POLL: Duration = Duration::from_millis(200);

/// Where a fetch is. `Downloading` repeats while pip runs (bytes grow).
#[derive(Clone, Debug, PartialEq)]
pub enum FetchProgress {
    /// A complete copy is already in the cache; nothing is downloaded.
    AlreadyPresent { path: PathBuf },
    /// pip is downloading the wheel. `bytes` is measured on disk; `total`
    /// is the size pip announced, when it did.
    Downloading { bytes: u64, total: Option<u64> },
    /// Extracting `systems/` and `model_configs/` from the wheel.
    Unpacking { wheel: PathBuf },
    /// Installed and checked.
    Done { path: PathBuf },
}

impl fmt::Display for FetchProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchProgress::AlreadyPresent { path } => write!(
                f,
                "database already present at {}; nothing to download",
                path.display()
            ),
            FetchProgress::Downloading { bytes: 0, .. } => write!(
                f,
                "downloading aiconfigurator-core=={AIC_CORE_VERSION} with pip (about 80 MB)..."
            ),
            FetchProgress::Downloading { bytes, total } => {
                write!(f, "downloaded {:.1} MB", *bytes as f64 / 1e6)?;
                match total {
                    Some(t) => write!(f, " of {:.1} MB", *t as f64 / 1e6),
                    None => Ok(()),
                }
            }
            FetchProgress::Unpacking { wheel } => write!(f, "unpacking {}", wheel.display()),
            FetchProgress::Done { path } => write!(f, "database installed at {}", path.display()),
        }
    }
}

/// A progress sink that hands `out` one line per phase (the first report of
/// each), not one per poll of the download: what `xpyd db fetch` prints.
pub fn phase_lines(mut out: impl FnMut(&str)) -> impl FnMut(&FetchProgress) {
    let mut last = None;
    move |p: &FetchProgress| {
        let phase = std::mem::discriminant(p);
        if last != Some(phase) {
            last = Some(phase);
            out(&p.to_string());
        }
    }
}

/// Download and unpack the database into `<cache_root>/aiconfigurator-core-0.12.0/`
/// (default cache root: `$XDG_CACHE_HOME/xpyd` or `~/.cache/xpyd`). Does
/// nothing when a complete copy is already there.
pub fn fetch(
    cache_root: Option<&Path>,
    progress: &mut dyn FnMut(&FetchProgress),
) -> Result<DbLocation, DbError> {
    let root = match cache_root {
        Some(r) => r.to_path_buf(),
        None => default_cache_root().ok_or_else(|| {
            DbError::Fetch("cannot find a cache folder: set XDG_CACHE_HOME or HOME".into())
        })?,
    };
    if let Some(loc) = already_present(&root) {
        progress(&FetchProgress::AlreadyPresent {
            path: loc.systems_dir.clone(),
        });
        return Ok(loc);
    }
    std::fs::create_dir_all(&root).map_err(|e| DbError::io(&root, e))?;
    let work = TempDir::new(&root, "download")?;
    let wheel_dir = work.path().join("wheel");
    progress(&FetchProgress::Downloading {
        bytes: 0,
        total: None,
    });
    pip_download(&wheel_dir, &work.path().join("tmp"), progress)?;
    let wheel = find_wheel(&wheel_dir)?;
    install_wheel(&wheel, &root, progress)
}

/// The cached copy, if complete.
fn already_present(root: &Path) -> Option<DbLocation> {
    let dir = cache_dir(root);
    let systems = dir.join("systems");
    validate_measured(&systems, "cache").ok()?;
    let model_configs = dir.join("model_configs");
    Some(DbLocation {
        kind: DbKind::Measured,
        source: "cache".into(),
        systems_dir: systems,
        model_configs_dir: model_configs.is_dir().then_some(model_configs),
    })
}

/// Unpack a downloaded wheel into the cache atomically: extract into a
/// staging folder next to the destination, check it, then rename it into
/// place (replacing an incomplete copy, if any).
pub fn install_wheel(
    wheel: &Path,
    cache_root: &Path,
    progress: &mut dyn FnMut(&FetchProgress),
) -> Result<DbLocation, DbError> {
    if let Some(loc) = already_present(cache_root) {
        progress(&FetchProgress::AlreadyPresent {
            path: loc.systems_dir.clone(),
        });
        return Ok(loc);
    }
    std::fs::create_dir_all(cache_root).map_err(|e| DbError::io(cache_root, e))?;
    progress(&FetchProgress::Unpacking {
        wheel: wheel.to_path_buf(),
    });
    let staging = TempDir::new(cache_root, "unpack")?;
    unpack_wheel(wheel, staging.path())?;
    validate_measured(&staging.path().join("systems"), "downloaded wheel").map_err(|e| {
        DbError::Fetch(format!(
            "{} does not contain a usable database: {e}",
            wheel.display()
        ))
    })?;
    let dest = cache_dir(cache_root);
    if dest.exists() {
        // An incomplete earlier copy: move it aside first so the rename below
        // is a single atomic step, then delete it.
        let old = cache_root.join(format!(".old-{}", std::process::id()));
        std::fs::rename(&dest, &old).map_err(|e| DbError::io(&dest, e))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &dest).map_err(|e| DbError::io(&dest, e))?;
    progress(&FetchProgress::Done { path: dest.clone() });
    already_present(cache_root).ok_or_else(|| DbError::Incomplete {
        source_label: "cache".into(),
        path: dest.join("systems"),
        what: "the installed copy failed validation".into(),
    })
}

/// Extract `aiconfigurator_core/systems/**` and `aiconfigurator_core/model_configs/**`
/// from a wheel (a zip) into `dest/systems` and `dest/model_configs`.
pub fn unpack_wheel(wheel: &Path, dest: &Path) -> Result<(), DbError> {
    // Members outside the two folders, absolute names and `..` parts are
    // skipped, so a hostile archive cannot write outside `dest`.
    const SCRIPT: &str = r#"
import sys, zipfile, os, shutil
wheel, dest = sys.argv[1], sys.argv[2]
keep = ("aiconfigurator_core/systems/", "aiconfigurator_core/model_configs/")
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if info.is_dir() or not name.startswith(keep):
            continue
        rel = name[len("aiconfigurator_core/"):]
        parts = rel.split("/")
        if os.path.isabs(rel) or ".." in parts:
            continue
        target = os.path.join(dest, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        n += 1
print(n)
"#;
    let out = python()
        .args(["-c", SCRIPT])
        .arg(wheel)
        .arg(dest)
        .output()
        .map_err(|e| DbError::Fetch(format!("cannot run python3 to unpack the wheel: {e}")))?;
    if !out.status.success() {
        return Err(DbError::Fetch(format!(
            "unpacking {} failed: {}",
            wheel.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let count: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    if count == 0 {
        return Err(DbError::Fetch(format!(
            "{} has no aiconfigurator_core/systems/ or model_configs/ files",
            wheel.display()
        )));
    }
    Ok(())
}

fn python() -> Command {
    Command::new("python3")
}

/// `pip download` into `dir`, reporting bytes as they arrive. pip streams the
/// file into its own temporary folder and copies it into `dir` at the end, so
/// its `TMPDIR` is pointed at `tmp` and both folders are measured.
fn pip_download(
    dir: &Path,
    tmp: &Path,
    progress: &mut dyn FnMut(&FetchProgress),
) -> Result<(), DbError> {
    let spec = format!("aiconfigurator-core=={AIC_CORE_VERSION}");
    let args = [
        "download",
        spec.as_str(),
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "-d",
    ];
    std::fs::create_dir_all(tmp).map_err(|e| DbError::io(tmp, e))?;
    let mut errors = Vec::new();
    let mut attempts: Vec<Command> = Vec::new();
    let mut py = python();
    py.args(["-m", "pip"]);
    attempts.push(py);
    attempts.push(Command::new("pip"));
    for mut cmd in attempts {
        let shown = format!("{:?}", cmd.get_program());
        cmd.args(args).arg(dir).env("TMPDIR", tmp);
        match run_polled(cmd, &[dir, tmp], progress) {
            Ok(None) => return Ok(()),
            Ok(Some(stderr)) => errors.push(format!(
                "{shown}: {}",
                stderr.lines().last().unwrap_or("failed")
            )),
            Err(e) => errors.push(format!("{shown}: {e}")),
        }
    }
    Err(DbError::Fetch(format!(
        "pip could not download {spec}: {}",
        errors.join("; ")
    )))
}

/// Run pip, reporting the size of `watch` every [`POLL`] and the total pip
/// announces on stdout. `Ok(None)` on success, `Ok(Some(stderr))` when pip
/// failed, `Err` when it could not be started.
fn run_polled(
    mut cmd: Command,
    watch: &[&Path],
    progress: &mut dyn FnMut(&FetchProgress),
) -> std::io::Result<Option<String>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // 0 = pip has not announced a size yet.
    let total = Arc::new(AtomicU64::new(0));
    let stdout = child.stdout.take().map(|out| {
        let total = total.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(t) = announced_size(&line) {
                    total.store(t, Ordering::Relaxed);
                }
            }
        })
    });
    // Read stderr concurrently so a chatty pip never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        })
    });
    let mut last = (0, 0);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let bytes = watch.iter().map(|d| dir_size(d)).max().unwrap_or(0);
        let t = total.load(Ordering::Relaxed);
        if (bytes, t) != last && bytes > 0 {
            last = (bytes, t);
            progress(&FetchProgress::Downloading {
                bytes,
                total: (t > 0).then_some(t),
            });
        }
        std::thread::sleep(POLL);
    };
    if let Some(h) = stdout {
        let _ = h.join();
    }
    let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if status.success() {
        let t = total.load(Ordering::Relaxed);
        let bytes = dir_size(watch[0]);
        if bytes > 0 {
            progress(&FetchProgress::Downloading {
                bytes,
                total: Some(if t > 0 { t } else { bytes }),
            });
        }
        Ok(None)
    } else {
        Ok(Some(err))
    }
}

/// The wheel size in pip's `Downloading aiconfigurator_core-….whl (61.2 MB)`
/// line (pip's units are powers of 1000). Metadata downloads are ignored.
fn announced_size(line: &str) -> Option<u64> {
    let line = line.trim();
    if !line.starts_with("Downloading ") {
        return None;
    }
    let (name, rest) = line.split_once(" (")?;
    if !name.ends_with(".whl") {
        return None;
    }
    let (num, unit) = rest.trim_end_matches(')').split_once(' ')?;
    let n: f64 = num.parse().ok()?;
    let scale = match unit {
        "bytes" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((n * scale) as u64)
}

fn find_wheel(dir: &Path) -> Result<PathBuf, DbError> {
    std::fs::read_dir(dir)
        .map_err(|e| DbError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| DbError::Fetch(format!("pip left no .whl file in {}", dir.display())))
}

/// A folder removed on drop unless kept.
struct TempDir(Option<PathBuf>);

impl TempDir {
    fn new(parent: &Path, tag: &str) -> Result<Self, DbError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = parent.join(format!(".{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| DbError::io(&path, e))?;
        Ok(TempDir(Some(path)))
    }
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// One system's line in `xpyd db status`.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemStatus {
    pub name: String,
    /// (backend, versions, default)
    pub backends: Vec<(String, Vec<String>, Option<String>)>,
}

/// What `xpyd db status` prints.
#[derive(Clone, Debug)]
pub struct StatusReport {
    /// The database in use, or why discovery failed.
    pub location: Result<DbLocation, String>,
    pub systems: Vec<SystemStatus>,
    pub size_bytes: u64,
}

/// Describe the database discovery would use.
pub fn status(systems_dir_flag: Option<&Path>) -> StatusReport {
    match super::locate(systems_dir_flag) {
        Ok(loc) => status_of(loc),
        Err(e) => StatusReport {
            location: Err(e.to_string()),
            systems: Vec::new(),
            size_bytes: 0,
        },
    }
}

/// Describe one located database.
pub fn status_of(location: DbLocation) -> StatusReport {
    let size_bytes =
        dir_size(&location.systems_dir) + location.model_configs_dir.as_deref().map_or(0, dir_size);
    let db = match Database::open(location.clone()) {
        Ok(db) => db,
        Err(e) => {
            return StatusReport {
                location: Err(e.to_string()),
                systems: Vec::new(),
                size_bytes,
            }
        }
    };
    let systems = db
        .system_names()
        .into_iter()
        .map(|name| SystemStatus {
            backends: Backend::ALL
                .iter()
                .filter_map(|b| {
                    let (versions, default) = db.versions(&name, *b);
                    (!versions.is_empty()).then(|| (b.name().to_string(), versions, default))
                })
                .collect(),
            name,
        })
        .collect();
    StatusReport {
        location: Ok(location),
        systems,
        size_bytes,
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = match &self.location {
            Ok(loc) => loc,
            Err(e) => return writeln!(f, "database: unusable: {e}"),
        };
        writeln!(f, "database: {} (from {})", loc.kind.name(), loc.source)?;
        writeln!(f, "systems:  {}", loc.systems_dir.display())?;
        if let Some(mc) = &loc.model_configs_dir {
            writeln!(f, "models:   {}", mc.display())?;
        }
        writeln!(f, "size:     {:.1} MB", self.size_bytes as f64 / 1e6)?;
        if let Some(banner) = loc.banner() {
            writeln!(f, "note:     {banner}")?;
        }
        for s in &self.systems {
            if s.backends.is_empty() {
                writeln!(f, "  {:<22} (spec only, no measured data)", s.name)?;
                continue;
            }
            let parts: Vec<String> = s
                .backends
                .iter()
                .map(|(b, vs, d)| {
                    let listed: Vec<String> = vs
                        .iter()
                        .map(|v| {
                            if Some(v) == d.as_ref() {
                                format!("{v}*")
                            } else {
                                v.clone()
                            }
                        })
                        .collect();
                    format!("{b} {}", listed.join(" "))
                })
                .collect();
            writeln!(f, "  {:<22} {}", s.name, parts.join("; "))?;
        }
        if !self.systems.is_empty() {
            writeln!(f, "(* = default version)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_size_announcements() {
        assert_eq!(
            announced_size("  Downloading aiconfigurator_core-0.12.0-py3-none-any.whl (61.2 MB)"),
            Some(61_200_000)
        );
        assert_eq!(
            announced_size("Downloading x-1.0-py3-none-any.whl (812 kB)"),
            Some(812_000)
        );
        assert_eq!(
            announced_size("Downloading x-1.0-py3-none-any.whl.metadata (1.2 kB)"),
            None
        );
        assert_eq!(
            announced_size("Collecting aiconfigurator-core==0.12.0"),
            None
        );
        assert_eq!(announced_size("Downloading x.whl (lots)"), None);
    }

    #[test]
    fn cli_log_has_one_line_per_phase() {
        let mut lines = Vec::new();
        {
            let mut sink = phase_lines(|m| lines.push(m.to_string()));
            for bytes in [0, 10, 20] {
                sink(&FetchProgress::Downloading { bytes, total: None });
            }
            sink(&FetchProgress::Unpacking {
                wheel: "w.whl".into(),
            });
            sink(&FetchProgress::Done { path: "db".into() });
        }
        assert_eq!(
            lines,
            [
                "downloading aiconfigurator-core==0.12.0 with pip (about 80 MB)...",
                "unpacking w.whl",
                "database installed at db"
            ]
        );
    }
}
