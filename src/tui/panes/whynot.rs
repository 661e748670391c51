//! Pane 6: the selected experiment's warnings (keys with no effect and the
//! like), then its rejected candidates, grouped by reason.

use super::{empty_text, pane_block, wrap_spans};
use crate::report::{Rejection, Warning};
use crate::tui::app::{App, PaneId};
use crate::tui::export::short_parallel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// `(reason, rejections)` groups, largest first, ties in first-seen order.
pub fn groups(rejected: &[Rejection]) -> Vec<(&str, Vec<&Rejection>)> {
    let mut g: Vec<(&str, Vec<&Rejection>)> = Vec::new();
    for r in rejected {
        match g.iter_mut().find(|(reason, _)| *reason == r.reason) {
            Some((_, v)) => v.push(r),
            None => g.push((&r.reason, vec![r])),
        }
    }
    g.sort_by_key(|x| std::cmp::Reverse(x.1.len()));
    g
}

/// One warning as pane lines, wrapped to `width` with a hanging indent. The
/// file and experiment of the printed text are left out: the pane is already
/// about the selected experiment of this file.
pub fn warning_lines(w: &Warning, width: usize) -> Vec<Line<'static>> {
    let yellow = Style::new().fg(Color::Yellow);
    let mut spans = vec![Span::styled("⚠ ", yellow.add_modifier(Modifier::BOLD))];
    if w.line > 0 {
        spans.push(Span::styled(format!("{}:{} ", w.line, w.col), yellow));
    }
    if w.experiment.is_none() {
        spans.push(Span::raw("file: "));
    }
    if !w.key_path.is_empty() {
        spans.push(Span::styled(
            format!("key '{}': ", w.key_path),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(w.message.clone()));
    wrap_spans(&spans, width, 4)
}

/// The pane's text at `width` columns (inside the borders).
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let Some(e) = app.selected_experiment() else {
        return vec![Line::from(empty_text(app))];
    };
    let mut out = Vec::new();
    if let Some(err) = &e.error {
        out.push(Line::from(Span::styled(
            format!("error: {err}"),
            Style::new().fg(Color::Red),
        )));
    }
    for w in app.selected_warnings() {
        out.extend(warning_lines(w, width));
    }
    if e.rejected.is_empty() {
        out.push(Line::from(format!("{}: nothing rejected", e.name)));
        return out;
    }
    for (reason, rs) in groups(&e.rejected) {
        out.push(Line::from(vec![
            Span::styled(
                format!("{:>3}x ", rs.len()),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                reason.to_string(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ]));
        let who: Vec<String> = rs
            .iter()
            .map(|r| format!("{} {}", r.role, short_parallel(&r.parallel)))
            .collect();
        out.push(Line::from(Span::styled(
            format!("     {}", who.join(", ")),
            Style::new().fg(Color::Gray),
        )));
    }
    out
}

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    let n = app
        .selected_experiment()
        .map(|e| e.rejected.len())
        .unwrap_or(0);
    let warned = app.selected_warnings().len();
    let title = if warned > 0 {
        Line::from(vec![
            Span::styled(format!(" ⚠ {warned}"), Style::new().fg(Color::Yellow)),
            Span::raw(format!(" · {n} rejected ")),
        ])
    } else {
        Line::from(format!(" {n} rejected "))
    };
    let block = pane_block(app, PaneId::WhyNot, title);
    let lines = lines(app, area.width.saturating_sub(2) as usize);
    let max_scroll = lines.len().saturating_sub(1) as u16;
    let p = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((app.whynot_scroll.min(max_scroll), 0));
    f.render_widget(p, area);
}
