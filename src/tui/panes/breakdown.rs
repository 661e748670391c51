//! Pane 4: where the selected candidate's time and memory go, every number tagged with
//! its data source. Displays the report's numbers only; nothing is recomputed here.

use super::{
    combine_sources, config_label, empty_text, fmt_f, fmt_target, pane_block, source_style,
    truncate,
};
use crate::report::{ExperimentReport, MemoryBreakdown, Row, StepBreakdown};
use crate::tui::app::{App, PaneId};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

fn heading(s: impl Into<String>) -> Line<'static> {
    Line::from(Span::styled(
        s.into(),
        Style::new().add_modifier(Modifier::BOLD).fg(Color::White),
    ))
}

fn tag(src: &str) -> Span<'static> {
    Span::styled(format!("[{src}]"), source_style(src))
}

fn step_source(s: &StepBreakdown) -> String {
    combine_sources(s.ops.iter().map(|o| o.source.as_str()))
}

fn step_lines(s: &StepBreakdown, width: usize, out: &mut Vec<Line<'static>>) {
    let src = step_source(s);
    out.push(Line::from(vec![
        Span::styled(
            format!("{}: ", s.label),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("{} ms ", fmt_f(s.total_ms))),
        tag(&src),
    ]));
    let mut ops: Vec<_> = s.ops.iter().collect();
    // Largest first: the question is always "what dominates this step".
    ops.sort_by(|a, b| b.ms.partial_cmp(&a.ms).unwrap_or(std::cmp::Ordering::Equal));
    let name_w = ops
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 22);
    // "  name  bar  12345.67 ms  100.0%  [empirical]"
    let fixed = 2 + name_w + 1 + 1 + 9 + 3 + 7 + 12;
    let bar_w = width.saturating_sub(fixed).clamp(4, 40);
    let total = if s.total_ms > 0.0 {
        s.total_ms
    } else {
        ops.iter().map(|o| o.ms).sum::<f64>().max(f64::MIN_POSITIVE)
    };
    for o in ops {
        let share = (o.ms / total).clamp(0.0, 1.0);
        let filled = (share * bar_w as f64).round() as usize;
        out.push(Line::from(vec![
            Span::raw(format!("  {:<name_w$} ", truncate(&o.name, name_w))),
            Span::styled("█".repeat(filled), Style::new().fg(Color::Cyan)),
            Span::styled(
                "·".repeat(bar_w - filled.min(bar_w)),
                Style::new().fg(Color::DarkGray),
            ),
            Span::raw(format!(" {:>9} ms {:>5.1}% ", fmt_f(o.ms), share * 100.0)),
            tag(&o.source),
        ]));
    }
}

/// Glyph per memory component so the stacked bar reads without colour too.
const MEM_PARTS: [(&str, char, Color); 5] = [
    ("weights", '█', Color::Blue),
    ("kv", '▓', Color::Green),
    ("act", '▒', Color::Yellow),
    ("nccl", '░', Color::Magenta),
    ("other", '▞', Color::Gray),
];

fn memory_lines(m: &MemoryBreakdown, width: usize, out: &mut Vec<Line<'static>>) {
    let vals = [m.weights, m.kvcache, m.activations, m.nccl, m.others];
    let cap = if m.capacity > 0.0 {
        m.capacity
    } else {
        m.total.max(f64::MIN_POSITIVE)
    };
    let bar_w = width.saturating_sub(34).clamp(8, 60);
    let mut spans = vec![Span::raw(format!("  {:<8} ", truncate(&m.role, 8)))];
    let mut used = 0usize;
    for ((_, ch, color), v) in MEM_PARTS.iter().zip(vals) {
        let n = ((v / cap).clamp(0.0, 1.0) * bar_w as f64).round() as usize;
        let n = n.min(bar_w - used);
        used += n;
        spans.push(Span::styled(
            ch.to_string().repeat(n),
            Style::new().fg(*color),
        ));
    }
    spans.push(Span::styled(
        "·".repeat(bar_w - used),
        Style::new().fg(Color::DarkGray),
    ));
    let over = m.total > m.capacity && m.capacity > 0.0;
    spans.push(Span::styled(
        format!(
            " {:.1}/{:.1} GiB {:>3.0}%",
            m.total,
            m.capacity,
            m.total / cap * 100.0
        ),
        if over {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        },
    ));
    out.push(Line::from(spans));
    let parts: Vec<Span> = MEM_PARTS
        .iter()
        .zip(vals)
        .flat_map(|((name, ch, color), v)| {
            [
                Span::styled(format!("  {ch}"), Style::new().fg(*color)),
                Span::raw(format!(" {name} {v:.1}")),
            ]
        })
        .collect();
    let mut l = vec![Span::raw("         ")];
    l.extend(parts);
    out.push(Line::from(l));
}

