//! One experiment end to end: enumerate layouts, sweep them in parallel,
//! pool the candidates, pick, and explain every layout that did not make it.

use super::agg::{self, AggPoint, AggWorkload};
use super::disagg::{self, DisaggRow, MatchLimits, Phase, WorkerPoint, WorkerWorkload};
use super::enumerate::{enumerate, explain_empty};
use super::grid;
use super::pick;
use super::pricer::{OpList, Pricer};
use crate::domain::{Backend, Parallel};
use crate::engine::memory::{Fit, Footprint, WorkerMemory};
use crate::exp::{Role, Roles, Task};
use crate::report::{
    AggExtra, Detail, ExperimentReport, MemoryBreakdown, OpCost, Rejection, Row, SchedulerNumbers,
    Status, StepBreakdown, WorkerRow,
};
use crate::search::control::{CancelToken, Progress};
use rayon::prelude::*;
use std::sync::Mutex;
use std::time::Instant;

/// A compiled worker ready to price: its step oracle and memory model.
pub struct BuiltWorker {
    pub pricer: Box<dyn Pricer>,
    pub memory: WorkerMemory,
    pub num_layers: u32,
}

/// Which pool a layout is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    Agg,
    Prefill,
    Decode,
}

impl RoleKind {
    fn name(self) -> &'static str {
        match self {
            RoleKind::Agg => "agg",
            RoleKind::Prefill => "prefill",
            RoleKind::Decode => "decode",
        }
    }
}

/// Builds workers for layouts of a task's roles; the reason string explains a refusal.
pub trait WorkerFactory: Sync {
    fn build(&self, task: &Task, role: RoleKind, p: Parallel) -> Result<BuiltWorker, String>;
    /// Whether the role's model is a mixture of experts (drives enumeration).
    fn is_moe(&self, task: &Task, role: RoleKind) -> bool;
}

fn gib(fp: &Footprint, role: &str, capacity: f64) -> MemoryBreakdown {
    MemoryBreakdown {
        role: role.into(),
        weights: fp.weights,
        activations: fp.activations,
        kvcache: fp.kvcache,
        nccl: fp.nccl,
        others: fp.others,
        total: fp.total,
        capacity,
    }
}

/// A labelled step: its total and its ops, costliest first.
fn step_of(label: &str, mut ops: Vec<OpCost>) -> StepBreakdown {
    let total_ms = ops.iter().map(|o| o.ms).sum();
    ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    StepBreakdown {
        label: label.into(),
        total_ms,
        ops,
    }
}

fn ops_to_step(label: &str, ops: OpList) -> StepBreakdown {
    let ops = ops
        .into_iter()
        .map(|(name, ms, source)| OpCost {
            name,
            ms,
            source,
            math_ms: None,
            mem_ms: None,
        })
        .collect();
    step_of(label, ops)
}

fn fit_reason(b: u32, fit: Fit, capacity_gib: f64) -> String {
    match fit {
        Fit::Oom { over_gib } => {
            format!("out of memory at batch {b}: needs {:.1} GiB more than the {capacity_gib:.0} GiB GPU", over_gib)
        }
        Fit::KvOom { over_gib } => {
            format!("KV cache over the backend's KV budget by {over_gib:.1} GiB at batch {b}")
        }
        Fit::Fits => String::new(),
    }
}

struct Ctx<'a> {
    task: &'a Task,
    factory: &'a dyn WorkerFactory,
    cancel: &'a CancelToken,
    progress: &'a (dyn Fn(Progress) + Sync),
}

