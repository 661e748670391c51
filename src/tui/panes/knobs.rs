//! The knob panel (`w`): one experiment's most-tuned fields, drawn over the
//! right side of the body so the chart and the results stay in view.

use crate::tui::app::App;
use crate::tui::tuning::PendingWrite;
use crate::tune::{Knob, KnobKind, KnobValue};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// Room for the widest value (a list of seven candidates).
const VALUE_W: usize = 28;

/// Where the panel goes: the right side of `body`, full height.
pub fn area(body: Rect) -> Rect {
    let w = if body.width >= 120 { 62 } else { 56 }.min(body.width);
    Rect::new(body.x + body.width - w, body.y, w, body.height)
}

pub fn render(app: &App, body: Rect, f: &mut Frame) {
    let Some(panel) = &app.tuning.panel else {
        return;
    };
    let Some(exp) = app
        .experiments()
        .iter()
        .find(|e| e.name == panel.experiment)
    else {
        return;
    };
    let knobs = app.tuning.knobs_of(exp);
    // The target load follows the file's knobs.
    let sel = panel.sel.min(knobs.len());
    let pending = app
        .tuning
        .pending
        .as_ref()
        .filter(|p| p.experiment == exp.name);
    let rect = area(body);
    let inner_h = rect.height.saturating_sub(3) as usize;
    let label_w = (rect.width as usize)
        .saturating_sub(VALUE_W + 3)
        .clamp(8, 27);
    // Keep the selected field in view on short screens.
    let first = (sel + 1).saturating_sub(inner_h);
    let target = target_line(app, label_w, sel == knobs.len());
    let mut lines: Vec<Line> = knobs
        .iter()
        .enumerate()
        .map(|(i, k)| knob_line(k, label_w, i == sel, panel.cursor, pending))
        .chain(std::iter::once(target))
        .skip(first)
        .take(inner_h)
        .collect();
    let footer = match &panel.typing {
        Some(t) => Line::from(vec![
            Span::styled(
                format!(
                    " {} = ",
                    knobs.get(sel).map_or(TARGET_LABEL, |k| k.label.as_str())
                ),
                Style::new().fg(Color::Yellow),
            ),
            Span::raw(format!("{t}▏")),
            Span::styled(
                "  Enter writes · Esc cancels",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        None => Line::from(Span::styled(
            " +/- step · ←/→ · Enter type · x sweep · u undo",
            Style::new().fg(Color::DarkGray),
        )),
    };
    while lines.len() < inner_h {
        lines.push(Line::from(""));
    }
    lines.push(footer);
    let title = format!(" knobs: {} (Esc closes) ", exp.name);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title_top(Span::styled(
                    title,
                    Style::new().add_modifier(Modifier::BOLD),
                ))
                .border_style(Style::new().fg(Color::Yellow)),
        ),
        rect,
    );
}

const TARGET_LABEL: &str = "target load";

/// The explorer's own field: the load the panes size deployments for.
fn target_line(app: &App, label_w: usize, selected: bool) -> Line<'static> {
    let mark = if selected { "›" } else { " " };
    let label_style = if selected {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let value = app
        .tuning
        .target
        .map_or("off".to_string(), crate::tune::sizing::target_label);
    Line::from(vec![
        Span::styled(mark, Style::new().fg(Color::Yellow)),
        Span::styled(format!("{TARGET_LABEL:<label_w$}"), label_style),
        Span::styled(value, Style::new().fg(Color::Magenta)),
        Span::styled("  (not in file)", Style::new().fg(Color::DarkGray)),
    ])
}

fn knob_line<'a>(
    k: &'a Knob,
    label_w: usize,
    selected: bool,
    cursor: usize,
    pending: Option<&PendingWrite>,
) -> Line<'a> {
    let mark = if selected { "›" } else { " " };
    let label_style = if selected {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let mut spans = vec![
        Span::styled(mark, Style::new().fg(Color::Yellow)),
        Span::styled(
            format!(
                "{:<w$}",
                super::truncate(&k.label, label_w - 1),
                w = label_w
            ),
            label_style,
        ),
    ];
    let is_pending = pending.is_some_and(|p| p.knob.key == k.key);
    let value_style = if is_pending {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::Cyan)
    };
    match (&k.kind, &k.value) {
        (KnobKind::List { candidates }, KnobValue::List(on)) => {
            for (i, c) in candidates.iter().enumerate() {
                let is_on = on.contains(c);
                let text = if is_on {
                    format!("[{c}]")
                } else {
                    format!(" {c} ")
                };
                let mut st = if is_on {
                    value_style
                } else {
                    Style::new().fg(Color::DarkGray)
                };
                if selected && i == cursor {
                    st = st.add_modifier(Modifier::REVERSED);
                }
                spans.push(Span::styled(text, st));
            }
        }
        (KnobKind::Sla, v) => spans.push(Span::styled(format!("{v} ms"), value_style)),
        (_, v) => spans.push(Span::styled(v.to_string(), value_style)),
    }
    if let Some(p) = pending.filter(|_| is_pending) {
        let what = if p.due.is_some() { "…" } else { " ✎" };
        spans.push(Span::styled(what, Style::new().fg(Color::Yellow)));
    }
    Line::from(spans)
}
