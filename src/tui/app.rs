//! The whole explorer state. Rendering reads only this; `update` is the only writer.
//! Derived views (the filtered, sorted candidate list) are computed from it on demand,
//! so they can never disagree with what is drawn.

use super::action::{ProgressMsg, SearchFailure};
use crate::report::{ExperimentReport, Row, RunReport, Warning};
use crate::search::front::{front_by, XMetric, YMetric};
use crate::system::fetch::{FetchProgress, WHEEL_SIZE_HINT};
use std::cmp::Ordering;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The six panes, in Tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaneId {
    Experiments,
    Pareto,
    Candidates,
    Breakdown,
    Compare,
    WhyNot,
}

impl PaneId {
    pub const ALL: [PaneId; 6] = [
        PaneId::Experiments,
        PaneId::Pareto,
        PaneId::Candidates,
        PaneId::Breakdown,
        PaneId::Compare,
        PaneId::WhyNot,
    ];

    pub fn index(self) -> usize {
        PaneId::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % PaneId::ALL.len()]
    }
    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + PaneId::ALL.len() - 1) % PaneId::ALL.len()]
    }
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Experiments => "Experiments",
            PaneId::Pareto => "Pareto",
            PaneId::Candidates => "Candidates",
            PaneId::Breakdown => "Breakdown",
            PaneId::Compare => "Compare",
            PaneId::WhyNot => "Why not",
        }
    }
    /// Panes that share the lower slot in the compact (80×24) layout.
    pub fn is_lower(self) -> bool {
        matches!(
            self,
            PaneId::Candidates | PaneId::Breakdown | PaneId::Compare | PaneId::WhyNot
        )
    }
}

/// Which rows of the selected experiment the candidates table lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandView {
    Top,
    Pareto,
    Feasible,
}

impl CandView {
    pub fn next(self) -> CandView {
        match self {
            CandView::Top => CandView::Pareto,
            CandView::Pareto => CandView::Feasible,
            CandView::Feasible => CandView::Top,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            CandView::Top => "top-N",
            CandView::Pareto => "pareto",
            CandView::Feasible => "all feasible",
        }
    }
}

/// Sortable columns of the candidates table (`Rank` = the report's own order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Rank,
    TokGpu,
    TokUser,
    Ttft,
    Tpot,
    Gpus,
    Replicas,
    Concurrency,
    Memory,
    Parallel,
    Sla,
}

impl SortKey {
    pub const ALL: [SortKey; 11] = [
        SortKey::Rank,
        SortKey::TokGpu,
        SortKey::TokUser,
        SortKey::Ttft,
        SortKey::Tpot,
        SortKey::Gpus,
        SortKey::Replicas,
        SortKey::Concurrency,
        SortKey::Memory,
        SortKey::Parallel,
        SortKey::Sla,
    ];
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Rank => "#",
            SortKey::TokGpu => "tok/s/gpu",
            SortKey::TokUser => "tok/s/user",
            SortKey::Ttft => "TTFT",
            SortKey::Tpot => "TPOT",
            SortKey::Gpus => "GPUs",
            SortKey::Replicas => "repl",
            SortKey::Concurrency => "concurrency",
            SortKey::Memory => "mem",
            SortKey::Parallel => "parallel",
            SortKey::Sla => "SLA",
        }
    }
    /// Throughput columns read best high-first; the rest low-first.
    pub fn default_descending(self) -> bool {
        matches!(self, SortKey::TokGpu | SortKey::TokUser | SortKey::Sla)
    }
}

/// The candidates table's view state.
#[derive(Clone, Debug, PartialEq)]
pub struct CandState {
    pub view: CandView,
    pub sort: SortKey,
    pub descending: bool,
    pub filter: String,
    /// The `/` prompt is open and keys go into `filter`.
    pub editing: bool,
    pub sel: usize,
    pub offset: usize,
}

impl Default for CandState {
    fn default() -> Self {
        CandState {
            view: CandView::Top,
            sort: SortKey::Rank,
            descending: false,
            filter: String::new(),
            editing: false,
            sel: 0,
            offset: 0,
        }
    }
}

