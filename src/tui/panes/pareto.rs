//! Pane 2: tokens/s/gpu_cluster against tokens/s/user for every experiment, the TPOT
//! target as a vertical line, the selected candidate highlighted, SLA misses dimmed.

use super::{empty_text, exp_color, fmt_f, fmt_target, pane_block};
use crate::report::Row;
use crate::tui::app::{App, PaneId};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

/// Marker per experiment, cycled with the colours so overlays stay tellable apart
/// even without colour.
const MARKERS: [Marker; 4] = [
    Marker::Dot,
    Marker::Braille,
    Marker::Block,
    Marker::HalfBlock,
];

/// (tokens/s/user, tokens/s/gpu) points.
type Points = Vec<(f64, f64)>;

/// Points of one experiment: the Pareto rows, or the top rows when no front was kept.
fn points(rows: &[Row]) -> (Points, Points) {
    let mut ok = Vec::new();
    let mut miss = Vec::new();
    for r in rows {
        let p = (r.tokens_per_s_per_user, r.tokens_per_s_per_gpu_cluster);
        if !(p.0.is_finite() && p.1.is_finite()) {
            continue;
        }
        if r.sla_met {
            ok.push(p);
        } else {
            miss.push(p);
        }
    }
    (ok, miss)
}

fn axis_labels(max: f64) -> Vec<Line<'static>> {
    vec![
        Line::from("0"),
        Line::from(fmt_f(max / 2.0)),
        Line::from(fmt_f(max)),
    ]
}

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    let exps = app.experiments();
    let hint = if area.width >= 70 {
        " y tok/s/gpu_cluster · x tok/s/user "
    } else {
        " y tok/s/gpu · x tok/s/user "
    };
    let block = pane_block(app, PaneId::Pareto, hint);
    // Points of experiments still being searched, streamed before the search ends.
    let streamed: Vec<(String, Vec<(f64, f64)>)> = app
        .running
        .as_ref()
        .map(|r| {
            r.streamed
                .iter()
                .map(|(n, rows)| (n.clone(), points(rows).0))
                .filter(|(_, p)| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if exps.is_empty() && streamed.is_empty() {
        f.render_widget(Paragraph::new(empty_text(app)).block(block), area);
        return;
    }
    let mut series: Vec<(usize, Points, Points)> = Vec::new();
    for (i, e) in exps.iter().enumerate() {
        let rows = if e.pareto.is_empty() {
            &e.top
        } else {
            &e.pareto
        };
        let (ok, miss) = points(rows);
        series.push((i, ok, miss));
    }
    let selected: Vec<(f64, f64)> = app
        .selected_candidate()
        .map(|r| vec![(r.tokens_per_s_per_user, r.tokens_per_s_per_gpu_cluster)])
        .unwrap_or_default();
    // Distinct TPOT targets: one vertical line each (usually one for the whole file).
    let mut tpots: Vec<f64> = exps
        .iter()
        .map(|e| e.tpot)
        .filter(|t| *t > 0.0 && t.is_finite())
        .collect();
    tpots.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    tpots.dedup();

    let all = series
        .iter()
        .flat_map(|(_, a, b)| a.iter().chain(b.iter()))
        .chain(streamed.iter().flat_map(|(_, p)| p.iter()))
        .chain(selected.iter());
    let (mut max_x, mut max_y) = (0.0f64, 0.0f64);
    for (x, y) in all {
        max_x = max_x.max(*x);
        max_y = max_y.max(*y);
    }
    for t in &tpots {
        max_x = max_x.max(1000.0 / t);
    }
    // Headroom so the extreme points do not sit on the frame.
    let max_x = if max_x > 0.0 { max_x * 1.08 } else { 1.0 };
    let max_y = if max_y > 0.0 { max_y * 1.1 } else { 1.0 };
    let tpot_lines: Vec<(f64, [(f64, f64); 2])> = tpots
        .iter()
        .map(|t| (*t, [(1000.0 / t, 0.0), (1000.0 / t, max_y)]))
        .collect();

    let mut datasets = Vec::new();
    for (t, line) in &tpot_lines {
        datasets.push(
            Dataset::default()
                .name(format!("TPOT {}ms", fmt_target(*t)))
                .graph_type(GraphType::Line)
                .marker(Marker::Braille)
                .style(Style::new().fg(Color::Red))
                .data(line),
        );
    }
    // Dimmed misses first so the feasible points draw on top of them.
    for (i, _, miss) in &series {
        if !miss.is_empty() {
            datasets.push(
                Dataset::default()
                    .marker(MARKERS[i % MARKERS.len()])
                    .style(Style::new().fg(Color::DarkGray))
                    .data(miss),
            );
        }
    }
    for (i, ok, _) in &series {
        let e = &exps[*i];
        let mut style = Style::new().fg(exp_color(*i));
        if *i == app.sel_exp {
            style = style.add_modifier(Modifier::BOLD);
        }
        datasets.push(
            Dataset::default()
                .name(e.name.clone())
                .marker(MARKERS[i % MARKERS.len()])
                .style(style)
                .data(ok),
        );
    }
    for (name, pts) in &streamed {
        datasets.push(
            Dataset::default()
                .name(format!("{name} (searching)"))
                .marker(Marker::Dot)
                .style(Style::new().fg(Color::Yellow))
                .data(pts),
        );
    }
    if !selected.is_empty() {
        datasets.push(
            Dataset::default()
                .name("selected")
                .marker(Marker::Block)
                .style(Style::new().fg(Color::White).add_modifier(Modifier::BOLD))
                .data(&selected),
        );
    }
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([0.0, max_x])
                .labels(axis_labels(max_x))
                .style(Style::new().fg(Color::Gray)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, max_y])
                .labels(axis_labels(max_y))
                .style(Style::new().fg(Color::Gray)),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(70)));
    f.render_widget(chart, area);
}
