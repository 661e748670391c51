//! Finding the measured database. Order: `--systems-dir`, `XPYD_SYSTEMS_DIR`,
//! an installed `aiconfigurator_core` Python package, xpyd's cache folder;
//! when none exists, the built-in SOL specs are written to disk (the engine
//! reads files) and used instead.

use super::spec::BUILTIN_FILES;
use super::{DbError, AIC_CORE_VERSION};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Shown by front ends when no measured database was found.
pub const BUILTIN_BANNER: &str =
    "no measured database found: using built-in SOL specs; run `xpyd db fetch`";

/// Environment variable naming a systems folder.
pub const ENV_SYSTEMS_DIR: &str = "XPYD_SYSTEMS_DIR";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DbKind {
    /// The vendor's measured latency tables.
    Measured,
    /// Built-in hardware specs only: SOL estimates.
    Builtin,
}

impl DbKind {
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Measured => "measured",
            DbKind::Builtin => "builtin",
        }
    }
}

/// Where the database was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbLocation {
    pub kind: DbKind,
    /// `--systems-dir`, `XPYD_SYSTEMS_DIR`, `python package`, `cache` or `built-in`.
    pub source: String,
    /// Folder holding `<system>.yaml`, `query_versions.yaml` and `data/`.
    pub systems_dir: PathBuf,
    /// Folder of cached HF `config.json` files, when the source ships one.
    pub model_configs_dir: Option<PathBuf>,
}

impl DbLocation {
    /// The banner front ends show, if any.
    pub fn banner(&self) -> Option<&'static str> {
        (self.kind == DbKind::Builtin).then_some(BUILTIN_BANNER)
    }

    /// The report's `database` block.
    pub fn info(&self) -> crate::report::DatabaseInfo {
        crate::report::DatabaseInfo {
            kind: self.kind.name().to_string(),
            source: self.source.clone(),
            path: Some(self.systems_dir.display().to_string()),
        }
    }
}

/// Inputs of discovery, separated from the process environment so tests can
/// drive every branch.
#[derive(Clone, Debug, Default)]
pub struct LocateInputs {
    pub flag: Option<PathBuf>,
    pub env: Option<PathBuf>,
    /// site-packages folders to look for `aiconfigurator_core/` in.
    pub site_packages: Vec<PathBuf>,
    /// xpyd's cache root (the folder that holds `xpyd/`' contents, i.e.
    /// `~/.cache/xpyd`).
    pub cache_root: Option<PathBuf>,
}

impl LocateInputs {
    /// Read the real environment. Runs `python3` at most once per process.
    pub fn from_env(flag: Option<&Path>) -> Self {
        let env = std::env::var_os(ENV_SYSTEMS_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        // Asking python3 costs ~0.1 s: only when the flag and the variable are absent.
        let site_packages = if flag.is_none() && env.is_none() {
            site_packages().to_vec()
        } else {
            Vec::new()
        };
        LocateInputs {
            flag: flag.map(Path::to_path_buf),
            env,
            site_packages,
            cache_root: default_cache_root(),
        }
    }
}

/// Locate the database using the process environment.
pub fn locate(systems_dir_flag: Option<&Path>) -> Result<DbLocation, DbError> {
    locate_with(&LocateInputs::from_env(systems_dir_flag))
}

/// Locate the database from explicit inputs (first match wins; a folder that
/// is named but broken is an error, never silently skipped).
pub fn locate_with(inputs: &LocateInputs) -> Result<DbLocation, DbError> {
    if let Some(dir) = &inputs.flag {
        return measured_at(dir, "--systems-dir");
    }
    if let Some(dir) = &inputs.env {
        return measured_at(dir, ENV_SYSTEMS_DIR);
    }
    for sp in &inputs.site_packages {
        let pkg = sp.join("aiconfigurator_core");
        let systems = pkg.join("systems");
        if systems.is_dir() {
            return measured_at(&systems, "python package");
        }
    }
    if let Some(root) = &inputs.cache_root {
        let dir = cache_dir(root);
        if dir.join("systems").exists() {
            return measured_at(&dir, "cache");
        }
        return builtin_at(&root.join(format!("builtin-systems-{AIC_CORE_VERSION}")));
    }
    builtin_at(&std::env::temp_dir().join(format!("xpyd-builtin-systems-{AIC_CORE_VERSION}")))
}

/// `<cache_root>/aiconfigurator-core-<version>`: holds `systems/` and `model_configs/`.
pub fn cache_dir(cache_root: &Path) -> PathBuf {
    cache_root.join(format!("aiconfigurator-core-{AIC_CORE_VERSION}"))
}

/// `$XDG_CACHE_HOME/xpyd` or `~/.cache/xpyd`.
pub fn default_cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("xpyd"))
}