/// Run one experiment. `top_n` rows go to `top`; with `keep_feasible` every pooled row is returned.
pub fn run_experiment(
    task: &Task,
    factory: &dyn WorkerFactory,
    top_n: usize,
    keep_feasible: bool,
    cancel: &CancelToken,
    progress: &(dyn Fn(Progress) + Sync),
) -> ExperimentReport {
    let start = Instant::now();
    let ctx = Ctx {
        task,
        factory,
        cancel,
        progress,
    };
    let (rows, rejected, failure, evaluations, workers) = match &task.roles {
        Roles::Agg { worker } => run_agg(&ctx, worker),
        Roles::Disagg {
            prefill,
            decode,
            replica,
        } => run_disagg(&ctx, prefill, decode, replica),
    };
    let mut report = base_report(task);
    report.rejected = rejected;
    report.engine_evaluations = evaluations;
    if rows.is_empty() {
        report.status = Status::NoResult;
        report.error = Some(failure.unwrap_or_else(|| "no configuration produced a result".into()));
    } else {
        report.pareto = pick::pareto_front(&rows);
        report.top = pick::top_n(&rows, task.tpot, top_n.max(1));
        // Details cost extra engine passes: only for the rows people look at.
        let mut shown: Vec<&mut Row> = report
            .pareto
            .iter_mut()
            .chain(report.top.iter_mut())
            .collect();
        shown.par_iter_mut().for_each(|r| {
            r.detail = detail_for(task, r, &workers);
        });
        report.best = report.top.first().cloned();
        report.status = Status::Ok;
        if keep_feasible {
            report.feasible = rows;
        }
    }
    report.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    report
}

fn base_report(task: &Task) -> ExperimentReport {
    let first = task.first_role();
    let decode_system = match &task.roles {
        Roles::Disagg { decode, .. } => Some(decode.system.clone()),
        Roles::Agg { .. } => None,
    };
    ExperimentReport {
        name: task.name.clone(),
        serving_mode: task.serving_mode.name().into(),
        model: first.model.clone(),
        system: first.system.clone(),
        decode_system,
        backend: first.backend.name().into(),
        backend_version: first.backend_version.clone(),
        database_mode: task.database_mode.name().into(),
        isl: task.isl,
        osl: task.osl,
        prefix: task.prefix,
        ttft: task.ttft,
        tpot: task.tpot,
        total_gpus: task.total_gpus,
        ..Default::default()
    }
}

fn progress_fraction(done: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    }
}

type Workers = Vec<(RoleKind, Parallel, BuiltWorker)>;
type Outcome = (Vec<Row>, Vec<Rejection>, Option<String>, u64, Workers);

