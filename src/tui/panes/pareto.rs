//! Pane 2: the Pareto front of every experiment — tokens/s/gpu_cluster against
//! tokens/s/user by default, or the axes chosen with `a` / `A` — the SLA target
//! on the x axis as a vertical line, the selected candidate highlighted, SLA
//! misses dimmed.

use super::{empty_text, exp_color, fmt_f, fmt_target, pane_block};
use crate::report::Row;
use crate::search::front::XMetric;
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

/// (x, y) points on the chosen axes.
type Points = Vec<(f64, f64)>;

fn point(app: &App, r: &Row) -> (f64, f64) {
    (app.x_axis.value(r), app.y_axis.value(r))
}

/// Points of one experiment's front rows, split into SLA met and missed.
fn points(app: &App, rows: &[Row]) -> (Points, Points) {
    let mut ok = Vec::new();
    let mut miss = Vec::new();
    for r in rows {
        let p = point(app, r);
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
    let y_title = if area.width >= 70 || !app.default_axes() {
        app.y_axis.title()
    } else {
        "tok/s/gpu"
    };
    let hint = format!(" y {y_title} · x {} ", app.x_axis.title());
    let hint = hint.as_str();
    let block = pane_block(app, PaneId::Pareto, hint);
    // Points of experiments still being searched, streamed before the search ends.
    let streamed: Vec<(String, Vec<(f64, f64)>)> = app
        .running
        .as_ref()
        .map(|r| {
            r.streamed
                .iter()
                .map(|(n, rows)| (n.clone(), points(app, rows).0))
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
        let rows = match app.axis_fronts.get(i) {
            Some(front) if !app.default_axes() => front,
            _ if e.pareto.is_empty() => &e.top,
            _ => &e.pareto,
        };
        let (ok, miss) = points(app, rows);
        series.push((i, ok, miss));
    }
    // The previous generation's fronts, dimmed, until the next re-search.
    let ghosts: Vec<Points> = match &app.previous {
        Some(prev) => prev
            .experiments
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let rows = match app.previous_axis_fronts.get(i) {
                    Some(front) if !app.default_axes() => front.as_slice(),
                    _ if e.pareto.is_empty() => e.top.as_slice(),
                    _ => e.pareto.as_slice(),
                };
                let (ok, miss) = points(app, rows);
                ok.into_iter().chain(miss).collect()
            })
            .filter(|p: &Points| !p.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let selected: Vec<(f64, f64)> = app
        .selected_candidate()
        .map(|r| vec![point(app, r)])
        .unwrap_or_default();
    // The SLA target that lives on the x axis, if any: one vertical line per
    // distinct value (usually one for the whole file).
    // The target is named by its value (TPOT ms, or TTFT ms); `line_x` below
    // places it on the axis (tokens/s/user is 1000 / TPOT).
    let target_name = match app.x_axis {
        XMetric::Ttft => "TTFT",
        _ => "TPOT",
    };
    let mut tpots: Vec<f64> = exps
        .iter()
        .filter_map(|e| match app.x_axis {
            XMetric::TokensPerUser | XMetric::Tpot => Some(e.tpot),
            XMetric::Ttft => Some(e.ttft),
            _ => None,
        })
        .filter(|t| *t > 0.0 && t.is_finite())
        .collect();
    tpots.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    tpots.dedup();

    let all = series
        .iter()
        .flat_map(|(_, a, b)| a.iter().chain(b.iter()))
        .chain(streamed.iter().flat_map(|(_, p)| p.iter()))
        .chain(ghosts.iter().flatten())
        .chain(selected.iter());
    let (mut max_x, mut max_y) = (0.0f64, 0.0f64);
    for (x, y) in all {
        max_x = max_x.max(*x);
        max_y = max_y.max(*y);
    }
    let line_x = |t: f64| {
        if app.x_axis == XMetric::TokensPerUser {
            1000.0 / t
        } else {
            t
        }
    };
    for t in &tpots {
        max_x = max_x.max(line_x(*t));
    }
    // Headroom so the extreme points do not sit on the frame.
    let max_x = if max_x > 0.0 { max_x * 1.08 } else { 1.0 };
    let max_y = if max_y > 0.0 { max_y * 1.1 } else { 1.0 };
    let tpot_lines: Vec<(f64, [(f64, f64); 2])> = tpots
        .iter()
        .map(|t| (*t, [(line_x(*t), 0.0), (line_x(*t), max_y)]))
        .collect();

    let mut datasets = Vec::new();
    for (t, line) in &tpot_lines {
        datasets.push(
            Dataset::default()
                .name(format!("{target_name} {}ms", fmt_target(*t)))
                .graph_type(GraphType::Line)
                .marker(Marker::Braille)
                .style(Style::new().fg(Color::Red))
                .data(line),
        );
    }
    for (k, g) in ghosts.iter().enumerate() {
        let mut d = Dataset::default()
            .marker(Marker::Braille)
            .style(Style::new().fg(Color::DarkGray))
            .data(g);
        if k == 0 {
            d = d.name("previous");
        }
        datasets.push(d);
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
