//! Where every pane goes, as a pure function of the terminal size and the state.
//! Both rendering and mouse hit-testing call it, so a click always lands on what is drawn.

use super::app::{App, PaneId};
use ratatui::layout::{Constraint, Layout, Rect};

/// Below this the layout shows one lower pane at a time (the focused one).
pub const WIDE_MIN_W: u16 = 120;
pub const WIDE_MIN_H: u16 = 34;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Screen {
    pub status: Rect,
    /// The load-error banner, when the file is broken.
    pub error: Option<Rect>,
    /// The database banner: built-in data in use, a fetch under way or failed.
    pub db_banner: Option<Rect>,
    pub panes: Vec<(PaneId, Rect)>,
    /// Whether the lower slot is shared by tabs (compact layout).
    pub compact: bool,
}

impl Screen {
    pub fn rect(&self, id: PaneId) -> Option<Rect> {
        self.panes.iter().find(|(p, _)| *p == id).map(|(_, r)| *r)
    }
    pub fn hit(&self, x: u16, y: u16) -> Option<(PaneId, Rect)> {
        self.panes
            .iter()
            .find(|(_, r)| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)
            .copied()
    }
}

/// Lines the error banner wants at `width` (borders included), before clamping.
pub fn error_height(app: &App, width: u16) -> u16 {
    let Some(err) = &app.error else {
        return 0;
    };
    let inner = width.saturating_sub(2).max(1) as usize;
    let lines = super::panes::status::error_lines(err, &app.file);
    if lines.is_empty() {
        return 0;
    }
    // Wrapped height: each line takes ceil(width / inner) rows.
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    (rows + 2) as u16
}

/// Rows the database banner wants at `width`: wrapped text, plus borders when boxed.
pub fn db_banner_height(app: &App, width: u16) -> u16 {
    let Some((lines, boxed)) = super::panes::status::db_banner(app) else {
        return 0;
    };
    let inner = if boxed {
        width.saturating_sub(2)
    } else {
        width
    }
    .max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    (rows + if boxed { 2 } else { 0 }) as u16
}

pub fn compute(area: Rect, app: &App) -> Screen {
    let mut s = Screen::default();
    if area.width == 0 || area.height == 0 {
        return s;
    }
    let [body, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    s.status = status;
    // The banner never takes more than a third of the body, so results stay visible.
    let eh = error_height(app, body.width).min(body.height / 3);
    let body = if eh > 0 {
        let [e, b] =
            Layout::vertical([Constraint::Length(eh), Constraint::Min(0)]).areas::<2>(body);
        s.error = Some(e);
        b
    } else {
        body
    };
    // Same cap for the database banner, out of what the error banner left.
    let dh = db_banner_height(app, body.width).min(body.height / 3);
    let body = if dh > 0 {
        let [d, b] =
            Layout::vertical([Constraint::Length(dh), Constraint::Min(0)]).areas::<2>(body);
        s.db_banner = Some(d);
        b
    } else {
        body
    };
    if app.zoom {
        s.panes.push((app.focus, body));
        return s;
    }
    let compact = body.width < WIDE_MIN_W || body.height + 1 < WIDE_MIN_H;
    s.compact = compact;
    let top_pct = app.split_top.clamp(20, 80);
    let [top, bottom] = Layout::vertical([
        Constraint::Percentage(top_pct),
        Constraint::Percentage(100 - top_pct),
    ])
    .areas(body);
    // The experiments list only needs a name column; the chart gets the rest.
    let exp_w = if compact { 36 } else { 46 }.min(top.width / 2);
    let [exps, pareto] =
        Layout::horizontal([Constraint::Length(exp_w), Constraint::Min(0)]).areas(top);
    s.panes.push((PaneId::Experiments, exps));
    s.panes.push((PaneId::Pareto, pareto));
    if compact {
        s.panes.push((app.lower, bottom));
        return s;
    }
    let left_pct = app.split_left.clamp(25, 75);
    let [left, right] = Layout::horizontal([
        Constraint::Percentage(left_pct),
        Constraint::Percentage(100 - left_pct),
    ])
    .areas(bottom);
    // Compare needs one row per experiment; Breakdown gets the full height on the right
    // because a disagg candidate has two steps and two memory pools to show.
    let compare_h = (app.experiments().len() as u16 + 3).clamp(5, 10);
    let [cands, compare, whynot] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(compare_h),
        Constraint::Percentage(25),
    ])
    .areas(left);
    s.panes.push((PaneId::Candidates, cands));
    s.panes.push((PaneId::Breakdown, right));
    s.panes.push((PaneId::Compare, compare));
    s.panes.push((PaneId::WhyNot, whynot));
    s
}

/// Rows of data a table pane can show (borders and header removed).
pub fn table_rows(rect: Rect) -> usize {
    rect.height.saturating_sub(3) as usize
}

/// Rows of a bordered list without header.
pub fn list_rows(rect: Rect) -> usize {
    rect.height.saturating_sub(2) as usize
}

/// Keep `sel` inside the window `[offset, offset + visible)`, moving the window minimally.
pub fn ensure_visible(sel: usize, offset: usize, visible: usize) -> usize {
    if visible == 0 {
        return sel;
    }
    if sel < offset {
        sel
    } else if sel >= offset + visible {
        sel + 1 - visible
    } else {
        offset
    }
}