/// How TTFT and TPOT follow from the step latencies, one short phrase per line
/// so nothing wraps mid-phrase in a narrow pane. Every number comes from the report.
fn latency_lines(e: &ExperimentReport, r: &Row, out: &mut Vec<Line<'static>>) {
    let steps = r.detail.as_ref().map(|d| d.steps.as_slice()).unwrap_or(&[]);
    let all_src = combine_sources(
        steps
            .iter()
            .flat_map(|s| s.ops.iter().map(|o| o.source.as_str())),
    );
    out.push(heading("TTFT / TPOT"));
    let head = |what: &str, v: f64, target: f64| {
        Line::from(format!(
            "  {what} {} ms (target {})",
            fmt_f(v),
            fmt_target(target)
        ))
    };
    let src_line = |text: String| Line::from(vec![Span::raw(text), tag(&all_src)]);
    let timing = r.detail.as_ref().and_then(|d| d.timing.as_ref());
    match (&r.prefill, &r.decode, timing) {
        (Some(_), Some(d), Some(t)) => {
            out.push(head("TTFT", r.ttft_ms, e.ttft));
            out.push(Line::from(format!(
                "    = prefill step {} ms x {} TTFT autoscale",
                fmt_f(t.prefill_step_ms),
                t.ttft_autoscale
            )));
            out.push(src_line(format!(
                "    prefill step = engine {} ms x {} correction ",
                fmt_f(t.prefill_engine_ms),
                t.prefill_correction
            )));
            out.push(head("TPOT", r.tpot_ms, e.tpot));
            if t.tokens_per_step > 1.0 {
                out.push(Line::from(format!(
                    "    = decode step {} ms / {} tokens per step (MTP)",
                    fmt_f(t.decode_step_ms),
                    fmt_f(t.tokens_per_step)
                )));
            } else {
                out.push(Line::from(format!(
                    "    = decode step {} ms (one token per step)",
                    fmt_f(t.decode_step_ms)
                )));
            }
            out.push(src_line(format!(
                "    decode step = engine pass {} ms / {} steps ",
                fmt_f(t.decode_engine_pass_ms),
                t.decode_steps
            )));
            out.push(Line::from(format!(
                "      x {} correction (batch {})",
                t.decode_correction, d.bs
            )));
        }
        (Some(p), Some(d), None) => {
            out.push(head("TTFT", r.ttft_ms, e.ttft));
            out.push(Line::from(format!(
                "    = prefill worker {} ms (corrected)",
                fmt_f(p.latency_ms)
            )));
            out.push(head("TPOT", r.tpot_ms, e.tpot));
            out.push(Line::from(format!(
                "    = decode worker {} ms per token",
                fmt_f(d.latency_ms)
            )));
        }
        _ => match r.detail.as_ref().and_then(|d| d.scheduler.as_ref()) {
            Some(s) => {
                out.push(head("TTFT", r.ttft_ms, e.ttft));
                out.push(Line::from(format!(
                    "    = (mixed step {} ms x ceil(isl / ctx tokens)",
                    fmt_f(s.mix_step_ms)
                )));
                out.push(src_line(format!(
                    "      + dispatch) x queue factor {:.2} ",
                    s.ttft_queue_factor
                )));
                out.push(head("TPOT", r.tpot_ms, e.tpot));
                out.push(Line::from(format!(
                    "    = mean of mixed ({} ms) and gen-only ({} ms)",
                    fmt_f(s.mix_step_ms),
                    fmt_f(s.genonly_step_ms)
                )));
                out.push(src_line(
                    "      steps, weighted by decode steps ".to_string(),
                ));
            }
            None => out.push(Line::from(format!(
                "  TTFT {} ms · TPOT {} ms (no scheduler detail)",
                fmt_f(r.ttft_ms),
                fmt_f(r.tpot_ms)
            ))),
        },
    }
    out.push(Line::from(vec![
        Span::raw(format!(
            "  request {} ms · {} req/s · SLA ",
            fmt_f(r.request_latency_ms),
            fmt_f(r.request_rate)
        )),
        if r.sla_met {
            Span::styled("met", Style::new().fg(Color::Green))
        } else {
            Span::styled("missed", Style::new().fg(Color::Red))
        },
    ]));
}

pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let (Some(e), Some(r)) = (app.selected_experiment(), app.selected_candidate()) else {
        out.push(Line::from(empty_text(app)));
        return out;
    };
    out.push(Line::from(vec![
        Span::styled(config_label(r), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            " · {} · {} tok/s/gpu · {} tok/s/user",
            e.name,
            fmt_f(r.tokens_per_s_per_gpu),
            fmt_f(r.tokens_per_s_per_user)
        )),
    ]));
    latency_lines(e, r, &mut out);
    let Some(d) = &r.detail else {
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            "no per-op detail for this row (the report keeps it for best/top/pareto rows)",
            Style::new().fg(Color::DarkGray),
        )));
        return out;
    };
    if let Some(s) = &d.scheduler {
        out.push(heading("Scheduler (agg)"));
        // Short lines: a narrow pane must not wrap mid-phrase.
        out.push(Line::from(format!(
            "  mixed steps {:.1} x {} ms",
            s.num_mix_steps,
            fmt_f(s.mix_step_ms)
        )));
        out.push(Line::from(format!(
            "  gen-only steps {:.1} x {} ms",
            s.num_genonly_steps,
            fmt_f(s.genonly_step_ms)
        )));
        out.push(Line::from(format!(
            "  a mixed step: {} context tokens",
            s.mix_context_tokens
        )));
        out.push(Line::from(format!(
            "    + {} decode requests",
            s.mix_decode_requests
        )));
        out.push(Line::from(format!(
            "  TTFT queue factor {:.2}",
            s.ttft_queue_factor
        )));
    }
    if app.sol_view {
        out.push(heading(
            "SOL_FULL: speed of light per op (o: back to priced steps)",
        ));
        if d.sol_full.is_empty() {
            out.push(Line::from("  no SOL_FULL view for this row"));
        }
        for s in &d.sol_full {
            step_lines(s, width, &mut out);
            for o in &s.ops {
                if let (Some(math), Some(mem)) = (o.math_ms, o.mem_ms) {
                    out.push(Line::from(Span::styled(
                        format!(
                            "    {}: compute {} ms · memory {} ms",
                            truncate(&o.name, 28),
                            fmt_f(math),
                            fmt_f(mem)
                        ),
                        Style::new().fg(Color::DarkGray),
                    )));
                }
            }
        }
    } else {
        for s in &d.steps {
            step_lines(s, width, &mut out);
        }
    }
    if !d.memory.is_empty() {
        out.push(heading("Memory per GPU (GiB) vs capacity"));
        for m in &d.memory {
            memory_lines(m, width, &mut out);
        }
    }
    out
}

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    let block = pane_block(app, PaneId::Breakdown, "");
    let width = area.width.saturating_sub(2) as usize;
    let lines = lines(app, width);
    let max_scroll = lines.len().saturating_sub(1) as u16;
    // Bars are sized to fit; only prose lines wrap.
    let p = Paragraph::new(lines)
        .block(block)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .scroll((app.breakdown_scroll.min(max_scroll), 0));
    f.render_widget(p, area);
}