/// The search in flight.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    pub generation: u64,
    pub started: Instant,
    pub planned: usize,
    pub done: usize,
    /// Fraction of the current experiment, from `Progress::Partial`.
    pub partial: f64,
    /// Pareto points streamed so far per experiment still being searched.
    pub streamed: Vec<(String, Vec<crate::report::Row>)>,
}

impl Running {
    /// Overall fraction for the gauge: finished experiments plus the current one's share.
    pub fn fraction(&self) -> f64 {
        if self.planned == 0 {
            return 0.0;
        }
        ((self.done as f64 + self.partial.clamp(0.0, 1.0)) / self.planned as f64).clamp(0.0, 1.0)
    }
    pub fn apply(&mut self, msg: &ProgressMsg) {
        match msg {
            ProgressMsg::Planned(names) => {
                self.planned = names.len();
                self.done = 0;
                self.partial = 0.0;
            }
            ProgressMsg::Partial {
                experiment,
                done_fraction,
                pareto,
            } => {
                self.partial = *done_fraction;
                match self.streamed.iter_mut().find(|(n, _)| n == experiment) {
                    Some((_, rows)) => *rows = pareto.clone(),
                    None => self.streamed.push((experiment.clone(), pareto.clone())),
                }
            }
            ProgressMsg::ExperimentDone(e) => {
                self.done += 1;
                self.partial = 0.0;
                self.streamed.retain(|(n, _)| *n != e.name);
            }
        }
    }
}

/// The in-place database fetch (`F`), from start until the results use it.
#[derive(Clone, Debug, PartialEq)]
pub enum FetchState {
    /// Downloading or unpacking; `progress` is the latest report, if any yet.
    Running {
        started: Instant,
        progress: Option<FetchProgress>,
    },
    /// Installed at this systems folder; the re-search on it is under way.
    Installed(PathBuf),
    /// The fetch failed (no pip, no network, a broken wheel): the reason.
    Failed(String),
}

impl FetchState {
    /// Fraction for the progress bar: bytes over the announced size (or the
    /// usual wheel size, kept short of full until pip finishes), full once
    /// unpacking starts.
    pub fn fraction(&self) -> f64 {
        match self {
            FetchState::Running {
                progress: Some(FetchProgress::Downloading { bytes, total }),
                ..
            } => match total {
                Some(t) if *t > 0 => (*bytes as f64 / *t as f64).clamp(0.0, 1.0),
                _ => (*bytes as f64 / WHEEL_SIZE_HINT as f64).clamp(0.0, 0.95),
            },
            FetchState::Running { progress: None, .. } => 0.0,
            _ => 1.0,
        }
    }
}

pub struct App {
    /// The file as the user named it (shown in the status bar).
    pub file: String,
    pub size: (u16, u16),
    pub focus: PaneId,
    /// Which lower pane the compact layout shows.
    pub lower: PaneId,
    /// The focused pane fills the body.
    pub zoom: bool,
    /// Breakdown shows the SOL_FULL view instead of the priced steps.
    pub sol_view: bool,
    /// Height of the top band (experiments + pareto), percent of the body.
    pub split_top: u16,
    /// Width of the left column, percent of the body.
    pub split_left: u16,
    /// Last good results.
    pub report: Option<RunReport>,
    /// The file changed into something that failed; `report` is from an older version.
    pub stale: bool,
    pub error: Option<SearchFailure>,
    /// Generation of the newest requested search; results tagged otherwise are dropped.
    pub generation: u64,
    /// Generation whose results are on screen (0 = none yet).
    pub shown_generation: u64,
    pub running: Option<Running>,
    pub last_search: Option<Duration>,
    pub now: Instant,
    pub sel_exp: usize,
    pub exp_offset: usize,
    pub cand: CandState,
    pub breakdown_scroll: u16,
    pub whynot_scroll: u16,
    /// Baseline of the compare pane, by name so it survives reruns.
    pub baseline: Option<String>,
    pub help: bool,
    pub help_scroll: u16,
    /// One-line feedback (export path, editor errors, watcher problems).
    pub message: Option<String>,
    /// The database fetch, while it runs and until its outcome is dealt with.
    pub fetch: Option<FetchState>,
    /// The Pareto chart's axes.
    pub x_axis: XMetric,
    pub y_axis: YMetric,
    /// Per experiment, the front for the chosen axes when they are not the
    /// reference's pair (computed by the library when the axes or results change).
    pub axis_fronts: Vec<Vec<Row>>,
    /// The results before the last re-search: drawn dimmed as a ghost front
    /// and compared against, until the next one.
    pub previous: Option<RunReport>,
    /// [`App::axis_fronts`] of the previous results.
    pub previous_axis_fronts: Vec<Vec<Row>>,
    /// What the last re-search's edit changed (`isl 4000 → 8000`).
    pub last_edit: Option<String>,
    /// Knob panel, pending write, undo/redo, sweep.
    pub tuning: super::tuning::Tuning,
    pub quit: bool,
}

