//! Pane 1: every experiment with its status, best tokens/s/gpu and search time.

use super::{empty_text, exp_color, fmt_f, pane_block, truncate};
use crate::report::diff::{change_pct, signed_pct};
use crate::report::Status;
use crate::tui::app::{App, PaneId};
use crate::tui::layout::{ensure_visible, list_rows};
use crate::tune::sizing::{sized_best, target_label};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    // Column hint only where it does not collide with the title.
    let target = app.tuning.target;
    let hint = match target {
        Some(t) if area.width >= 44 => {
            format!(" best tok/s/gpu · GPUs for {} ", target_label(t))
        }
        None if area.width >= 44 => " best tok/s/gpu · time ".to_string(),
        _ => String::new(),
    };
    let block = pane_block(app, PaneId::Experiments, hint);
    let exps = app.experiments();
    if exps.is_empty() {
        f.render_widget(Paragraph::new(empty_text(app)).block(block), area);
        return;
    }
    let inner_w = area.width.saturating_sub(2) as usize;
    // marker 1, status 4, best 8, delta (after an edit) 5, time 6, gaps: the
    // name gets what is left.
    let delta_w = if app.previous.is_some() { 5 } else { 0 };
    let name_w = inner_w
        .saturating_sub(1 + 4 + 8 + delta_w + 6 + 4 + usize::from(delta_w > 0))
        .max(4);
    let visible = list_rows(area);
    let offset = ensure_visible(app.sel_exp, app.exp_offset.min(app.sel_exp), visible);
    let rows: Vec<Row> = exps
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible.max(1))
        .map(|(i, e)| {
            let (status, st) = match e.status {
                Status::Ok => ("ok", Style::new().fg(Color::Green)),
                Status::NoResult => ("none", Style::new().fg(Color::Yellow)),
                Status::Error => ("err", Style::new().fg(Color::Red)),
            };
            let best = e
                .best
                .as_ref()
                .map(|r| fmt_f(r.tokens_per_s_per_gpu))
                .unwrap_or_else(|| "-".into());
            // How the best moved with the last edit.
            let delta = app
                .previous_of(&e.name)
                .and_then(|p| p.best.as_ref())
                .zip(e.best.as_ref())
                .and_then(|(p, r)| change_pct(p.tokens_per_s_per_gpu, r.tokens_per_s_per_gpu))
                .filter(|d| d.abs() >= 0.05)
                .map(|d| {
                    Span::styled(
                        signed_pct(d),
                        Style::new().fg(if d < 0.0 { Color::Red } else { Color::Green }),
                    )
                })
                .unwrap_or_else(|| Span::raw(""));
            // With a target load, the GPUs to serve it take the time's place.
            let secs = match target {
                Some(t) => {
                    sized_best(e, t).map_or("-".to_string(), |r| r.total_gpus_used.to_string())
                }
                None => format!("{:.1}s", e.elapsed_ms / 1000.0),
            };
            // Warnings (keys with no effect, …) get a marker after the name;
            // the Why-not pane lists them.
            let marker = if e.warnings.is_empty() {
                String::new()
            } else {
                format!(" ⚠{}", e.warnings.len())
            };
            let short = truncate(
                &e.name,
                name_w.saturating_sub(marker.chars().count()).max(3),
            );
            let name = Line::from(vec![
                Span::raw(short),
                Span::styled(marker, Style::new().fg(Color::Yellow)),
            ]);
            let mut row = Row::new(vec![
                Cell::from(Span::styled("■", Style::new().fg(exp_color(i)))),
                Cell::from(name),
                Cell::from(Span::styled(status, st)),
                Cell::from(Line::from(best).right_aligned()),
                Cell::from(Line::from(delta).right_aligned()),
                Cell::from(Line::from(secs).right_aligned()),
            ]);
            if i == app.sel_exp {
                row = row.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            row
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(delta_w as u16),
        Constraint::Length(6),
    ];
    let t = Table::new(rows, widths).block(block).column_spacing(1);
    f.render_widget(t, area);
}
