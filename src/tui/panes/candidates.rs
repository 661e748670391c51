//! Pane 3: the selected experiment's candidates with the xPyD arithmetic spelled out.
//! Columns that do not fit are dropped by priority, so 80 columns still reads well.

use super::{concurrency_arith, empty_text, fmt_f, gpus_arith, pane_block};
use crate::report::Row;
use crate::tui::app::{App, PaneId, SortKey};
use crate::tui::export::short_parallel;
use crate::tui::layout::{ensure_visible, table_rows};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table};
use ratatui::Frame;

struct Col {
    key: SortKey,
    header: &'static str,
    /// Lower keeps the column longer when space runs out.
    priority: u8,
    right: bool,
    cell: fn(usize, &Row) -> String,
}

fn worker_cell(w: Option<&crate::report::WorkerRow>) -> String {
    w.map(|w| format!("{}x {} bs{}", w.workers, short_parallel(&w.parallel), w.bs))
        .unwrap_or_default()
}

fn columns(disagg: bool) -> Vec<Col> {
    let mut c = vec![
        Col {
            key: SortKey::Rank,
            header: "#",
            priority: 0,
            right: true,
            cell: |i, _| (i + 1).to_string(),
        },
        Col {
            key: SortKey::TokGpu,
            header: "tok/s/gpu",
            priority: 0,
            right: true,
            cell: |_, r| fmt_f(r.tokens_per_s_per_gpu),
        },
        Col {
            key: SortKey::TokUser,
            header: "tok/s/user",
            priority: 0,
            right: true,
            cell: |_, r| fmt_f(r.tokens_per_s_per_user),
        },
        Col {
            key: SortKey::Ttft,
            header: "TTFT ms",
            priority: 1,
            right: true,
            cell: |_, r| fmt_f(r.ttft_ms),
        },
        Col {
            key: SortKey::Tpot,
            header: "TPOT ms",
            priority: 1,
            right: true,
            cell: |_, r| fmt_f(r.tpot_ms),
        },
        Col {
            key: SortKey::Gpus,
            header: "GPUs",
            priority: 0,
            right: false,
            cell: |_, r| gpus_arith(r),
        },
        Col {
            key: SortKey::Replicas,
            header: "repl",
            priority: 3,
            right: true,
            cell: |_, r| r.replicas.to_string(),
        },
        Col {
            key: SortKey::Concurrency,
            header: "concurrency",
            priority: 1,
            right: false,
            cell: |_, r| concurrency_arith(r),
        },
    ];
    if disagg {
        c.push(Col {
            key: SortKey::Parallel,
            header: "prefill",
            priority: 1,
            right: false,
            cell: |_, r| worker_cell(r.prefill.as_ref()),
        });
        c.push(Col {
            key: SortKey::Parallel,
            header: "decode",
            priority: 1,
            right: false,
            cell: |_, r| worker_cell(r.decode.as_ref()),
        });
    } else {
        c.push(Col {
            key: SortKey::Parallel,
            header: "parallel",
            priority: 0,
            right: false,
            cell: |_, r| {
                let p = r
                    .parallel
                    .as_deref()
                    .map(short_parallel)
                    .unwrap_or_default();
                match r.bs {
                    Some(bs) => format!("{p} bs{bs}"),
                    None => p,
                }
            },
        });
    }
    c.push(Col {
        key: SortKey::Memory,
        header: "mem GiB",
        priority: 4,
        right: true,
        cell: |_, r| format!("{:.1}", r.memory_gib),
    });
    c.push(Col {
        key: SortKey::Sla,
        header: "SLA",
        priority: 3,
        right: false,
        cell: |_, r| if r.sla_met { "ok" } else { "miss" }.into(),
    });
    c
}