impl App {
    pub fn new(file: impl Into<String>, size: (u16, u16), now: Instant) -> App {
        App {
            file: file.into(),
            size,
            focus: PaneId::Experiments,
            lower: PaneId::Candidates,
            zoom: false,
            sol_view: false,
            split_top: 40,
            split_left: 60,
            report: None,
            stale: false,
            error: None,
            generation: 0,
            shown_generation: 0,
            running: None,
            last_search: None,
            now,
            sel_exp: 0,
            exp_offset: 0,
            cand: CandState::default(),
            breakdown_scroll: 0,
            whynot_scroll: 0,
            baseline: None,
            help: false,
            help_scroll: 0,
            message: None,
            fetch: None,
            x_axis: XMetric::default(),
            y_axis: YMetric::default(),
            axis_fronts: Vec::new(),
            previous: None,
            previous_axis_fronts: Vec::new(),
            last_edit: None,
            tuning: Default::default(),
            quit: false,
        }
    }

    /// Whether the chart shows the reference's pair (tokens/s/user against
    /// tokens/s/gpu_cluster), whose fronts come with the report.
    pub fn default_axes(&self) -> bool {
        self.x_axis == XMetric::default() && self.y_axis == YMetric::default()
    }

    /// Recompute the fronts for the chosen axes over every feasible row (the
    /// explorer keeps them), falling back to the report's Pareto and top rows.
    pub fn refresh_axis_fronts(&mut self) {
        if self.default_axes() {
            self.axis_fronts.clear();
            self.previous_axis_fronts.clear();
            return;
        }
        let (x, y) = (self.x_axis, self.y_axis);
        let fronts = |exps: &[ExperimentReport]| -> Vec<Vec<Row>> {
            exps.iter()
                .map(|e| {
                    let pool: Vec<Row> = if e.feasible.is_empty() {
                        e.pareto.iter().chain(&e.top).cloned().collect()
                    } else {
                        e.feasible.clone()
                    };
                    front_by(&pool, x, y)
                })
                .collect()
        };
        self.axis_fronts = fronts(self.experiments());
        self.previous_axis_fronts = self
            .previous
            .as_ref()
            .map(|p| fronts(&p.experiments))
            .unwrap_or_default();
    }

    /// The previous results of experiment `name`, if any.
    pub fn previous_of(&self, name: &str) -> Option<&ExperimentReport> {
        self.previous
            .as_ref()
            .and_then(|p| p.experiments.iter().find(|e| e.name == name))
    }

    pub fn experiments(&self) -> &[ExperimentReport] {
        self.report
            .as_ref()
            .map(|r| r.experiments.as_slice())
            .unwrap_or(&[])
    }

    pub fn selected_experiment(&self) -> Option<&ExperimentReport> {
        self.experiments().get(self.sel_exp)
    }

