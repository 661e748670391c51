//! The disaggregated runner: sweep the prefill pool, then the decode pool
//! (streaming the front matched so far), rate-match them into xPyD rows, and
//! say why nothing matched when nothing did.

use super::detail::gib;
use super::rows::disagg_row;
use super::{fit_reason, progress_fraction, BuiltWorker, Ctx, Outcome, RoleKind, Workers};
use crate::domain::Backend;
use crate::exp::Role;
use crate::report::{Detail, Rejection, Row};
use crate::search::control::Progress;
use crate::search::disagg::{self, MatchLimits, Phase, WorkerPoint, WorkerWorkload};
use crate::search::enumerate::{enumerate, explain_empty};
use crate::search::{grid, pick};
use rayon::prelude::*;

struct PoolOutcome {
    points: Vec<WorkerPoint>,
    rejected: Vec<Rejection>,
    evals: u64,
    workers: Workers,
}

/// Called with every point priced so far and the fraction of layouts done,
/// each time a layout finishes (for streaming partial fronts).
type OnLayout<'a> = &'a (dyn Fn(&[WorkerPoint], f64) + Sync);

fn sweep_pool(
    ctx: &Ctx,
    role: &Role,
    kind: RoleKind,
    batches: Vec<u32>,
    correction: f64,
    on_layout: Option<OnLayout>,
) -> PoolOutcome {
    let task = ctx.task;
    let is_moe = ctx.factory.is_moe(task, kind);
    let layouts = enumerate(
        &role.search,
        is_moe,
        role.backend,
        task.moe_backend.as_deref(),
    );
    let mut out = PoolOutcome {
        points: Vec::new(),
        rejected: Vec::new(),
        evals: 0,
        workers: Vec::new(),
    };
    if layouts.is_empty() {
        out.rejected.push(Rejection {
            role: kind.name().into(),
            parallel: "-".into(),
            reason: format!(
                "no parallel layout to search: {}",
                explain_empty(&role.search, is_moe, role.backend)
            ),
        });
        return out;
    }
    let phase = if kind == RoleKind::Prefill {
        Phase::Prefill
    } else {
        Phase::Decode
    };
    let progress = if kind == RoleKind::Decode && task.nextn > 0 {
        1.0 + task.nextn_accepted.max(0.0)
    } else {
        1.0
    };
    let wl = WorkerWorkload {
        phase,
        backend: role.backend,
        isl: task.isl,
        osl: task.osl,
        prefix: task.prefix,
        correction,
        batches,
        progress,
    };
    let so_far = std::sync::Mutex::new((0usize, Vec::<WorkerPoint>::new()));
    // Per layout: its points, why it was dropped, evaluations, its worker.
    type LayoutOutcome = (
        Vec<WorkerPoint>,
        Option<Rejection>,
        u64,
        Option<BuiltWorker>,
    );
    let results: Vec<LayoutOutcome> = layouts
        .par_iter()
        .map(|&p| {
            let reject = |reason: String| Rejection {
                role: kind.name().into(),
                parallel: p.to_string(),
                reason,
            };
            if ctx.cancel.is_cancelled() {
                return (Vec::new(), Some(reject("cancelled".into())), 0, None);
            }
            let w = match ctx.factory.build(task, kind, p) {
                Ok(w) => w,
                Err(reason) => return (Vec::new(), Some(reject(reason)), 0, None),
            };
            let cap = w.memory.capacity_bytes / crate::numeric::GIB;
            let o = disagg::sweep_worker(w.pricer.as_ref(), &w.memory, &wl, p, ctx.cancel);
            if let Some(f) = on_layout {
                // Copy out under the lock, call outside it: other layouts keep going.
                let seen = so_far.lock().ok().map(|mut g| {
                    g.0 += 1;
                    g.1.extend(o.points.iter().cloned());
                    (g.1.clone(), progress_fraction(g.0, layouts.len()))
                });
                if let Some((pts, frac)) = seen {
                    f(&pts, frac);
                }
            }
            if o.points.is_empty() {
                let reason = match (o.first_oom, o.price_errors.first()) {
                    (Some((b, fit)), _) => fit_reason(b, fit, cap),
                    (None, Some(e)) => format!("no latency data: {e}"),
                    _ => "no batch size could be priced".into(),
                };
                return (Vec::new(), Some(reject(reason)), o.evaluations, None);
            }
            (o.points, None, o.evaluations, Some(w))
        })
        .collect();
    for ((pts, rej, evals, w), &p) in results.into_iter().zip(&layouts) {
        out.points.extend(pts);
        out.rejected.extend(rej);
        out.evals += evals;
        if let Some(w) = w {
            out.workers.push((kind, p, w));
        }
    }
    out
}