fn run_agg(ctx: &Ctx, role: &Role) -> Outcome {
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

fn sol_step(label: &str, ops: crate::search::pricer::SolList) -> StepBreakdown {
    let ops = ops
        .into_iter()
        .map(|(name, ms, math, mem)| OpCost {
            name,
            ms,
            source: if math >= mem {
                "sol-math".into()
            } else {
                "sol-mem".into()
            },
            math_ms: Some(math),
            mem_ms: Some(mem),
        })
        .collect();
    step_of(label, ops)
}

/// Per-op, scheduler and memory detail of one shown row, from its layout's worker.
fn detail_for(task: &Task, r: &Row, workers: &Workers) -> Option<Detail> {
    let find = |kind: RoleKind, layout: Parallel| {
        workers
            .iter()
            .find(|(k, p, _)| *k == kind && *p == layout)
            .map(|(_, _, w)| w)
    };
    let gib_of = |w: &BuiltWorker| w.memory.capacity_bytes / crate::numeric::GIB;
    if let Some(a) = &r.agg {
        let w = find(RoleKind::Agg, a.layout)?;
        let old = r.detail.clone().unwrap_or_default();
        let sched = old.scheduler.clone()?;
        let bs = r.bs.unwrap_or(0);
        let genonly_batch = if sched.num_genonly_steps > 0.0 || bs == 1 {
            bs
        } else {
            0
        };
        let mut steps = Vec::new();
        if let Some((mixed, genonly)) = w.pricer.agg_ops(
            sched.mix_context_tokens,
            sched.mix_decode_requests,
            genonly_batch,
        ) {
            steps.push(ops_to_step("mixed step", mixed));
            if !genonly.is_empty() {
                steps.push(ops_to_step("gen-only step", genonly));
            }
        }
        let memory = old
            .memory
            .into_iter()
            .map(|m| MemoryBreakdown {
                capacity: gib_of(w),
                ..m
            })
            .collect();
        let mut sol_full = Vec::new();
        sol_full.extend(
            w.pricer
                .sol_full(1, true)
                .map(|o| sol_step("prefill of one request (SOL_FULL)", o)),
        );
        sol_full.extend(
            w.pricer
                .sol_full(bs, false)
                .map(|o| sol_step("decode step (SOL_FULL)", o)),
        );
        return Some(Detail {
            steps,
            memory,
            scheduler: Some(sched),
            sol_full,
        });
    }
    let (p, d) = (r.prefill.as_ref()?, r.decode.as_ref()?);
    let t = &task.tuning;
    let progress = if task.nextn > 0 {
        1.0 + task.nextn_accepted.max(0.0)
    } else {
        1.0
    };
    let mut detail = r.detail.clone().unwrap_or_default();
    let mut steps = Vec::new();
    let mut sol = Vec::new();
    for (kind, wr, label, scale) in [
        (
            RoleKind::Prefill,
            p,
            "prefill (static ctx)",
            t.prefill_latency_correction,
        ),
        (
            RoleKind::Decode,
            d,
            "decode (static gen)",
            t.decode_latency_correction / progress,
        ),
    ] {
        if let Some(w) = find(kind, wr.layout) {
            if let Some(ops) = w.pricer.static_ops(wr.bs, kind == RoleKind::Prefill) {
                steps.push(ops_to_step(
                    label,
                    ops.into_iter()
                        .map(|(n, ms, s)| (n, ms * scale, s))
                        .collect(),
                ));
            }
            let prefill = kind == RoleKind::Prefill;
            let sol_label = if prefill {
                "prefill (SOL_FULL)"
            } else {
                "decode step (SOL_FULL)"
            };
            sol.extend(
                w.pricer
                    .sol_full(wr.bs, prefill)
                    .map(|o| sol_step(sol_label, o)),
            );
            for m in detail.memory.iter_mut().filter(|m| m.role == kind.name()) {
                m.capacity = gib_of(w);
            }
        }
    }
    detail.steps = steps;
    detail.sol_full = sol;
    Some(detail)
}

fn agg_row(task: &Task, role: &Role, pt: &AggPoint) -> Row {
    let g = pt.parallel.gpus();
    let replicas = pick::replicas(g, task.total_gpus);
    let nctx = pt.ctx_tokens.div_ceil(task.isl.max(1));
    let (num_ctx, num_gen) = if pt.bs == 1 {
        (1, 1)
    } else {
        (nctx, pt.bs.saturating_sub(nctx))
    };
    let q = role.quant;
    Row {
        tokens_per_s_per_gpu: pt.tokens_s_gpu,
        tokens_per_s_per_gpu_cluster: pick::cluster_tokens_per_gpu(
            pt.tokens_s_gpu,
            g,
            task.total_gpus,
        ),
        tokens_per_s_per_user: pt.tokens_s_user,
        ttft_ms: pt.ttft,
        tpot_ms: pt.tpot,
        request_latency_ms: pt.request_latency,
        request_rate: pt.request_rate * replicas as f64,
        concurrency: pt.concurrency * replicas as f64,
        num_total_gpus: g,
        replicas,
        total_gpus_used: replicas * g,
        memory_gib: crate::numeric::round_half_even(pt.memory.total, 3),
        sla_met: pt.raw_tpot <= task.tpot,
        seq_per_s: pt.seq_s,
        seq_per_s_per_gpu: pt.seq_s_gpu,
        tokens_per_s: pt.tokens_s,
        parallel: Some(pt.parallel.to_string()),
        bs: Some(pt.bs),
        gpus_per_worker: Some(g),
        ctx_tokens: Some(pt.ctx_tokens),
        agg: Some(AggExtra {
            layout: pt.parallel,
            global_bs: pt.global_bs,
            balance_score: crate::numeric::round_half_even(
                task.isl as f64 * pt.bs as f64
                    / pt.ctx_tokens as f64
                    / (1.0
                        + (task.osl.saturating_sub(1)) as f64
                            / (1.0
                                + if task.nextn > 0 {
                                    task.nextn_accepted
                                } else {
                                    0.0
                                })),
                3,
            ),
            num_ctx_reqs: num_ctx,
            num_gen_reqs: num_gen,
            num_tokens: if pt.bs > 1 {
                num_gen + pt.ctx_tokens
            } else {
                pt.ctx_tokens
            },
            gen_tokens: num_gen,
            gemm: q.gemm.name().into(),
            kvcache: q.kvcache.name().into(),
            fmha: q.fmha.name().into(),
            moe: q.moe.name().into(),
            comm: q.comm.name().into(),
            system: role.system.clone(),
            backend: role.backend.name().into(),
            version: role.backend_version.clone(),
        }),
        prefill: None,
        decode: None,
        detail: Some(Detail {
            steps: Vec::new(),
            memory: vec![gib(&pt.memory, "agg", 0.0)],
            scheduler: Some(SchedulerNumbers {
                num_mix_steps: pt.num_mix_steps,
                num_genonly_steps: pt.num_genonly_steps,
                mix_step_ms: pt.mix_step_ms,
                genonly_step_ms: pt.genonly_step_ms,
                mix_context_tokens: pt.ctx_tokens,
                mix_decode_requests: pt.mix_decode_requests,
                ttft_queue_factor: pt.queue_factor,
            }),
            sol_full: Vec::new(),
        }),
    }
}

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

fn run_disagg(
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
    };
    // While decode layouts are still being priced, show the front of what is
    // matched so far (a lower bound of the final one), at most every 30 ms so
    // the extra matching stays small.
    let last_shown = std::sync::Mutex::new(None::<std::time::Instant>);
    let stream = |decode_pts: &[WorkerPoint], frac: f64| {
        if frac >= 1.0 || p.points.is_empty() || decode_pts.is_empty() {
            return;
        }
        let Ok(mut last) = last_shown.try_lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(30)) {
            return;
        }
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
        *last = Some(std::time::Instant::now());
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
            };
            disagg_row(task, prefill, decode, m, detail)
        })
        .collect();
    let mut workers = p.workers;
    workers.extend(d.workers);
    (rows, rejected, None, evals, workers)
}

