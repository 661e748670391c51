//! One pure render function per pane: `fn render(&App, Rect, &mut Frame)`.

pub mod breakdown;
pub mod candidates;
pub mod compare;
pub mod experiments;
pub mod knobs;
pub mod pareto;
pub mod status;
pub mod sweep;
pub mod whynot;

use super::app::{App, PaneId};
use super::export::short_parallel;
use crate::report::Row;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

/// One colour per experiment, shared by the list, the chart and the compare pane.
pub const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
];

pub fn exp_color(i: usize) -> Color {
    PALETTE[i % PALETTE.len()]
}

/// The pane frame: numbered title (the `1..6` keys), focus shown by a thick border.
pub fn pane_block<'a>(app: &App, id: PaneId, extra: impl Into<Line<'a>>) -> Block<'a> {
    let focused = app.focus == id;
    let mut title = vec![Span::styled(
        format!(" {} {} ", id.index() + 1, id.title()),
        if focused {
            Style::new().add_modifier(Modifier::BOLD).fg(Color::White)
        } else {
            Style::new().fg(Color::Gray)
        },
    )];
    if app.stale {
        title.push(Span::styled(
            "[stale] ",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    let mut b = Block::default()
        .borders(Borders::ALL)
        .title_top(Line::from(title));
    let extra: Line = extra.into();
    if extra.width() > 0 {
        b = b.title_top(extra.right_aligned());
    }
    if focused {
        b.border_type(BorderType::Thick)
            .border_style(Style::new().fg(Color::White))
    } else {
        b.border_style(Style::new().fg(Color::DarkGray))
    }
}

/// Placeholder text when there is nothing to show yet.
pub fn empty_text(app: &App) -> &'static str {
    if app.is_running() && app.report.is_none() {
        "searching..."
    } else if app.report.is_none() {
        "no results yet"
    } else {
        "nothing here"
    }
}

pub fn fmt_f(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 10_000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A target as the user wrote it: `40`, not `40.00`.
pub fn fmt_target(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        fmt_f(v)
    }
}

/// `16 (=6x1+5x2)`: GPUs in one replica as prefill workers×GPUs + decode workers×GPUs.
pub fn gpus_arith(r: &Row) -> String {
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => format!(
            "{} (={}x{}+{}x{})",
            r.num_total_gpus, p.workers, p.gpus_per_worker, d.workers, d.gpus_per_worker
        ),
        _ => r.num_total_gpus.to_string(),
    }
}

/// `320 (=64x5)`: disagg cluster concurrency as decode global batch × decode workers
/// (× replicas); agg as per-replica concurrency × replicas. The spelled-out factors are
/// shown only when they multiply back to the report's number.
pub fn concurrency_arith(r: &Row) -> String {
    let total = r.concurrency.round();
    if let Some(d) = &r.decode {
        let per = d.global_bs as f64 * d.workers as f64;
        if (per * r.replicas as f64 - total).abs() < 0.5 {
            return if r.replicas > 1 {
                format!("{total} (={}x{}x{})", d.global_bs, d.workers, r.replicas)
            } else {
                format!("{total} (={}x{})", d.global_bs, d.workers)
            };
        }
    }
    if r.replicas > 1 {
        let per = r.concurrency / r.replicas as f64;
        format!("{total} (={}x{})", per.round(), r.replicas)
    } else {
        format!("{total}")
    }
}

/// Short configuration text: `tp4 bs32` (agg) or `6P tp1 + 5D tp2` (disagg).
pub fn config_label(r: &Row) -> String {
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => format!(
            "{}P {} + {}D {}",
            p.workers,
            short_parallel(&p.parallel),
            d.workers,
            short_parallel(&d.parallel)
        ),
        _ => {
            let par = r
                .parallel
                .as_deref()
                .map(short_parallel)
                .unwrap_or_default();
            match r.bs {
                Some(bs) => format!("{par} bs{bs}"),
                None => par,
            }
        }
    }
}

/// Cut `s` to `w` display columns with an ellipsis.
pub fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

/// One tag for a set of per-op sources: the common one, or `mixed`.
pub fn combine_sources<'a>(mut it: impl Iterator<Item = &'a str>) -> String {
    match it.next() {
        None => "-".into(),
        Some(first) => {
            if it.all(|s| s == first) {
                first.to_string()
            } else {
                "mixed".into()
            }
        }
    }
}

pub fn source_style(src: &str) -> Style {
    match src {
        "silicon" => Style::new().fg(Color::Green),
        "empirical" => Style::new().fg(Color::Yellow),
        "sol" | "estimated" => Style::new().fg(Color::Magenta),
        _ => Style::new().fg(Color::Cyan),
    }
}

/// Word-wrap styled text to `width` columns; continuation lines start with
/// `indent` spaces so a wrapped item still reads as one (Paragraph's own wrap
/// starts them at the margin). Words wider than a line are cut.
pub fn wrap_spans(spans: &[Span<'static>], width: usize, indent: usize) -> Vec<Line<'static>> {
    // Below this a hanging indent wastes more than it helps.
    let indent = if width >= indent + 12 { indent } else { 0 };
    let width = width.max(1);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut cur_w = 0;
    let mut fresh = true;
    let mut flush = |cur: &mut Vec<Span<'static>>, cur_w: &mut usize, fresh: &mut bool| {
        if let Some(last) = cur.last_mut() {
            let trimmed = last.content.trim_end().to_string();
            last.content = trimmed.into();
        }
        lines.push(Line::from(std::mem::take(cur)));
        cur.push(Span::raw(" ".repeat(indent)));
        *cur_w = indent;
        *fresh = true;
    };
    for span in spans {
        for piece in span.content.split_inclusive(' ') {
            let word = piece.trim_end();
            if word.is_empty() && fresh {
                continue;
            }
            let w = Span::raw(word).width();
            if cur_w + w > width && !fresh {
                flush(&mut cur, &mut cur_w, &mut fresh);
            }
            let mut rest = piece.to_string();
            // A word longer than the line: cut it into line-sized chunks.
            while Span::raw(rest.trim_end()).width() > width.saturating_sub(cur_w) {
                let room = width.saturating_sub(cur_w).max(1);
                let head: String = rest.chars().take(room).collect();
                rest = rest.chars().skip(room).collect();
                cur.push(Span::styled(head, span.style));
                flush(&mut cur, &mut cur_w, &mut fresh);
            }
            if !rest.is_empty() {
                cur_w += Span::raw(rest.as_str()).width();
                cur.push(Span::styled(rest, span.style));
                fresh = false;
            }
        }
    }
    if !fresh {
        flush(&mut cur, &mut cur_w, &mut fresh);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_words_with_a_hanging_indent() {
        let spans = [
            Span::raw("12:5 "),
            Span::raw("key 'a.b': this key has no effect here"),
        ];
        assert_eq!(
            text(&wrap_spans(&spans, 20, 4)),
            ["12:5 key 'a.b': this", "    key has no", "    effect here"]
        );
        // Fits: one line, no trailing space.
        assert_eq!(text(&wrap_spans(&spans, 80, 4)).len(), 1);
    }

    #[test]
    fn cuts_words_longer_than_the_line() {
        let spans = [Span::raw("abcdefghijklmnopqrstuvwxyz end")];
        let out = text(&wrap_spans(&spans, 16, 2));
        assert!(out.iter().all(|l| l.chars().count() <= 16), "{out:?}");
        assert_eq!(
            out.concat().replace(' ', ""),
            "abcdefghijklmnopqrstuvwxyzend"
        );
    }
}
