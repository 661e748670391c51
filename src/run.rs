//! The one entry point front ends call: load a file, search every experiment,
//! return the report. Cancellable, with progress callbacks for live views.

use crate::report::{ExperimentReport, Row, RunReport};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Options shared by `xpyd run`, `xpyd bench` and the TUI.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--systems-dir`; otherwise the usual discovery order applies.
    pub systems_dir: Option<PathBuf>,
    /// Rows in `top` (reference default 5).
    pub top_n: usize,
    /// Also return every feasible row (`ExperimentReport::feasible`).
    pub keep_feasible: bool,
}

/// Cooperative cancellation: the search checks it between candidates.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a running search reports before it ends.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The file loaded; these experiments will run, in this order.
    Planned { experiments: Vec<String> },
    /// Feasible Pareto points found so far for one experiment (streams before the end).
    Partial {
        experiment: String,
        pareto: Vec<Row>,
        done_fraction: f64,
    },
    /// One experiment finished.
    ExperimentDone(Box<ExperimentReport>),
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

/// Load `path` and search every experiment in it.
pub fn run_file(
    path: &Path,
    opts: &RunOptions,
    cancel: &CancelToken,
    on_progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunReport, RunError> {
    let _ = (path, opts, cancel, on_progress);
    Err(RunError::Other("search not wired yet".into()))
}
