//! The one entry point front ends call: load a file, search every experiment,
//! return the report. Cancellable, with progress callbacks for live views.

use crate::engine::cache::EngineCache;
use crate::engine::factory::{DbCatalog, EngineFactory};
use crate::report::{DatabaseInfo, ExperimentReport, RunReport, Warning};
use crate::search::experiment::{run_experiment, run_experiment_with, Listing};
use std::path::{Path, PathBuf};
use std::sync::Arc;

// The search's run control, re-exported for the front ends.
pub use crate::search::control::{CancelToken, Progress};
// `xpyd bench` lives in its own module; this keeps `run::bench` working.
pub use crate::bench::bench;

/// Options shared by `xpyd run`, `xpyd bench` and the TUI.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--systems-dir`; otherwise the usual discovery order applies.
    pub systems_dir: Option<PathBuf>,
    /// Rows in `top` (reference default 5).
    pub top_n: usize,
    /// Also return every feasible row (`ExperimentReport::feasible`).
    pub keep_feasible: bool,
    /// Leave out the per-op details of the listed rows (sweeps compare best
    /// rows only; details cost extra engine passes).
    pub skip_details: bool,
}

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Load(#[from] crate::exp::LoadError),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}

/// What outlives one search: the located database, the model/system catalog
/// and the engine cache. The TUI keeps one session for its whole life, so a
/// re-search after an edit reuses loaded tables and memoized steps.
pub struct Session {
    pub catalog: DbCatalog,
    pub cache: Arc<EngineCache>,
}

impl Session {
    /// Locate the database (flag, env, python package, cache, built-in) and open it.
    pub fn open(systems_dir: Option<&Path>) -> Result<Session, RunError> {
        Self::open_with_store(systems_dir, crate::engine::step_store::store_root())
    }

    /// A session whose memo lives in memory only (benchmarks, tests).
    pub fn open_in_memory(systems_dir: Option<&Path>) -> Result<Session, RunError> {
        Self::open_with_store(systems_dir, None)
    }

    fn open_with_store(
        systems_dir: Option<&Path>,
        store: Option<std::path::PathBuf>,
    ) -> Result<Session, RunError> {
        let db = crate::system::Database::locate(systems_dir)
            .map_err(|e| RunError::Other(e.to_string()))?;
        Ok(Session {
            catalog: DbCatalog::new(db),
            cache: Arc::new(EngineCache::with_store(store)),
        })
    }

    pub fn database_info(&self) -> DatabaseInfo {
        self.catalog.db.location().info()
    }

    /// Load and resolve a file without searching.
    pub fn load(&self, path: &Path) -> Result<crate::exp::ExpFile, RunError> {
        Ok(crate::exp::load_file(path, &self.catalog)?)
    }

    /// `xpyd set`: apply `edits` (`EXPERIMENT.path=VALUE`) to the file in
    /// place, keeping every other byte, if the result loads with this
    /// session's catalog; otherwise nothing is written.
    pub fn set_file<K: AsRef<str>, V: AsRef<str>>(
        &self,
        path: &Path,
        edits: &[(K, V)],
    ) -> Result<crate::edit::Outcome, crate::edit::SetError> {
        let label = path.display().to_string();
        crate::edit::set_file(path, edits, |text: &str| {
            crate::exp::load_str(text, &label, &self.catalog)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    /// Load `path` and search every experiment in it, in order.
    pub fn run_file(
        &self,
        path: &Path,
        opts: &RunOptions,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        let (text, label) = crate::exp::read_text(path)?;
        self.run_text(&text, &label, None, opts, cancel, on_progress)
    }

    /// Search the experiments of `text` (named `label` in messages), with
    /// `vary` set in every experiment as if written in the file (sweeps).
    /// Experiments whose own settings are wrong are reported with their
    /// errors while the others run.
    pub fn run_text(
        &self,
        text: &str,
        label: &str,
        vary: Option<crate::exp::vary::Setting>,
        opts: &RunOptions,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        let (file, failed) = crate::exp::load_text_lenient(text, label, &self.catalog, vary)?;
        let warnings: Vec<Warning> = file.warnings.iter().map(|w| warning(label, w)).collect();
        let mut report =
            self.search_tasks(&file.tasks, label, &warnings, opts, cancel, on_progress)?;
        report.experiments.extend(failed_reports(label, &failed));
        for e in report
            .experiments
            .iter_mut()
            .filter(|e| e.warnings.is_empty())
        {
            e.warnings = warnings_of(&warnings, &e.name);
        }
        report.warnings = warnings;
        Ok(report)
    }

    /// Search already-resolved experiments, in order.
    pub fn run_tasks(
        &self,
        tasks: &[crate::exp::Task],
        file_label: &str,
        opts: &RunOptions,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        self.search_tasks(tasks, file_label, &[], opts, cancel, on_progress)
    }

    /// [`Session::run_tasks`] with the file's warnings attached to each
    /// experiment before it is reported.
    fn search_tasks(
        &self,
        tasks: &[crate::exp::Task],
        file_label: &str,
        warnings: &[Warning],
        opts: &RunOptions,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        on_progress(Progress::Planned {
            experiments: tasks.iter().map(|t| t.name.clone()).collect(),
        });
        let mut experiments = Vec::new();
        for task in tasks {
            if cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            let rep = match EngineFactory::new(task, &self.catalog, self.cache.clone()) {
                Ok(factory) => run_experiment_with(
                    task,
                    &factory,
                    Listing {
                        top_n: opts.top_n.max(1),
                        keep_feasible: opts.keep_feasible,
                        details: !opts.skip_details,
                    },
                    cancel,
                    on_progress,
                ),
                Err(msg) => error_report(task, msg),
            };
            let mut rep = rep;
            if self.catalog.db.kind() == crate::system::DbKind::Builtin
                && task.database_mode != crate::domain::DbMode::Sol
            {
                // Say plainly that the requested mode could not be honoured.
                rep.database_mode = format!(
                    "SOL (built-in specs; {} needs the measured database)",
                    task.database_mode
                );
            }
            rep.warnings = warnings_of(warnings, &task.name);
            on_progress(Progress::ExperimentDone(Box::new(rep.clone())));
            experiments.push(rep);
        }
        if cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        Ok(RunReport {
            file: file_label.to_string(),
            best_experiment: best_experiment(&experiments),
            experiments,
            database: self.database_info(),
            warnings: warnings.to_vec(),
        })
    }
}

/// A loader warning as reported, with its full `file:line:col: …` text.
fn warning(file: &str, e: &crate::exp::ExpError) -> Warning {
    Warning {
        experiment: e.experiment.clone(),
        key_path: e.key_path.clone(),
        line: e.line,
        col: e.col,
        message: e.message.clone(),
        text: format!("{file}:{e}"),
    }
}

fn warnings_of(all: &[Warning], experiment: &str) -> Vec<Warning> {
    all.iter()
        .filter(|w| w.experiment.as_deref() == Some(experiment))
        .cloned()
        .collect()
}

/// The experiment whose rank-1 row has the highest tokens/s/gpu_cluster.
fn best_experiment(exps: &[ExperimentReport]) -> Option<String> {
    let mut best: Option<(&ExperimentReport, f64)> = None;
    for e in exps {
        if let Some(b) = &e.best {
            if best.is_none_or(|(_, v)| b.tokens_per_s_per_gpu_cluster > v) {
                best = Some((e, b.tokens_per_s_per_gpu_cluster));
            }
        }
    }
    best.map(|(e, _)| e.name.clone())
}

/// Reports for experiments whose settings could not be resolved, one per
/// experiment, each carrying its located messages.
fn failed_reports(file: &str, errors: &[crate::exp::ExpError]) -> Vec<ExperimentReport> {
    let mut out: Vec<ExperimentReport> = Vec::new();
    for name in errors.iter().filter_map(|e| e.experiment.as_deref()) {
        if out.iter().any(|r| r.name == name) {
            continue;
        }
        let msgs: Vec<String> = errors
            .iter()
            .filter(|e| e.experiment.as_deref() == Some(name))
            .map(|e| format!("{file}:{e}"))
            .collect();
        out.push(ExperimentReport {
            name: name.to_string(),
            status: crate::report::Status::Error,
            error: Some(msgs.join("\n")),
            ..Default::default()
        });
    }
    out
}

fn error_report(task: &crate::exp::Task, msg: String) -> ExperimentReport {
    let mut r = run_experiment(task, &NoWorkers, 1, false, &CancelToken::new(), &|_| {});
    r.status = crate::report::Status::Error;
    r.error = Some(msg);
    r.rejected.clear();
    r
}

/// A factory that builds nothing, for experiments whose model or system failed to load.
struct NoWorkers;
impl crate::search::experiment::WorkerFactory for NoWorkers {
    fn build(
        &self,
        _: &crate::exp::Task,
        _: crate::search::experiment::RoleKind,
        _: crate::domain::Parallel,
    ) -> Result<crate::search::experiment::BuiltWorker, String> {
        Err("not built".into())
    }
    fn is_moe(&self, _: &crate::exp::Task, _: crate::search::experiment::RoleKind) -> bool {
        false
    }
}

/// Load `path` and search every experiment in it, in a fresh session, then
/// hand `use_report` the result; what was priced goes to the step store only
/// afterwards, so writing it never delays the answer.
pub fn run_file<T>(
    path: &Path,
    opts: &RunOptions,
    cancel: &CancelToken,
    on_progress: &(dyn Fn(Progress) + Sync),
    use_report: impl FnOnce(Result<RunReport, RunError>) -> T,
) -> Result<T, RunError> {
    let session = Session::open(opts.systems_dir.as_deref())?;
    let out = use_report(session.run_file(path, opts, cancel, on_progress));
    session.cache.persist();
    Ok(out)
}

/// What `xpyd check` found: a summary of what would run, and the warnings
/// (each `file:line:col: …`).
pub struct CheckSummary {
    pub summary: String,
    pub warnings: Vec<String>,
}

/// `xpyd check`: validate and summarise what would run.
pub fn check_file(path: &Path, opts: &RunOptions) -> Result<CheckSummary, String> {
    let session = Session::open(opts.systems_dir.as_deref()).map_err(|e| e.to_string())?;
    let file = session.load(path).map_err(|e| e.to_string())?;
    let mut out = format!("{}: ok, {} experiment(s)", path.display(), file.tasks.len());
    for t in &file.tasks {
        let r = t.first_role();
        out.push_str(&format!(
            "\n  {} ({}): {} on {} with {} {}, {} GPUs",
            t.name, t.serving_mode, r.model, r.system, r.backend, r.backend_version, t.total_gpus
        ));
    }
    if !file.warnings.is_empty() {
        out.push_str(&format!("\n{} warning(s)", file.warnings.len()));
    }
    let label = path.display().to_string();
    Ok(CheckSummary {
        summary: out,
        warnings: file
            .warnings
            .iter()
            .map(|w| warning(&label, w).text)
            .collect(),
    })
}

/// `xpyd db fetch`.
pub fn db_fetch() -> Result<String, String> {
    let loc = crate::system::fetch(
        None,
        &mut crate::system::fetch::phase_lines(|m| eprintln!("{m}")),
    )
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "measured database ready at {}",
        loc.systems_dir.display()
    ))
}

/// `xpyd db status`.
pub fn db_status(systems_dir: Option<&Path>) -> String {
    let mut out = crate::system::status(systems_dir).to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&match crate::engine::step_store::store_root() {
        Some(root) => {
            let (files, bytes) = crate::engine::step_store::usage(&root);
            format!(
                "step store: {} ({files} file(s), {:.1} MB; safe to delete; XPYD_STEP_CACHE=off disables it)",
                root.display(),
                bytes as f64 / 1e6
            )
        }
        None => "step store: off (XPYD_STEP_CACHE)".to_string(),
    });
    out
}