    /// Rows of the selected experiment for the current view, before filter and sort.
    pub fn view_rows(&self) -> &[Row] {
        match self.selected_experiment() {
            None => &[],
            Some(e) => match self.cand.view {
                CandView::Top => &e.top,
                CandView::Pareto => &e.pareto,
                CandView::Feasible => &e.feasible,
            },
        }
    }

    /// The candidates table as drawn: `(rank in the view, row)`, filtered then sorted.
    pub fn candidates(&self) -> Vec<(usize, &Row)> {
        let needle = self.cand.filter.to_lowercase();
        let mut rows: Vec<(usize, &Row)> = self
            .view_rows()
            .iter()
            .enumerate()
            .filter(|(_, r)| needle.is_empty() || row_search_text(r).contains(&needle))
            .collect();
        let key = self.cand.sort;
        rows.sort_by(|a, b| {
            let o = compare_rows(key, a, b);
            if self.cand.descending {
                o.reverse()
            } else {
                o
            }
        });
        rows
    }

    pub fn selected_candidate(&self) -> Option<&Row> {
        self.candidates().get(self.cand.sel).map(|(_, r)| *r)
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The results came from built-in SOL specs, not the measured database.
    pub fn on_builtin_db(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.database.kind == "builtin")
    }

    /// Warnings shown for the selected experiment: its own, then the file's
    /// that concern no experiment in particular.
    pub fn selected_warnings(&self) -> Vec<&Warning> {
        let Some(e) = self.selected_experiment() else {
            return Vec::new();
        };
        let file_level = self
            .report
            .iter()
            .flat_map(|r| &r.warnings)
            .filter(|w| w.experiment.is_none());
        e.warnings.iter().chain(file_level).collect()
    }
}

/// What `/` matches against: the configuration text a user would type.
pub fn row_search_text(r: &Row) -> String {
    let mut s = String::new();
    if let Some(p) = &r.parallel {
        s.push_str(p);
        s.push(' ');
    }
    if let Some(bs) = r.bs {
        s.push_str(&format!("bs{bs} "));
    }
    for (tag, w) in [("p", &r.prefill), ("d", &r.decode)] {
        if let Some(w) = w {
            s.push_str(&format!(
                "{tag}:{} {}x{} bs{} {} ",
                w.parallel, w.workers, w.gpus_per_worker, w.bs, w.system
            ));
        }
    }
    s.push_str(&format!(
        "gpus{} {}",
        r.num_total_gpus,
        if r.sla_met { "sla-ok" } else { "sla-miss" }
    ));
    s.to_lowercase()
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Parallel label of a row, agg or disagg (`p:… d:…`), for sorting and display.
pub fn parallel_label(r: &Row) -> String {
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => format!("{}|{}", p.parallel, d.parallel),
        _ => r.parallel.clone().unwrap_or_default(),
    }
}

fn compare_rows(key: SortKey, a: &(usize, &Row), b: &(usize, &Row)) -> Ordering {
    let (ra, rb) = (a.1, b.1);
    let o = match key {
        SortKey::Rank => a.0.cmp(&b.0),
        SortKey::TokGpu => cmp_f64(ra.tokens_per_s_per_gpu, rb.tokens_per_s_per_gpu),
        SortKey::TokUser => cmp_f64(ra.tokens_per_s_per_user, rb.tokens_per_s_per_user),
        SortKey::Ttft => cmp_f64(ra.ttft_ms, rb.ttft_ms),
        SortKey::Tpot => cmp_f64(ra.tpot_ms, rb.tpot_ms),
        SortKey::Gpus => ra.num_total_gpus.cmp(&rb.num_total_gpus),
        SortKey::Replicas => ra.replicas.cmp(&rb.replicas),
        SortKey::Concurrency => cmp_f64(ra.concurrency, rb.concurrency),
        SortKey::Memory => cmp_f64(ra.memory_gib, rb.memory_gib),
        SortKey::Parallel => parallel_label(ra).cmp(&parallel_label(rb)),
        SortKey::Sla => ra.sla_met.cmp(&rb.sla_met),
    };
    // Ties keep the report's order so the table never shuffles between frames.
    o.then(a.0.cmp(&b.0))
}
