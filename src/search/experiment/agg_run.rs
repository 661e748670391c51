//! The aggregated runner: sweep every layout of the one pool in parallel,
//! keep the rows that meet a TPOT target, and say why the others did not.

use super::rows::agg_row;
use super::{fit_reason, progress_fraction, BuiltWorker, Ctx, Outcome, RoleKind};
use crate::exp::Role;
use crate::report::{Rejection, Row};
use crate::search::agg::{self, AggPoint, AggWorkload};
use crate::search::control::Progress;
use crate::search::enumerate::{enumerate, explain_empty};
use crate::search::{grid, pick};
use rayon::prelude::*;
use std::sync::Mutex;

pub(super) fn run_agg(ctx: &Ctx, role: &Role) -> Outcome {
    let task = ctx.task;
    let is_moe = ctx.factory.is_moe(task, RoleKind::Agg);
    let layouts = enumerate(
        &role.search,
        is_moe,
        role.backend,
        task.moe_backend.as_deref(),
    );
    if layouts.is_empty() {
        let why = explain_empty(&role.search, is_moe, role.backend);
        return (
            Vec::new(),
            Vec::new(),
            Some(format!("no parallel layout to search: {why}")),
            0,
            Vec::new(),
        );
    }
    let grid = grid::tpot_grid();
    let progress_p = 1.0 + task.nextn_accepted.max(0.0) * if task.nextn > 0 { 1.0 } else { 0.0 };
    let done = Mutex::new((0usize, Vec::<Row>::new()));
    struct PerLayout {
        rows: Vec<AggPoint>,
        /// Some point got a latency from the engine.
        priced: bool,
        price_error: Option<String>,
        worker: Option<BuiltWorker>,
        rejection: Option<Rejection>,
        fit: bool,
        mem_fit: bool,
        evals: u64,
    }
    let results: Vec<PerLayout> = layouts
        .par_iter()
        .map(|&p| {
            let reject = |reason: String| PerLayout {
                rows: Vec::new(),
                rejection: Some(Rejection {
                    role: "agg".into(),
                    parallel: p.to_string(),
                    reason,
                }),
                worker: None,
                priced: false,
                price_error: None,
                fit: false,
                mem_fit: false,
                evals: 0,
            };
            if ctx.cancel.is_cancelled() {
                return reject("cancelled".into());
            }
            let w = match ctx.factory.build(task, RoleKind::Agg, p) {
                Ok(w) => w,
                Err(reason) => return reject(reason),
            };
            let wl = AggWorkload {
                backend: role.backend,
                isl: task.isl,
                osl: task.osl,
                prefix: task.prefix,
                ttft: task.ttft,
                progress: progress_p,
                num_layers: w.num_layers,
                max_batch: 512,
            };
            let out = agg::sweep_tuple(w.pricer.as_ref(), &w.memory, &wl, p, ctx.cancel);
            let selected = agg::select_rows(&out.points, &grid);
            let cap = w.memory.capacity_bytes / crate::numeric::GIB;
            let rejection = if selected.is_empty() {
                let reason = if let Some((b, fit)) = out.first_oom.filter(|_| !out.saw_memory_fit) {
                    fit_reason(b, fit, cap)
                } else if let Some(e) = out
                    .price_errors
                    .first()
                    .filter(|_| out.points.is_empty() && !out.saw_model_fit)
                {
                    format!("no latency data: {e}")
                } else if out.points.is_empty() {
                    format!(
                        "TTFT over the {:.0} ms target at every batch that fits",
                        task.ttft
                    )
                } else {
                    "no point meets any TPOT target".into()
                };
                Some(Rejection {
                    role: "agg".into(),
                    parallel: p.to_string(),
                    reason,
                })
            } else {
                None
            };
            let rows = selected;
            if let Ok(mut g) = done.lock() {
                g.0 += 1;
                g.1.extend(rows.iter().map(|pt| agg_row(task, role, pt)));
                let front = pick::pareto_front(&g.1);
                (ctx.progress)(Progress::Partial {
                    experiment: task.name.clone(),
                    pareto: front,
                    done_fraction: progress_fraction(g.0, layouts.len()),
                });
            }
            let worker = if rows.is_empty() { None } else { Some(w) };
            PerLayout {
                rows,
                worker,
                rejection,
                priced: out.evaluations > out.price_errors.len() as u64,
                price_error: out.price_errors.first().map(|e| e.0.clone()),
                fit: out.saw_model_fit,
                mem_fit: out.saw_memory_fit,
                evals: out.evaluations,
            }
        })
        .collect();
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut workers = Vec::new();
    let (mut any_fit, mut any_mem_fit, mut evals) = (false, false, 0u64);
    let (mut any_priced, mut first_price_error) = (false, None::<String>);
    for (r, &p) in results.into_iter().zip(&layouts) {
        any_priced |= r.priced;
        if first_price_error.is_none() {
            first_price_error = r.price_error.clone();
        }
        any_fit |= r.fit;
        any_mem_fit |= r.mem_fit;
        evals += r.evals;
        rejected.extend(r.rejection);
        rows.extend(r.rows.iter().map(|pt| agg_row(task, role, pt)));
        if let Some(w) = r.worker {
            workers.push((RoleKind::Agg, p, w));
        }
    }
    // Ties follow xpyd's documented rule (pick::tie_break).
    rows.sort_by(|a, b| {
        b.tokens_per_s_per_gpu
            .total_cmp(&a.tokens_per_s_per_gpu)
            .then_with(|| crate::search::pick::tie_break(a, b))
    });
    let failure = if rows.is_empty() {
        Some(if ctx.cancel.is_cancelled() {
            "cancelled".into()
        } else if let Some(e) = first_price_error.filter(|_| !any_priced) {
            format!("no latency data for any layout: {e}")
        } else if !any_fit {
            "the model does not fit in GPU memory for any parallel layout; try more GPUs per worker, a quantized model or a larger GPU".into()
        } else if !any_mem_fit {
            "the KV cache does not fit for any layout and batch; try more GPUs per worker or fp8 KV cache".into()
        } else {
            format!(
                "no parallel layout meets TTFT ≤ {} ms at any TPOT target; relax ttft or tpot",
                task.ttft
            )
        })
    } else {
        None
    };
    (rows, rejected, failure, evals, workers)
}
