//! The whole screen as a pure function of [`App`].

use super::app::{App, PaneId};
use super::layout;
use super::panes::{self, status};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let screen = layout::compute(area, app);
    if let Some(e) = screen.error {
        status::render_error(app, e, f);
    }
    if let Some(d) = screen.db_banner {
        status::render_db_banner(app, d, f);
    }
    for (id, rect) in &screen.panes {
        if rect.width < 4 || rect.height < 3 {
            continue;
        }
        match id {
            PaneId::Experiments => panes::experiments::render(app, *rect, f),
            PaneId::Pareto => match &app.tuning.sweep {
                Some(sw) => panes::sweep::render(app, sw, *rect, f),
                None => panes::pareto::render(app, *rect, f),
            },
            PaneId::Candidates => panes::candidates::render(app, *rect, f),
            PaneId::Breakdown => panes::breakdown::render(app, *rect, f),
            PaneId::Compare => panes::compare::render(app, *rect, f),
            PaneId::WhyNot => panes::whynot::render(app, *rect, f),
        }
    }
    // In the compact layout, say which lower pane is shown and how to reach the others.
    if screen.compact && !app.zoom {
        if let Some(r) = screen.rect(app.lower) {
            let tabs: Vec<String> = PaneId::ALL
                .iter()
                .filter(|p| p.is_lower() && **p != app.lower)
                .map(|p| format!("{} {}", p.index() + 1, p.title()))
                .collect();
            let hint = format!(" {} ", tabs.join(" · "));
            let w = hint.chars().count() as u16;
            if r.width > w + 30 && r.height > 2 {
                let at =
                    ratatui::layout::Rect::new(r.x + r.width - w - 1, r.y + r.height - 1, w, 1);
                f.render_widget(
                    Paragraph::new(Line::from(hint)).style(Style::new().fg(Color::DarkGray)),
                    at,
                );
            }
        }
    }
    if app.tuning.panel.is_some() {
        // Over the panes, whatever the layout: their union is the body.
        let body = screen
            .panes
            .iter()
            .map(|(_, r)| *r)
            .reduce(|a, b| a.union(b));
        if let Some(body) = body {
            panes::knobs::render(app, body, f);
        }
    }
    status::render_status(app, screen.status, f);
    if app.help {
        status::render_help(app, area, f);
    }
}
