//! Human-readable tables in the spirit of the reference's console report,
//! with the xPyD arithmetic spelled out.

use super::{ExperimentReport, Row, RunReport, Status};
use std::fmt::Write;

/// `16 (=6x1+5x2)` for disagg, `16 (=4x4)` for agg: GPUs used and how.
pub fn gpus_arithmetic(r: &Row) -> String {
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => {
            let base = format!(
                "{}x{}+{}x{}",
                p.workers, p.gpus_per_worker, d.workers, d.gpus_per_worker
            );
            if r.replicas > 1 {
                format!("{} (=({base})x{})", r.total_gpus_used, r.replicas)
            } else {
                format!("{} (={base})", r.total_gpus_used)
            }
        }
        _ => format!(
            "{} (={}x{})",
            r.total_gpus_used, r.replicas, r.num_total_gpus
        ),
    }
}

/// `320 (=64x5)`: cluster concurrency as per-worker batch × workers (× replicas).
pub fn concurrency_arithmetic(r: &Row) -> String {
    let total = r.concurrency.round() as u64;
    match &r.decode {
        Some(d) => {
            if r.replicas > 1 {
                format!("{total} (={}x{}x{})", d.global_bs, d.workers, r.replicas)
            } else {
                format!("{total} (={}x{})", d.global_bs, d.workers)
            }
        }
        None => {
            let per = r
                .agg
                .as_ref()
                .map(|a| a.global_bs * a.layout.pp)
                .unwrap_or(0);
            format!("{total} (={per}x{})", r.replicas)
        }
    }
}

/// The configuration column: the layout, or both pools of an xPyD replica.
pub fn config_label(r: &Row) -> String {
    match (&r.parallel, &r.prefill, &r.decode) {
        (Some(p), _, _) => format!("{p} bs{}", r.bs.unwrap_or(0)),
        (None, Some(p), Some(d)) => {
            format!(
                "{}P {} bs{} + {}D {} bs{}",
                p.workers, p.parallel, p.bs, d.workers, d.parallel, d.bs
            )
        }
        _ => String::new(),
    }
}

fn header(e: &ExperimentReport) -> String {
    if e.model.is_empty() {
        // Never resolved: there is nothing but the name to show.
        return format!("== {}", e.name);
    }
    let mut s = format!(
        "== {} ({}): {} on {}",
        e.name, e.serving_mode, e.model, e.system
    );
    if let Some(d) = &e.decode_system {
        if d != &e.system {
            let _ = write!(s, " (decode on {d})");
        }
    }
    let _ = write!(
        s,
        ", {} {}, {}; isl {} osl {} prefix {}; SLA TTFT {} ms, TPOT {} ms; {} GPUs; {:.0} ms",
        e.backend,
        e.backend_version,
        e.database_mode,
        e.isl,
        e.osl,
        e.prefix,
        e.ttft,
        e.tpot,
        e.total_gpus,
        e.elapsed_ms
    );
    s
}

fn rows_table(rows: &[Row]) -> String {
    let head = [
        "rank",
        "tok/s/gpu",
        "tok/s/user",
        "TTFT ms",
        "TPOT ms",
        "config",
        "GPUs",
        "concurrency",
        "mem GiB",
    ];
    let body: Vec<[String; 9]> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            [
                format!("{}{}", i + 1, if r.sla_met { "" } else { "!" }),
                format!("{:.2}", r.tokens_per_s_per_gpu_cluster),
                format!("{:.2}", r.tokens_per_s_per_user),
                format!("{:.1}", r.ttft_ms),
                format!("{:.2}", r.tpot_ms),
                config_label(r),
                gpus_arithmetic(r),
                concurrency_arithmetic(r),
                format!("{:.1}", r.memory_gib),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &body {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.push_str(&line(&head.map(String::from)));
    out.push('\n');
    for row in &body {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// The whole report as text.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    if report.database.kind != "measured" {
        let _ = writeln!(
            out,
            "note: no measured database found ({}); latencies are speed-of-light estimates from built-in GPU specs. Run `xpyd db fetch` for measured data.\n",
            report.database.source
        );
    }
    for e in &report.experiments {
        let _ = writeln!(out, "{}", header(e));
        match e.status {
            Status::Ok => {
                out.push_str(&rows_table(&e.top));
                if e.top.iter().any(|r| !r.sla_met) {
                    out.push_str(
                        "(!) no configuration meets the TPOT target; the closest ones are shown\n",
                    );
                }
                let _ = writeln!(
                    out,
                    "pareto front: {} points; rejected layouts: {}",
                    e.pareto.len(),
                    e.rejected.len()
                );
            }
            Status::NoResult => {
                let _ = writeln!(
                    out,
                    "no result: {}",
                    e.error.as_deref().unwrap_or("nothing feasible")
                );
                for r in e.rejected.iter().take(8) {
                    let _ = writeln!(out, "  {} {}: {}", r.role, r.parallel, r.reason);
                }
            }
            Status::Error => {
                let _ = writeln!(out, "error: {}", e.error.as_deref().unwrap_or("unknown"));
            }
        }
        out.push('\n');
    }
    if let Some(best) = &report.best_experiment {
        if let Some(e) = report.experiments.iter().find(|e| &e.name == best) {
            if let Some(b) = &e.best {
                let _ = writeln!(
                    out,
                    "best experiment: {best}: {:.2} tokens/s/gpu ({:.1} tokens/s cluster), {:.2} tokens/s/user, TTFT {:.1} ms, TPOT {:.2} ms, {}",
                    b.tokens_per_s_per_gpu_cluster,
                    b.tokens_per_s_per_gpu_cluster * e.total_gpus as f64,
                    b.tokens_per_s_per_user,
                    b.ttft_ms,
                    b.tpot_ms,
                    config_label(b)
                );
            }
        }
    }
    out
}