pub(super) fn run_disagg(
    ctx: &Ctx,
    prefill: &Role,
    decode: &Role,
    replica: &crate::exp::ReplicaConfig,
) -> Outcome {
    let task = ctx.task;
    let t = &task.tuning;
    let p = sweep_pool(
        ctx,
        prefill,
        RoleKind::Prefill,
        disagg::prefill_batches(t.prefill_max_batch_size),
        t.prefill_latency_correction,
        None,
    );
    let lim = MatchLimits {
        replica_sizes: replica.num_gpu_per_replica.clone(),
        max_prefill_workers: replica.max_prefill_workers,
        max_decode_workers: replica.max_decode_workers,
        prefill_degradation: t.rate_match_prefill_degradation,
        decode_degradation: t.rate_match_decode_degradation,
        ttft_factor: t.autoscale_ttft_correction_factor,
        require_same_tp: prefill.backend == Backend::Sglang,
        large_ep_sizes: [
            prefill.large_ep_sizes.clone(),
            decode.large_ep_sizes.clone(),
        ],
    };
    // While decode layouts are still being priced, show the front of what is
    // matched so far (a lower bound of the final one). Display only: the
    // final rows come from the full match below. The gap after a match is at
    // least 30 ms and at least 4× what that match took, so streaming costs at
    // most a fifth of one core even when matching is slow (large pools, e.g.
    // gpt-oss with prefix caching, where a fixed 30 ms gap kept one of two
    // cores matching).
    let last_shown = std::sync::Mutex::new(None::<(std::time::Instant, std::time::Duration)>);
    let stream = |decode_pts: &[WorkerPoint], frac: f64| {
        if frac >= 1.0 || p.points.is_empty() || decode_pts.is_empty() {
            return;
        }
        let Ok(mut last) = last_shown.try_lock() else {
            return;
        };
        let gap = |took: std::time::Duration| (took * 4).max(std::time::Duration::from_millis(30));
        if last.is_some_and(|(t, took)| t.elapsed() < gap(took)) {
            return;
        }
        let started = std::time::Instant::now();
        let matched = disagg::rate_match(
            &p.points,
            decode_pts,
            task.ttft,
            &grid::tpot_grid(),
            task.osl,
            &lim,
        );
        let rows: Vec<Row> = matched
            .iter()
            .map(|m| disagg_row(task, prefill, decode, m, Detail::default()))
            .collect();
        (ctx.progress)(Progress::Partial {
            experiment: task.name.clone(),
            pareto: pick::pareto_front(&rows),
            done_fraction: frac,
        });
        *last = Some((std::time::Instant::now(), started.elapsed()));
    };
    let d = sweep_pool(
        ctx,
        decode,
        RoleKind::Decode,
        disagg::decode_batches(t.decode_max_batch_size),
        t.decode_latency_correction,
        Some(&stream),
    );
    let mut rejected = p.rejected;
    rejected.extend(d.rejected);
    let evals = p.evals + d.evals;
    if p.points.is_empty() || d.points.is_empty() {
        let which = if p.points.is_empty() {
            "prefill"
        } else {
            "decode"
        };
        return (
            Vec::new(),
            rejected,
            Some(format!("no {which} worker fits: see the rejected layouts")),
            evals,
            Vec::new(),
        );
    }
    let matched = disagg::rate_match(
        &p.points,
        &d.points,
        task.ttft,
        &grid::tpot_grid(),
        task.osl,
        &lim,
    );
    if matched.is_empty() {
        let fastest = p
            .points
            .iter()
            .map(|x| x.ttft * lim.ttft_factor)
            .fold(f64::INFINITY, f64::min);
        let reason = if fastest >= task.ttft {
            format!(
                "no prefill worker meets TTFT: the fastest needs {:.1} ms (×{} autoscale correction) ≥ {} ms",
                fastest, lim.ttft_factor, task.ttft
            )
        } else {
            format!(
                "no xPyD combination fits the replica sizes {:?} (max {} prefill / {} decode workers)",
                lim.replica_sizes, lim.max_prefill_workers, lim.max_decode_workers
            )
        };
        rejected.push(Rejection {
            role: "xpyd".into(),
            parallel: "-".into(),
            reason: reason.clone(),
        });
        return (Vec::new(), rejected, Some(reason), evals, Vec::new());
    }
    let cap = |ws: &Workers| {
        ws.first()
            .map(|(_, _, w)| w.memory.capacity_bytes / crate::numeric::GIB)
            .unwrap_or(0.0)
    };
    let (pcap, dcap) = (cap(&p.workers), cap(&d.workers));
    let rows = matched
        .iter()
        .map(|m| {
            let detail = Detail {
                steps: Vec::new(),
                memory: vec![
                    gib(&m.prefill.memory, "prefill", pcap),
                    gib(&m.decode.memory, "decode", dcap),
                ],
                scheduler: None,
                sol_full: Vec::new(),
                timing: None,
            };
            disagg_row(task, prefill, decode, m, detail)
        })
        .collect();
    let mut workers = p.workers;
    workers.extend(d.workers);
    (rows, rejected, None, evals, workers)
}
