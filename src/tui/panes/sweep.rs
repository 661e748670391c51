//! The sweep chart (`x`), in the Pareto pane's place while a sweep is shown:
//! each experiment's best tokens/s/gpu against the swept value, points drawn
//! as they arrive, the file's current value marked, and per experiment the
//! tokens/s/user of the best row at the current value and at the peak.

use super::{exp_color, fmt_f, pane_block};
use crate::report::Row;
use crate::sweep::{fmt_value, SweepPoint};
use crate::tui::app::{App, PaneId};
use crate::tui::tuning::{SweepState, SweepStatus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

fn best<'a>(p: &'a SweepPoint, exp: &str) -> Option<&'a Row> {
    p.experiments
        .iter()
        .find(|c| c.experiment == exp)
        .and_then(|c| c.best.as_ref())
}

/// Experiment names in the order the points list them.
fn names(s: &SweepState) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in &s.points {
        for c in &p.experiments {
            if !v.contains(&c.experiment) {
                v.push(c.experiment.clone());
            }
        }
    }
    v
}

fn status_text(s: &SweepState) -> String {
    let n = format!("{}/{}", s.points.len(), s.values.len());
    match &s.status {
        SweepStatus::Running => format!("running {n}"),
        SweepStatus::Done => format!("done {n}"),
        SweepStatus::Cancelled => format!("stopped at {n} (file changed)"),
        SweepStatus::Failed(_) => format!("failed at {n}"),
    }
}

pub fn render(app: &App, s: &SweepState, area: Rect, f: &mut Frame) {
    let key = s.key.name();
    // Left-aligned beside the pane's name: the knob panel covers the right.
    let hint = format!("sweep {key} · {} · Esc closes ", status_text(s));
    let block = pane_block(app, PaneId::Pareto, "").title_top(Line::from(Span::styled(
        hint,
        Style::new().fg(Color::Yellow),
    )));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let names = names(s);
    let footer_h = if inner.height >= 12 {
        names.len().min(4) as u16
    } else {
        0
    };
    let [chart_area, footer] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(footer_h)]).areas(inner);

    // Room permitting, the tokens/s/user of the same best rows under it.
    let charts: Vec<(Rect, Metric)> = if chart_area.height >= 14 {
        let [a, b] = Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(chart_area);
        vec![(a, Metric::TokGpu), (b, Metric::TokUser)]
    } else {
        vec![(chart_area, Metric::TokGpu)]
    };
    for (rect, metric) in charts {
        render_chart(s, &names, metric, rect, f);
    }
    if footer_h > 0 {
        let lines: Vec<Line> = names
            .iter()
            .enumerate()
            .take(footer_h as usize)
            .map(|(i, n)| footer_line(s, n, i))
            .collect();
        f.render_widget(Paragraph::new(lines), footer);
    }
}

#[derive(Clone, Copy)]
enum Metric {
    TokGpu,
    TokUser,
}

impl Metric {
    fn of(self, r: &Row) -> f64 {
        match self {
            Metric::TokGpu => r.tokens_per_s_per_gpu,
            Metric::TokUser => r.tokens_per_s_per_user,
        }
    }
    fn title(self) -> &'static str {
        match self {
            Metric::TokGpu => "best tok/s/gpu",
            Metric::TokUser => "tok/s/user of it",
        }
    }
}

/// One line per experiment of `metric` (of each value's best row) against
/// the swept value, with the current value as a vertical line.
fn render_chart(s: &SweepState, names: &[String], metric: Metric, area: Rect, f: &mut Frame) {
    // Points arrive as they finish, not in value order.
    let series: Vec<Vec<(f64, f64)>> = names
        .iter()
        .map(|n| {
            let mut pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| best(p, n).map(|r| (p.value, metric.of(r))))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts
        })
        .collect();
    let x_min = s.values.first().copied().unwrap_or(0.0);
    let x_max = s.values.last().copied().unwrap_or(1.0).max(x_min + 1.0);
    let y_max = series
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.1;
    let marker = vec![(s.current, 0.0), (s.current, y_max)];
    let mut datasets = vec![Dataset::default()
        .name(format!("now {}", fmt_value(s.key, s.current)))
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::DarkGray))
        .data(&marker)];
    for (i, (n, pts)) in names.iter().zip(&series).enumerate() {
        datasets.push(
            Dataset::default()
                .name(n.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(exp_color(i)))
                .data(pts),
        );
    }
    let label = |v: f64| Line::from(fmt_value(s.key, v));
    let legend = matches!(metric, Metric::TokGpu).then_some(LegendPosition::TopRight);
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title(s.key.name())
                .bounds([x_min, x_max])
                .labels(vec![
                    label(x_min),
                    label((x_min + x_max) / 2.0),
                    label(x_max),
                ]),
        )
        .y_axis(
            Axis::default()
                .title(metric.title())
                .bounds([0.0, y_max])
                .labels(vec![
                    Line::from("0"),
                    Line::from(fmt_f(y_max / 2.0)),
                    Line::from(fmt_f(y_max)),
                ]),
        )
        .legend_position(legend)
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    f.render_widget(chart, area);
}

/// `qwen_agg: now 444.0 tok/s/gpu @ 30.1 tok/s/user · peak 912.3 @ isl=1000 (41.0)`.
fn footer_line(s: &SweepState, name: &str, i: usize) -> Line<'static> {
    let at_now = s
        .points
        .iter()
        .find(|p| p.value == s.current)
        .and_then(|p| best(p, name));
    let peak = s
        .points
        .iter()
        .filter_map(|p| best(p, name).map(|r| (p.value, r)))
        .max_by(|a, b| {
            a.1.tokens_per_s_per_gpu
                .total_cmp(&b.1.tokens_per_s_per_gpu)
        });
    let mut text = String::new();
    if let Some(r) = at_now {
        text.push_str(&format!(
            "now {} tok/s/gpu @ {} tok/s/user",
            fmt_f(r.tokens_per_s_per_gpu),
            fmt_f(r.tokens_per_s_per_user)
        ));
    }
    if let Some((v, r)) = peak {
        if !text.is_empty() {
            text.push_str(" · ");
        }
        text.push_str(&format!(
            "peak {} @ {}={} ({} tok/s/user)",
            fmt_f(r.tokens_per_s_per_gpu),
            s.key.name(),
            fmt_value(s.key, v),
            fmt_f(r.tokens_per_s_per_user)
        ));
    }
    if text.is_empty() {
        text.push_str("no feasible row yet");
    }
    Line::from(vec![
        Span::styled(format!("{name}: "), Style::new().fg(exp_color(i))),
        Span::raw(text),
    ])
}