fn worker_row(role: &Role, w: &WorkerPoint, workers: u32, latency: f64) -> WorkerRow {
    let q = role.quant;
    WorkerRow {
        parallel: w.parallel.to_string(),
        layout: w.parallel,
        workers,
        gpus_per_worker: w.gpus,
        bs: w.bs,
        global_bs: w.global_bs,
        memory_gib: crate::numeric::round_half_even(w.memory.total, 3),
        seq_per_s_per_worker: w.seq_s,
        latency_ms: latency,
        gemm: q.gemm.name().into(),
        kvcache: q.kvcache.name().into(),
        fmha: q.fmha.name().into(),
        moe: q.moe.name().into(),
        comm: q.comm.name().into(),
        system: role.system.clone(),
        backend: role.backend.name().into(),
        version: role.backend_version.clone(),
    }
}

fn disagg_row(task: &Task, prole: &Role, drole: &Role, m: &DisaggRow, detail: Detail) -> Row {
    let g = m.num_total_gpus;
    let replicas = pick::replicas(g, task.total_gpus);
    let pw = worker_row(prole, &m.prefill, m.prefill_workers, m.ttft);
    let dw = worker_row(drole, &m.decode, m.decode_workers, m.tpot);
    Row {
        tokens_per_s_per_gpu: m.tokens_s_gpu,
        tokens_per_s_per_gpu_cluster: pick::cluster_tokens_per_gpu(
            m.tokens_s_gpu,
            g,
            task.total_gpus,
        ),
        tokens_per_s_per_user: m.tokens_s_user,
        ttft_ms: m.ttft,
        tpot_ms: m.tpot,
        request_latency_ms: m.request_latency,
        request_rate: m.request_rate * replicas as f64,
        concurrency: m.concurrency * replicas as f64,
        num_total_gpus: g,
        replicas,
        total_gpus_used: replicas * g,
        memory_gib: pw.memory_gib.max(dw.memory_gib),
        sla_met: m.tpot <= task.tpot,
        seq_per_s: m.seq_s,
        seq_per_s_per_gpu: m.seq_s_gpu,
        tokens_per_s: m.tokens_s,
        parallel: None,
        bs: None,
        gpus_per_worker: None,
        ctx_tokens: None,
        agg: None,
        prefill: Some(pw),
        decode: Some(dw),
        detail: Some(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DbMode, Quant, ServingMode};
    use crate::engine::memory::KvLayout;
    use crate::exp::{Family, ReplicaConfig, SearchSpace, Tuning};
    use crate::numeric::GIB;
    use crate::search::pricer::PriceError;

    /// Closed-form step costs that scale like a real GPU: weights read once per
    /// step, per-token compute, tp divides both.
    struct Linear {
        tp: f64,
    }
    impl Pricer for Linear {
        fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError> {
            Ok((20.0 + 0.02 * ctx as f64 + 0.05 * gen as f64) / self.tp)
        }
        fn genonly_step(&self, b: u32) -> Result<f64, PriceError> {
            Ok((20.0 + 0.05 * b as f64) / self.tp)
        }
        fn static_ctx(&self, b: u32) -> Result<f64, PriceError> {
            Ok((20.0 + 0.02 * 4000.0 * b as f64) / self.tp)
        }
        fn static_gen(&self, b: u32) -> Result<f64, PriceError> {
            Ok(999.0 * (20.0 + 0.05 * b as f64) / self.tp)
        }
    }

    struct Fake;
    impl WorkerFactory for Fake {
        fn build(&self, _task: &Task, _role: RoleKind, p: Parallel) -> Result<BuiltWorker, String> {
            if p.tp == 8 {
                return Err("64 heads do not divide... (test refusal)".into());
            }
            Ok(BuiltWorker {
                pricer: Box::new(Linear { tp: p.tp as f64 }),
                memory: WorkerMemory {
                    backend: Backend::Trtllm,
                    family: Family::Llama,
                    tp: p.tp,
                    pp: 1,
                    dp: 1,
                    moe_ep: 1,
                    nextn: 0,
                    weight_bytes: 60.0 * GIB / p.tp as f64,
                    act_width: 8192.0,
                    hidden: 5120.0,
                    num_experts: 0,
                    topk: 0,
                    kv: KvLayout::Gqa {
                        kv_heads: 8,
                        head_dim: 128,
                        layers: 64,
                    },
                    kv_bytes_per_elem: 2.0,
                    nccl_mem: [0.0; 4],
                    other_mem: 3.5 * GIB,
                    capacity_bytes: 80.0 * GIB,
                    backend_version: "x".into(),
                },
                num_layers: 64,
            })
        }
        fn is_moe(&self, _: &Task, _: RoleKind) -> bool {
            false
        }
    }

    fn role() -> Role {
        Role {
            model: "m".into(),
            system: "s".into(),
            backend: Backend::Trtllm,
            backend_version: "x".into(),
            quant: Quant::default(),
            search: SearchSpace {
                num_gpu: vec![1, 2, 4, 8],
                tp: vec![1, 2, 4, 8],
                pp: vec![1],
                dp: vec![1],
                moe_tp: vec![1],
                moe_ep: vec![1],
                cp: vec![1],
            },
            enable_wideep: false,
        }
    }

    fn task(mode: ServingMode) -> Task {
        let roles = match mode {
            ServingMode::Agg => Roles::Agg { worker: role() },
            ServingMode::Disagg => Roles::Disagg {
                prefill: role(),
                decode: role(),
                replica: ReplicaConfig {
                    num_gpu_per_replica: vec![1, 2, 4, 8, 16],
                    max_gpu_per_replica: 16,
                    max_prefill_workers: 32,
                    max_decode_workers: 32,
                },
            },
        };
        Task {
            name: "t".into(),
            serving_mode: mode,
            isl: 4000,
            osl: 1000,
            prefix: 0,
            ttft: 1000.0,
            tpot: 50.0,
            total_gpus: 16,
            database_mode: DbMode::Sol,
            nextn: 0,
            nextn_accepted: 0.0,
            moe_backend: None,
            attention_backend: None,
            roles,
            tuning: Tuning::default(),
            notes: Vec::new(),
        }
    }

    fn check_invariants(r: &ExperimentReport, total: u32) {
        assert_eq!(r.status, Status::Ok, "{:?}", r.error);
        for row in r.pareto.iter().chain(&r.top) {
            assert!(row.replicas * row.num_total_gpus <= total);
            assert!(row.ttft_ms > 0.0 && row.ttft_ms.is_finite());
            assert!(row.tpot_ms > 0.0 && row.tpot_ms.is_finite());
            if let (Some(p), Some(d)) = (&row.prefill, &row.decode) {
                assert_eq!(
                    row.num_total_gpus,
                    p.workers * p.gpus_per_worker + d.workers * d.gpus_per_worker
                );
            }
        }
        let best = r.best.as_ref().expect("best");
        assert!(best.sla_met && best.tpot_ms <= r.tpot);
        for w in r.pareto.windows(2) {
            assert!(w[0].tokens_per_s_per_user <= w[1].tokens_per_s_per_user);
            assert!(w[0].tokens_per_s_per_gpu_cluster > w[1].tokens_per_s_per_gpu_cluster);
        }
        assert!(r
            .rejected
            .iter()
            .any(|x| x.parallel.starts_with("tp8") && x.reason.contains("test refusal")));
    }

    #[test]
    fn agg_and_disagg_end_to_end_on_a_fake_engine() {
        let cancel = CancelToken::new();
        let partials = Mutex::new(0);
        let progress = |p: Progress| {
            if let Progress::Partial { .. } = p {
                *partials.lock().unwrap() += 1;
            }
        };
        let agg = run_experiment(&task(ServingMode::Agg), &Fake, 5, false, &cancel, &progress);
        check_invariants(&agg, 16);
        assert!(agg.top.len() <= 3, "one row per layout");
        assert!(*partials.lock().unwrap() >= 1);
        assert!(agg
            .best
            .as_ref()
            .and_then(|b| b.detail.as_ref())
            .and_then(|d| d.scheduler.as_ref())
            .is_some());
        // Disagg streams the front of the decode layouts matched so far.
        let streamed = Mutex::new(Vec::new());
        let on_disagg = |p: Progress| {
            if let Progress::Partial {
                pareto,
                done_fraction,
                ..
            } = p
            {
                streamed.lock().unwrap().push((pareto, done_fraction));
            }
        };
        let dis = run_experiment(
            &task(ServingMode::Disagg),
            &Fake,
            5,
            false,
            &cancel,
            &on_disagg,
        );
        check_invariants(&dis, 16);
        let streamed = streamed.into_inner().unwrap();
        assert!(!streamed.is_empty(), "no partial disagg front");
        let best = dis.best.as_ref().unwrap().tokens_per_s_per_gpu_cluster;
        for (front, frac) in &streamed {
            assert!(*frac > 0.0 && *frac < 1.0);
            assert!(!front.is_empty());
            // A partial front never beats the final one.
            for r in front.iter().filter(|r| r.sla_met) {
                assert!(r.tokens_per_s_per_gpu_cluster <= best + 1e-9);
            }
        }
    }

    #[test]
    fn impossible_sla_falls_back_to_closest() {
        let mut t = task(ServingMode::Agg);
        t.tpot = 0.5;
        let r = run_experiment(&t, &Fake, 5, false, &CancelToken::new(), &|_| {});
        assert_eq!(r.status, Status::Ok);
        assert!(r.top.iter().all(|x| !x.sla_met));
        assert!(r.top.windows(2).all(|w| w[0].tpot_ms <= w[1].tpot_ms));
    }

    #[test]
    fn nothing_fits_reports_why() {
        let mut t = task(ServingMode::Agg);
        t.ttft = 1.0;
        let r = run_experiment(&t, &Fake, 5, false, &CancelToken::new(), &|_| {});
        assert_eq!(r.status, Status::NoResult);
        assert!(
            r.error.as_deref().unwrap_or("").contains("TTFT"),
            "{:?}",
            r.error
        );
        assert!(r.rejected.iter().any(|x| x.parallel == "tp1pp1dp1etp1ep1"));
    }
}