pub fn render(app: &App, area: Rect, f: &mut Frame) {
    let c = &app.cand;
    let mut extra = vec![Span::raw(format!(
        " {} · sort {}{} ",
        c.view.label(),
        c.sort.label(),
        if c.descending { "▼" } else { "▲" }
    ))];
    if c.editing || !c.filter.is_empty() {
        extra.push(Span::styled(
            format!("/{}{} ", c.filter, if c.editing { "_" } else { "" }),
            Style::new().fg(Color::Yellow),
        ));
    }
    let block = pane_block(app, PaneId::Candidates, Line::from(extra));
    let rows = app.candidates();
    let Some(exp) = app.selected_experiment() else {
        f.render_widget(Paragraph::new(empty_text(app)).block(block), area);
        return;
    };
    if rows.is_empty() {
        let msg = match (&exp.error, c.filter.is_empty()) {
            (Some(e), _) => format!("{}: {e}", exp.name),
            (None, false) => format!("no {} row matches '/{}'", c.view.label(), c.filter),
            (None, true) => format!("{}: no {} rows", exp.name, c.view.label()),
        };
        f.render_widget(
            Paragraph::new(msg)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let disagg = rows.iter().any(|(_, r)| r.prefill.is_some());
    let cols = columns(disagg);
    let visible = table_rows(area).max(1);
    let offset = ensure_visible(c.sel, c.offset.min(c.sel), visible);
    let shown: Vec<(usize, &Row)> = rows.iter().skip(offset).take(visible).copied().collect();
    // Width of each column from what it will actually show.
    let cells: Vec<Vec<String>> = shown
        .iter()
        .map(|(i, r)| cols.iter().map(|col| (col.cell)(*i, r)).collect())
        .collect();
    let mut widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(j, col)| {
            cells
                .iter()
                .map(|row| row[j].chars().count())
                .chain(std::iter::once(
                    col.header.chars().count() + usize::from(col.key == c.sort),
                ))
                .max()
                .unwrap_or(1)
        })
        .collect();
    // Drop columns, lowest priority (highest number) and rightmost first, until they fit.
    let inner = area.width.saturating_sub(2) as usize;
    let mut keep: Vec<bool> = vec![true; cols.len()];
    let total = |keep: &[bool], widths: &[usize]| -> usize {
        keep.iter()
            .zip(widths)
            .filter(|(k, _)| **k)
            .map(|(_, w)| w + 1)
            .sum::<usize>()
    };
    while total(&keep, &widths) > inner {
        let drop = (0..cols.len())
            .filter(|j| keep[*j] && cols[*j].priority > 0)
            .max_by_key(|j| (cols[*j].priority, *j));
        match drop {
            Some(j) => keep[j] = false,
            None => break,
        }
    }
    let idx: Vec<usize> = (0..cols.len()).filter(|j| keep[*j]).collect();
    for j in &idx {
        widths[*j] = widths[*j].min(inner);
    }
    let header = TRow::new(idx.iter().map(|j| {
        let col = &cols[*j];
        let mut h = col.header.to_string();
        let mut st = Style::new().add_modifier(Modifier::BOLD);
        if col.key == c.sort && (col.key != SortKey::Parallel || col.header != "decode") {
            h.push(if c.descending { '▼' } else { '▲' });
            st = st.fg(Color::Yellow);
        }
        let line = if col.right {
            Line::from(h).right_aligned()
        } else {
            Line::from(h)
        };
        Cell::from(line).style(st)
    }));
    let body: Vec<TRow> = shown
        .iter()
        .zip(cells)
        .enumerate()
        .map(|(k, ((_, r), row_cells))| {
            let cells = idx.iter().map(|j| {
                let s = row_cells[*j].clone();
                if cols[*j].right {
                    Cell::from(Line::from(s).right_aligned())
                } else {
                    Cell::from(s)
                }
            });
            let mut style = if r.sla_met {
                Style::new()
            } else {
                Style::new().fg(Color::DarkGray)
            };
            if offset + k == c.sel {
                style = style.add_modifier(Modifier::REVERSED);
            }
            TRow::new(cells).style(style)
        })
        .collect();
    let constraints: Vec<Constraint> = idx
        .iter()
        .map(|j| Constraint::Length(widths[*j] as u16))
        .collect();
    let t = Table::new(body, constraints)
        .header(header)
        .column_spacing(1)
        .block(block);
    f.render_widget(t, area);
}
