//! Pane 5: each experiment's best configuration side by side, with deltas against a
//! baseline experiment (`b` picks it; default the first with a result).

use super::{config_label, empty_text, exp_color, fmt_f, pane_block, truncate};
use crate::report::diff::{change_pct, signed_pct};
use crate::report::{ExperimentReport, Row};
use crate::tui::app::{App, PaneId};
use crate::tune::sizing::sized_best;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table};
use ratatui::Frame;

/// The baseline experiment: the chosen one if it still exists and has a result.
pub fn baseline(app: &App) -> Option<&ExperimentReport> {
    let exps = app.experiments();
    app.baseline
        .as_ref()
        .and_then(|n| exps.iter().find(|e| &e.name == n && e.best.is_some()))
        .or_else(|| exps.iter().find(|e| e.best.is_some()))
}

/// `+12.3%` relative to the baseline (display only).
fn delta(v: f64, base: f64) -> String {
    if base.abs() < f64::EPSILON || !v.is_finite() || !base.is_finite() {
        return String::new();
    }
    format!("{:+.1}%", (v / base - 1.0) * 100.0)
}

fn with_delta(v: f64, base: Option<f64>, is_base: bool) -> String {
    match base {
        Some(b) if !is_base => format!("{} {}", fmt_f(v), delta(v, b)),
        _ => fmt_f(v),
    }
}

/// A best value against the previous generation: `was 861.2 −52%`.
fn was(before: Option<f64>, now: f64) -> Line<'static> {
    let text = match before {
        Some(b) if fmt_f(b) == fmt_f(now) => "unchanged".to_string(),
        Some(b) => match change_pct(b, now) {
            Some(p) => format!("was {} {}", fmt_f(b), signed_pct(p)),
            None => format!("was {}", fmt_f(b)),
        },
        None => "new".to_string(),
    };
    Line::from(Span::styled(text, Style::new().fg(Color::DarkGray)))
}

/// `48 = 6×8`: replicas × GPUs per replica for the target load.
fn sized_cell(r: Option<&Row>) -> String {
    match r {
        None => "none meets SLA".into(),
        Some(r) => format!(
            "{} = {}×{}",
            r.total_gpus_used, r.replicas, r.num_total_gpus
        ),
    }
}

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    let base = baseline(app);
    let mut extra = base
        .map(|b| format!(" baseline {} ", b.name))
        .unwrap_or_default();
    if let Some(t) = app.tuning.target {
        extra.push_str(&format!(
            "· ranked by GPUs for {} ",
            crate::tune::sizing::target_label(t)
        ));
    }
    let block = pane_block(app, PaneId::Compare, extra);
    let exps = app.experiments();
    if exps.is_empty() {
        f.render_widget(Paragraph::new(empty_text(app)).block(block), area);
        return;
    }
    let base_row: Option<&Row> = base.and_then(|b| b.best.as_ref());
    // With a target load: each experiment's GPUs to serve it, fewest first.
    let target = app.tuning.target;
    let sized: Vec<Option<Row>> = exps
        .iter()
        .map(|e| target.and_then(|t| sized_best(e, t)))
        .collect();
    let mut order: Vec<usize> = (0..exps.len()).collect();
    if target.is_some() {
        order.sort_by_key(|&i| sized[i].as_ref().map_or(u32::MAX, |r| r.total_gpus_used));
    }
    let mut heads = vec![
        "experiment",
        "best config",
        "tok/s/gpu",
        "tok/s/user",
        "TTFT",
        "TPOT",
    ];
    // The best row's own GPUs and replicas, or the deployment for the load.
    if target.is_some() {
        heads.push("GPUs for load");
    } else {
        heads.extend(["GPUs", "repl"]);
    }
    let header = TRow::new(
        heads
            .into_iter()
            .map(|h| Cell::from(h).style(Style::new().add_modifier(Modifier::BOLD))),
    );
    let rows: Vec<TRow> = order
        .iter()
        .map(|&i| (i, &exps[i]))
        .map(|(i, e)| {
            let is_base = base.is_some_and(|b| b.name == e.name);
            let name = Line::from(vec![
                Span::styled("■ ", Style::new().fg(exp_color(i))),
                Span::raw(format!(
                    "{}{}",
                    if is_base { "*" } else { "" },
                    truncate(&e.name, 18)
                )),
            ]);
            let mut row = match &e.best {
                None => TRow::new(vec![
                    Cell::from(name),
                    Cell::from(Span::styled(
                        e.error.clone().unwrap_or_else(|| "no result".into()),
                        Style::new().fg(Color::DarkGray),
                    )),
                ]),
                Some(r) => {
                    // After an edit, a second line says where each best was before it.
                    let prev = app
                        .previous
                        .is_some()
                        .then(|| app.previous_of(&e.name).and_then(|p| p.best.as_ref()));
                    let cell = |now: f64, base: Option<f64>, get: fn(&Row) -> f64| {
                        let mut lines = vec![Line::from(with_delta(now, base, is_base))];
                        if let Some(p) = prev {
                            lines.push(was(p.map(get), now));
                        }
                        Cell::from(Text::from(lines))
                    };
                    TRow::new(
                        vec![
                            Cell::from(name),
                            Cell::from(config_label(r)),
                            cell(
                                r.tokens_per_s_per_gpu,
                                base_row.map(|b| b.tokens_per_s_per_gpu),
                                |x| x.tokens_per_s_per_gpu,
                            ),
                            cell(
                                r.tokens_per_s_per_user,
                                base_row.map(|b| b.tokens_per_s_per_user),
                                |x| x.tokens_per_s_per_user,
                            ),
                            Cell::from(fmt_f(r.ttft_ms)),
                            Cell::from(fmt_f(r.tpot_ms)),
                        ]
                        .into_iter()
                        .chain(match target {
                            Some(_) => vec![Cell::from(sized_cell(sized[i].as_ref()))],
                            None => vec![
                                Cell::from(r.total_gpus_used.to_string()),
                                Cell::from(r.replicas.to_string()),
                            ],
                        })
                        .collect::<Vec<_>>(),
                    )
                    .height(if prev.is_some() { 2 } else { 1 })
                }
            };
            if i == app.sel_exp && app.focus == PaneId::Compare {
                row = row.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            row
        })
        .collect();
    let cfg_w = exps
        .iter()
        .filter_map(|e| e.best.as_ref().map(|r| config_label(r).chars().count()))
        .max()
        .unwrap_or(11)
        .max(11) as u16;
    let widths = [
        Constraint::Length(21),
        Constraint::Length(cfg_w),
        Constraint::Length(16),
        Constraint::Length(14),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    let widths: Vec<Constraint> = widths
        .into_iter()
        .chain(match target {
            Some(_) => vec![Constraint::Length(16)],
            None => vec![Constraint::Length(4), Constraint::Length(4)],
        })
        .collect();
    let t = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(block);
    f.render_widget(t, area);
}
