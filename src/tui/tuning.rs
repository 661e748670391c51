//! Explorer state for tuning: the knob panel, the write a run of knob steps
//! is gathering, the undo and redo stacks, and the sensitivity sweep.

use super::action::{Change, SearchFailure};
use crate::exp::vary::VaryKey;
use crate::report::ExperimentReport;
use crate::sweep::SweepPoint;
use crate::tune::{Knob, KnobValue};
use std::time::{Duration, Instant};

/// Steps closer together than this go into one write.
pub const COALESCE: Duration = Duration::from_millis(300);

/// The open knob panel (`w`).
#[derive(Clone, Debug, PartialEq)]
pub struct KnobPanel {
    /// The experiment tuned, by name so it survives reruns.
    pub experiment: String,
    pub sel: usize,
    /// The candidate value under the cursor of a list knob.
    pub cursor: usize,
    /// Enter opened a prompt: the text typed so far.
    pub typing: Option<String>,
}

/// A knob value not yet on screen as a result: gathering steps until `due`,
/// then written and waiting for the re-search.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWrite {
    pub experiment: String,
    pub knob: Knob,
    /// The value before the first of the gathered steps.
    pub from: KnobValue,
    pub value: KnobValue,
    /// When to write; `None` once the write is under way or done.
    pub due: Option<Instant>,
}

impl PendingWrite {
    /// `isl 4000 → 8000`.
    pub fn label(&self) -> String {
        format!("{} {} → {}", self.knob.label, self.from, self.value)
    }
}

/// Who made the edit the last re-search showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditSource {
    Knob,
    Undo,
    Redo,
    /// Saved by another program (the user's editor).
    Editor,
}

impl EditSource {
    pub fn label(self) -> &'static str {
        match self {
            EditSource::Knob => "knob",
            EditSource::Undo => "undo",
            EditSource::Redo => "redo",
            EditSource::Editor => "file saved",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SweepStatus {
    Running,
    Done,
    /// An edit (or a new sweep) stopped it; the points so far stay.
    Cancelled,
    Failed(SearchFailure),
}

/// A sensitivity sweep of one knob around its value (`x`).
#[derive(Clone, Debug)]
pub struct SweepState {
    pub id: u64,
    pub key: VaryKey,
    /// The file's value when the sweep started (marked on the chart).
    pub current: f64,
    pub values: Vec<f64>,
    pub points: Vec<SweepPoint>,
    pub status: SweepStatus,
}

/// Everything tuning adds to the explorer's state.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    pub panel: Option<KnobPanel>,
    pub pending: Option<PendingWrite>,
    pub undo: Vec<Change>,
    pub redo: Vec<Change>,
    /// The explorer wrote the file itself: the next re-search shows that edit.
    pub own_write: Option<EditSource>,
    /// Who made the edit named in the status line.
    pub edit_source: Option<EditSource>,
    pub sweep: Option<SweepState>,
    /// The last sweep id handed out.
    pub sweep_id: u64,
    /// The load to size for (explorer only, not in the file): the panes
    /// show the GPUs each experiment needs to serve it.
    pub target: Option<crate::verbs::recommend::LoadTarget>,
}

impl Tuning {
    /// The knobs of `exp` with a gathered or in-flight value shown in place
    /// of the one the results were searched with.
    pub fn knobs_of(&self, exp: &ExperimentReport) -> Vec<Knob> {
        let mut ks = crate::tune::knobs(exp);
        if let Some(p) = self.pending.as_ref().filter(|p| p.experiment == exp.name) {
            if let Some(k) = ks.iter_mut().find(|k| k.key == p.knob.key) {
                k.value = p.value.clone();
            }
        }
        ks
    }
}
