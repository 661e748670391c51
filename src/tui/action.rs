//! Everything that can happen to the app arrives as one [`Action`] on one channel;
//! everything the app wants done outside itself leaves `update` as an [`Effect`].

use crate::exp::LoadError;
use crate::report::{ExperimentReport, RunReport};
use crate::system::fetch::FetchProgress;
use crossterm::event::{KeyEvent, MouseEvent};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a search produced no report. `Clone` (unlike `RunError`) so the state can keep it.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchFailure {
    /// YAML or schema problem: shown with experiment, key and `line:col`.
    Load(LoadError),
    /// The search was cancelled (normally a newer generation replaced it).
    Cancelled,
    /// Anything else the engine reported.
    Other(String),
}

impl From<crate::run::RunError> for SearchFailure {
    fn from(e: crate::run::RunError) -> Self {
        match e {
            crate::run::RunError::Load(l) => SearchFailure::Load(l),
            crate::run::RunError::Cancelled => SearchFailure::Cancelled,
            crate::run::RunError::Other(s) => SearchFailure::Other(s),
        }
    }
}

/// Progress of the search in flight, as the worker forwards it.
#[derive(Clone, Debug, PartialEq)]
pub enum ProgressMsg {
    Planned(Vec<String>),
    Partial {
        experiment: String,
        done_fraction: f64,
        /// The feasible Pareto points found so far (drawn before the search ends).
        pareto: Vec<crate::report::Row>,
    },
    ExperimentDone(Box<ExperimentReport>),
}

/// Messages into `update`: input, file watcher, worker, timer, effect outcomes.
#[derive(Clone, Debug)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Timer tick carrying the current time (render reads time only from state).
    Tick(Instant),
    /// The watched file changed on disk (debounced).
    FileChanged,
    /// The watcher reported a problem; shown, not fatal.
    WatchError(String),
    Progress {
        generation: u64,
        msg: ProgressMsg,
    },
    SearchDone {
        generation: u64,
        elapsed: Duration,
        result: Result<RunReport, SearchFailure>,
    },
    /// Outcome of [`Effect::WriteFile`].
    Written(Result<PathBuf, String>),
    /// Outcome of [`Effect::OpenEditor`].
    EditorClosed(Result<(), String>),
    /// The database fetch started by [`Effect::FetchDatabase`] moved on.
    FetchProgress(FetchProgress),
    /// The database fetch ended: the installed systems folder, or why not.
    FetchDone(Result<PathBuf, String>),
    /// Outcome of [`Effect::SetValues`]: the write (to undo), or why nothing
    /// was written.
    KnobWritten(Result<Change, String>),
    /// Outcome of [`Effect::Restore`] for `change` (`undo`: it was an undo,
    /// else a redo).
    Restored {
        change: Change,
        undo: bool,
        result: Result<(), String>,
    },
    /// One value of sweep `id` is done.
    SweepPoint {
        id: u64,
        point: crate::sweep::SweepPoint,
    },
    /// Sweep `id` ended (all values, cancelled, or failed).
    SweepDone {
        id: u64,
        result: Result<(), SearchFailure>,
    },
}

/// One write to the user's file, as undo and redo need it: the bytes before
/// and after, and what it changed (`isl 4000 → 8000`).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub label: String,
    /// False when the edit left the file as it was (nothing was written).
    pub changed: bool,
}

/// Side effects the runtime performs on behalf of `update`.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Cancel the search in flight (if any) and start one tagged `generation`.
    Search {
        generation: u64,
    },
    /// Suspend the terminal and open the file in `$EDITOR`.
    OpenEditor,
    /// Download and unpack the measured database in the background.
    FetchDatabase,
    /// The database changed on disk: searches from now on open it afresh.
    ReopenDatabase,
    /// Write `edits` (`EXPERIMENT.path`, YAML value) into the watched file the
    /// way `xpyd set` does; `label` names the change for undo.
    SetValues {
        edits: Vec<(String, String)>,
        label: String,
    },
    /// Put `bytes` back into the watched file if it still holds `expect`
    /// (undo / redo of `change`).
    Restore {
        change: Change,
        undo: bool,
    },
    /// Run sweep `id`: the file searched once per value of `key`.
    StartSweep {
        id: u64,
        key: crate::exp::vary::VaryKey,
        values: Vec<f64>,
    },
    /// Stop the sweep in flight, if any.
    CancelSweep,
    /// Write a snippet next to the user (relative to the working folder).
    WriteFile {
        path: PathBuf,
        contents: String,
    },
    /// Write the deploy bundle of `row` into a new folder beside the exp file.
    WriteBundle {
        exp: Box<crate::report::ExperimentReport>,
        row: Box<crate::report::Row>,
    },
    Quit,
}
