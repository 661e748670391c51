//! Pane 6: the selected experiment's rejected candidates, grouped by reason.

use super::{empty_text, pane_block};
use crate::report::Rejection;
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

pub fn lines(app: &App) -> Vec<Line<'static>> {
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
    let block = pane_block(app, PaneId::WhyNot, format!(" {n} rejected "));
    let lines = lines(app);
    let max_scroll = lines.len().saturating_sub(1) as u16;
    let p = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((app.whynot_scroll.min(max_scroll), 0));
    f.render_widget(p, area);
}