/// Accept either the `systems/` folder itself or a parent holding `systems/`.
fn measured_at(dir: &Path, source: &str) -> Result<DbLocation, DbError> {
    if !dir.is_dir() {
        return Err(DbError::NotADirectory {
            source_label: source.to_string(),
            path: dir.to_path_buf(),
        });
    }
    let systems_dir = if !dir.join("query_versions.yaml").exists() && dir.join("systems").is_dir() {
        dir.join("systems")
    } else {
        dir.to_path_buf()
    };
    validate_measured(&systems_dir, source)?;
    let model_configs_dir = systems_dir
        .parent()
        .map(|p| p.join("model_configs"))
        .filter(|p| p.is_dir());
    Ok(DbLocation {
        kind: DbKind::Measured,
        source: source.to_string(),
        systems_dir,
        model_configs_dir,
    })
}

/// Files in a systems folder that are not system specs.
const NON_SYSTEM_YAML: [&str; 3] = [
    "query_versions.yaml",
    "perf_data_reuse_manifest.yaml",
    "attention_lane_defaults.yaml",
];

/// System names (`<name>.yaml` stems) in a systems folder, sorted.
pub fn system_yaml_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if NON_SYSTEM_YAML.contains(&name.as_str()) || !e.path().is_file() {
                return None;
            }
            name.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// A measured folder needs the slots file, at least one system spec, and
/// measured tables under `data/`.
pub fn validate_measured(dir: &Path, source: &str) -> Result<(), DbError> {
    let incomplete = |what: &str| DbError::Incomplete {
        source_label: source.to_string(),
        path: dir.to_path_buf(),
        what: what.to_string(),
    };
    let qv = dir.join("query_versions.yaml");
    if !qv.is_file() {
        return Err(incomplete(
            "query_versions.yaml is missing (expected the aiconfigurator_core/systems folder)",
        ));
    }
    super::versions::QueryVersions::load(&qv)?;
    if system_yaml_names(dir).is_empty() {
        return Err(incomplete("no <system>.yaml hardware spec files"));
    }
    let data = dir.join("data");
    if !data.is_dir() {
        return Err(incomplete("the data/ folder of measured tables is missing"));
    }
    if !contains_file_with_ext(&data, "parquet", 6) {
        return Err(incomplete(
            "data/ holds no measured tables (*.parquet); re-run `xpyd db fetch`",
        ));
    }
    Ok(())
}

/// Depth-limited search for one file with the extension (stops at the first).
fn contains_file_with_ext(dir: &Path, ext: &str, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.extension().is_some_and(|x| x == ext) {
            return true;
        }
    }
    depth > 0
        && subdirs
            .iter()
            .any(|d| contains_file_with_ext(d, ext, depth - 1))
}

/// Write the embedded built-in specs to `dir` (only files whose contents
/// differ) and point at them.
pub fn builtin_at(dir: &Path) -> Result<DbLocation, DbError> {
    write_builtin_files(dir)?;
    Ok(DbLocation {
        kind: DbKind::Builtin,
        source: "built-in".to_string(),
        systems_dir: dir.to_path_buf(),
        model_configs_dir: None,
    })
}

pub fn write_builtin_files(dir: &Path) -> Result<(), DbError> {
    std::fs::create_dir_all(dir).map_err(|e| DbError::io(dir, e))?;
    for (name, text) in BUILTIN_FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|cur| cur == *text) {
            continue;
        }
        // Temp file + rename so a concurrent reader never sees half a file.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| DbError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| DbError::io(&path, e))?;
    }
    Ok(())
}

/// site-packages folders where an installed `aiconfigurator_core` may live:
/// the active venv / conda env, `.venv`/`venv` in the working folder, then
/// whatever `python3` reports. Computed once per process.
pub fn site_packages() -> &'static [PathBuf] {
    static CACHE: OnceLock<Vec<PathBuf>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let mut out = Vec::new();
        let mut prefixes: Vec<PathBuf> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
            .iter()
            .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
            .collect();
        if let Ok(cwd) = std::env::current_dir() {
            prefixes.push(cwd.join(".venv"));
            prefixes.push(cwd.join("venv"));
        }
        for prefix in prefixes {
            for lib in ["lib", "lib64"] {
                let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
                    continue;
                };
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with("python") {
                        out.push(e.path().join("site-packages"));
                    }
                }
            }
        }
        out.extend(python_reported_site_packages());
        out.dedup();
        out
    })
}

fn python_reported_site_packages() -> Vec<PathBuf> {
    const SCRIPT: &str = "import site\n\
        paths = list(site.getsitepackages())\n\
        u = site.getusersitepackages()\n\
        paths += [u] if isinstance(u, str) else list(u)\n\
        print('\\n'.join(paths))";
    let Ok(out) = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect()
}
