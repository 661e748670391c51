//! Run control shared by the search and whoever drives it: the cooperative
//! cancellation token and the progress events a running search emits. They
//! live here, below `run`, so the search never imports from its caller;
//! `run` re-exports both for the front ends.

use crate::report::{ExperimentReport, Row};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
