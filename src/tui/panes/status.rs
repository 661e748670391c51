//! Status bar, load-error banner, help popup.

use super::truncate;
use crate::system::fetch::FetchProgress;
use crate::tui::action::SearchFailure;
use crate::tui::app::{App, FetchState};
use crate::tui::fetcher::MANUAL_COMMAND;
use crate::tui::keymap::{self, Command};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, LineGauge, Paragraph, Wrap};
use ratatui::Frame;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// `SILICON` when every experiment agrees, else the distinct modes joined.
fn db_modes(app: &App) -> String {
    let mut modes: Vec<&str> = app
        .experiments()
        .iter()
        .map(|e| e.database_mode.as_str())
        .collect();
    modes.sort_unstable();
    modes.dedup();
    if modes.is_empty() {
        "-".into()
    } else {
        modes.join("+")
    }
}

pub fn render_status(app: &App, area: Rect, f: &mut Frame) {
    let dim = Style::new().fg(Color::DarkGray);
    let mut spans = vec![
        Span::styled(" xpyd ", Style::new().fg(Color::Black).bg(Color::Cyan)),
        Span::raw(" "),
        Span::styled(
            truncate(&app.file, 28),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(" │ ", dim),
        Span::raw(format!("gen {}", app.shown_generation)),
    ];
    if app.generation != app.shown_generation && app.running.is_none() {
        spans.push(Span::styled(format!("(latest {})", app.generation), dim));
    }
    // Stale results are the most important thing to say, so they come first.
    if app.stale {
        spans.push(Span::styled(" │ ", dim));
        spans.push(Span::styled(
            "STALE",
            Style::new().fg(Color::White).bg(Color::Red),
        ));
    }
    // Then feedback on what the user just did (export path, editor errors).
    if let Some(m) = &app.message {
        spans.push(Span::styled(" │ ", dim));
        spans.push(Span::styled(m.clone(), Style::new().fg(Color::Yellow)));
    }
    // Then what the last re-search changed: it is why the screen moved.
    if let Some(edit) = &app.last_edit {
        // Whether the explorer made it (a knob, undo, redo) or another editor.
        let source = app
            .tuning
            .edit_source
            .unwrap_or(crate::tui::tuning::EditSource::Editor);
        spans.push(Span::styled(" │ ", dim));
        spans.push(Span::styled(
            format!("edit: {} ({})", truncate(edit, 40), source.label()),
            Style::new().fg(Color::Cyan),
        ));
    }
    if let Some(r) = &app.report {
        spans.push(Span::styled(" │ ", dim));
        spans.push(Span::raw(format!(
            "db {} {} ({})",
            db_modes(app),
            r.database.kind,
            truncate(&r.database.source, 24)
        )));
    }
    if let Some(d) = app.last_search {
        spans.push(Span::styled(" │ ", dim));
        spans.push(Span::raw(format!("searched in {:.2}s", d.as_secs_f64())));
    }
    let help = Span::styled(" ? help ", dim);
    let gauge_w = if app.running.is_some() { 30 } else { 0 };
    let fetching = matches!(app.fetch, Some(FetchState::Running { .. }));
    let fetch_w = if fetching { 28 } else { 0 };
    let [left, fetch_gauge, gauge, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(fetch_w),
        Constraint::Length(gauge_w),
        Constraint::Length(help.width() as u16),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(Line::from(spans)), left);
    f.render_widget(Paragraph::new(Line::from(help)), right);
    if let Some(fs @ FetchState::Running { progress, .. }) = &app.fetch {
        let label = match progress {
            None => "fetch starting".to_string(),
            Some(FetchProgress::Downloading { bytes, total }) => match total {
                Some(t) => format!("fetch {:.1}/{:.1} MB", mb(*bytes), mb(*t)),
                None => format!("fetch {:.1} MB", mb(*bytes)),
            },
            Some(FetchProgress::Unpacking { .. }) => "fetch: unpacking".to_string(),
            Some(FetchProgress::AlreadyPresent { .. } | FetchProgress::Done { .. }) => {
                "fetch: done".to_string()
            }
        };
        let g = LineGauge::default()
            .ratio(fs.fraction())
            .label(format!(" {label} "))
            .filled_style(Style::new().fg(Color::Yellow))
            .unfilled_style(Style::new().fg(Color::DarkGray));
        f.render_widget(g, fetch_gauge);
    }
    if let Some(r) = &app.running {
        let elapsed = app.now.saturating_duration_since(r.started);
        let frame = (elapsed.as_millis() / 100) as usize % SPINNER.len();
        let label = if r.planned > 0 {
            format!(
                "{} {:.1}s {}/{}",
                SPINNER[frame],
                elapsed.as_secs_f64(),
                r.done,
                r.planned
            )
        } else {
            format!("{} {:.1}s", SPINNER[frame], elapsed.as_secs_f64())
        };
        let g = LineGauge::default()
            .ratio(r.fraction())
            .label(label)
            .filled_style(Style::new().fg(Color::Cyan))
            .unfilled_style(Style::new().fg(Color::DarkGray));
        f.render_widget(g, gauge);
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The database banner's lines and whether it is boxed (a failed fetch), or
/// nothing when the results come from the measured database.
pub fn db_banner(app: &App) -> Option<(Vec<Line<'static>>, bool)> {
    let yellow = Style::new().fg(Color::Yellow);
    let key = keymap::key_label(Command::FetchDb);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match &app.fetch {
        Some(FetchState::Failed(e)) => Some((
            vec![
                Line::from(Span::styled(e.clone(), Style::new().fg(Color::Red))),
                Line::from(vec![
                    Span::raw("run it by hand: "),
                    Span::styled(MANUAL_COMMAND, bold.fg(Color::Yellow)),
                    Span::raw(format!(", then {key} switches to it · Esc hides this")),
                ]),
            ],
            true,
        )),
        Some(FetchState::Running { .. }) => Some((
            vec![Line::from(Span::styled(
                "⚠ fetching the measured database (progress below); results switch when ready",
                yellow,
            ))],
            false,
        )),
        Some(FetchState::Installed(_)) => Some((
            vec![Line::from(Span::styled(
                "measured database installed · searching again on it",
                Style::new().fg(Color::Green),
            ))],
            false,
        )),
        None if app.on_builtin_db() => Some((
            vec![Line::from(vec![
                Span::styled("⚠ built-in SOL data, no measured database · ", yellow),
                Span::styled(key, bold.fg(Color::Yellow)),
                Span::styled(format!(" fetches it ({MANUAL_COMMAND})"), yellow),
            ])],
            false,
        )),
        None => None,
    }
}

pub fn render_db_banner(app: &App, area: Rect, f: &mut Frame) {
    let Some((lines, boxed)) = db_banner(app) else {
        return;
    };
    let mut p = Paragraph::new(lines).wrap(Wrap { trim: false });
    if boxed {
        p = p.block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Red))
                .title_top(Span::styled(
                    " ✗ database fetch failed · still on built-in SOL data ",
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                )),
        );
    }
    f.render_widget(p, area);
}

pub fn error_lines(err: &SearchFailure, file: &str) -> Vec<Line<'static>> {
    let red = Style::new().fg(Color::Red);
    match err {
        SearchFailure::Cancelled => vec![],
        SearchFailure::Other(m) => vec![Line::from(Span::styled(m.clone(), red))],
        SearchFailure::Load(l) => {
            let mut out = Vec::new();
            for e in &l.errors {
                let mut head = vec![Span::styled(
                    format!("{file}:{}:{} ", e.line, e.col),
                    red.add_modifier(Modifier::BOLD),
                )];
                if let Some(x) = &e.experiment {
                    head.push(Span::raw(format!("experiment '{x}' ")));
                }
                if !e.key_path.is_empty() {
                    head.push(Span::styled(
                        format!("key '{}' ", e.key_path),
                        Style::new().fg(Color::Yellow),
                    ));
                }
                head.push(Span::raw(e.message.clone()));
                if let Some(h) = &e.hint {
                    head.push(Span::styled(
                        format!(" ({h})"),
                        Style::new().fg(Color::Gray),
                    ));
                }
                out.push(Line::from(head));
                if let Some(src) = &e.source_line {
                    let gutter = format!("{:>5} | ", e.line);
                    out.push(Line::from(vec![
                        Span::styled(gutter.clone(), Style::new().fg(Color::DarkGray)),
                        Span::raw(src.clone()),
                    ]));
                    let pad = " ".repeat(gutter.chars().count() + e.col.saturating_sub(1));
                    out.push(Line::from(Span::styled(
                        format!("{pad}^"),
                        red.add_modifier(Modifier::BOLD),
                    )));
                }
            }
            out
        }
    }
}

pub fn render_error(app: &App, area: Rect, f: &mut Frame) {
    let Some(err) = &app.error else {
        return;
    };
    let title = match (err, app.report.is_some()) {
        (SearchFailure::Load(_), true) => " ✗ file has errors · last good results below are stale ",
        (SearchFailure::Load(_), false) => " ✗ file has errors ",
        (_, true) => " ✗ search failed · last good results below are stale ",
        (_, false) => " ✗ search failed ",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Red))
        .title_top(Span::styled(
            title,
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    f.render_widget(
        Paragraph::new(error_lines(err, &app.file))
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

pub fn render_help(app: &App, area: Rect, f: &mut Frame) {
    let mut lines: Vec<Line> = keymap::help_lines()
        .into_iter()
        .map(|(keys, help)| {
            Line::from(vec![
                Span::styled(format!("{keys:>18}  "), Style::new().fg(Color::Yellow)),
                Span::raw(help),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "mouse: click focuses a pane and selects a row; the wheel scrolls",
        Style::new().fg(Color::Gray),
    )));
    let w = 72.min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let max_scroll = (lines.len() as u16).saturating_sub(h.saturating_sub(2));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((app.help_scroll.min(max_scroll), 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title_top(" keys (? or Esc closes) ")
                    .border_style(Style::new().fg(Color::Yellow)),
            ),
        popup,
    );
}
