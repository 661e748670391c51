//! One given configuration priced on its own, without a search: the agg
//! worker at one (batch, ctx tokens) point, or an xPyD replica with fixed
//! prefill/decode layouts, batches and worker counts (`xpyd estimate`).
//!
//! The numbers come from the same scheduler and rate-matching formulas the
//! search uses, so an estimate of a searched row reproduces it.

use super::detail::{detail_for, gib};
use super::rows::{agg_row, disagg_row};
use super::{RoleKind, WorkerFactory, Workers};
use crate::domain::{Backend, Parallel};
use crate::engine::memory::Fit;
use crate::exp::{Roles, Task};
use crate::report::{Detail, Row};
use crate::search::agg::{self, AggWorkload};
use crate::search::control::CancelToken;
use crate::search::disagg::{self, MatchLimits, Phase, WorkerWorkload};

/// A priced configuration: the row (with its per-op detail) and, when the
/// KV cache of the requested batch is over the backend's KV budget (the
/// model itself fits), how many GiB over. The serving engine would queue
/// the excess requests, so the row is optimistic then.
#[derive(Clone, Debug)]
pub struct PricedPoint {
    pub row: Row,
    pub kv_over_gib: Option<f64>,
}

/// Why a configuration could not be priced.
#[derive(Clone, Debug, PartialEq)]
pub enum PointError {
    /// The worker does not fit in GPU memory (`role`: agg, prefill or decode).
    Oom { role: String, over_gib: f64 },
    /// Anything else: the layout cannot be built, no latency data, ...
    Other(String),
}

impl std::fmt::Display for PointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointError::Oom { role, over_gib } => write!(
                f,
                "the {role} worker does not fit in GPU memory ({over_gib:.1} GiB over)"
            ),
            PointError::Other(m) => f.write_str(m),
        }
    }
}

/// Price the agg worker of `task` with layout `p` at batch `bs` and a
/// context-token budget of `ctx_tokens` per mixed step; `kv_fraction`
/// replaces the backend's default KV memory fraction.
pub fn price_agg_point(
    task: &Task,
    factory: &dyn WorkerFactory,
    p: Parallel,
    bs: u32,
    ctx_tokens: u32,
    kv_fraction: Option<f64>,
) -> Result<PricedPoint, PointError> {
    let Roles::Agg { worker: role } = &task.roles else {
        return Err(PointError::Other("not an agg experiment".into()));
    };
    let mut w = factory
        .build(task, RoleKind::Agg, p)
        .map_err(PointError::Other)?;
    w.memory.kv_fraction = kv_fraction.or(w.memory.kv_fraction);
    let wl = AggWorkload {
        backend: role.backend,
        isl: task.isl,
        osl: task.osl,
        prefix: task.prefix,
        ttft: f64::INFINITY,
        progress: mtp_progress(task),
        num_layers: w.num_layers,
        max_batch: bs,
    };
    let (pt, fit) = agg::price_point(w.pricer.as_ref(), &w.memory, &wl, p, bs, ctx_tokens)
        .map_err(|e| PointError::Other(format!("no latency data: {e}")))?;
    let kv_over_gib = match fit {
        Fit::Oom { over_gib } => {
            return Err(PointError::Oom {
                role: "agg".into(),
                over_gib,
            })
        }
        Fit::KvOom { over_gib } => Some(over_gib),
        Fit::Fits => None,
    };
    let mut row = agg_row(task, role, &pt);
    let workers: Workers = vec![(RoleKind::Agg, p, w)];
    row.detail = detail_for(task, &row, &workers);
    Ok(PricedPoint { row, kv_over_gib })
}

/// One pool of a fixed xPyD replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPool {
    pub layout: Parallel,
    /// Per-rank batch size.
    pub bs: u32,
    pub workers: u32,
    /// Replaces the backend's default KV memory fraction for this pool.
    pub kv_fraction: Option<f64>,
}

/// Price the disagg replica of `task` made of `prefill` and `decode` pools.
/// The TTFT carries the autoscale correction and the rate is the smaller of
/// the degraded prefill and decode rates, as in the search's rate matching.
pub fn price_disagg_point(
    task: &Task,
    factory: &dyn WorkerFactory,
    prefill: FixedPool,
    decode: FixedPool,
) -> Result<PricedPoint, PointError> {
    let Roles::Disagg {
        prefill: prole,
        decode: drole,
        ..
    } = &task.roles
    else {
        return Err(PointError::Other("not a disagg experiment".into()));
    };
    let t = &task.tuning;
    let cancel = CancelToken::new();
    let mut workers: Workers = Vec::new();
    let mut points = Vec::new();
    for (kind, role, pool, correction) in [
        (
            RoleKind::Prefill,
            prole,
            prefill,
            t.prefill_latency_correction,
        ),
        (RoleKind::Decode, drole, decode, t.decode_latency_correction),
    ] {
        let mut w = factory
            .build(task, kind, pool.layout)
            .map_err(|e| PointError::Other(format!("{} worker: {e}", kind.name())))?;
        w.memory.kv_fraction = pool.kv_fraction.or(w.memory.kv_fraction);
        let wl = WorkerWorkload {
            phase: if kind == RoleKind::Prefill {
                Phase::Prefill
            } else {
                Phase::Decode
            },
            backend: role.backend,
            isl: task.isl,
            osl: task.osl,
            prefix: task.prefix,
            correction,
            batches: vec![pool.bs],
            progress: if kind == RoleKind::Decode {
                mtp_progress(task)
            } else {
                1.0
            },
        };
        let o = disagg::sweep_worker(w.pricer.as_ref(), &w.memory, &wl, pool.layout, &cancel);
        let Some(point) = o.points.into_iter().next() else {
            return Err(match (o.first_oom, o.price_errors.first()) {
                (Some((_, Fit::Oom { over_gib })), _) => PointError::Oom {
                    role: kind.name().into(),
                    over_gib,
                },
                (Some((b, Fit::KvOom { over_gib })), _) => PointError::Oom {
                    role: format!("{} (KV cache of batch {b})", kind.name()),
                    over_gib,
                },
                (_, Some(e)) => {
                    PointError::Other(format!("{} worker: no latency data: {e}", kind.name()))
                }
                _ => PointError::Other(format!("{} worker could not be priced", kind.name())),
            });
        };
        let cap = w.memory.capacity_bytes / crate::numeric::GIB;
        workers.push((kind, pool.layout, w));
        points.push((point, cap));
    }
    let (d, dcap) = points
        .pop()
        .ok_or_else(|| PointError::Other("no decode".into()))?;
    let (mut p, pcap) = points
        .pop()
        .ok_or_else(|| PointError::Other("no prefill".into()))?;
    p.ttft *= t.autoscale_ttft_correction_factor;
    let lim = MatchLimits {
        replica_sizes: Vec::new(),
        max_prefill_workers: prefill.workers,
        max_decode_workers: decode.workers,
        prefill_degradation: t.rate_match_prefill_degradation,
        decode_degradation: t.rate_match_decode_degradation,
        ttft_factor: t.autoscale_ttft_correction_factor,
        require_same_tp: prole.backend == Backend::Sglang,
        large_ep_sizes: [prole.large_ep_sizes.clone(), drole.large_ep_sizes.clone()],
    };
    let m = disagg::compose(&p, prefill.workers, &d, decode.workers, task.osl, &lim);
    let detail = Detail {
        memory: vec![
            gib(&m.prefill.memory, "prefill", pcap),
            gib(&m.decode.memory, "decode", dcap),
        ],
        ..Default::default()
    };
    let mut row = disagg_row(task, prole, drole, &m, detail);
    row.detail = detail_for(task, &row, &workers);
    Ok(PricedPoint {
        row,
        kv_over_gib: None,
    })
}

/// Decode tokens committed per step: 1 + expected accepted drafts with MTP.
fn mtp_progress(task: &Task) -> f64 {
    if task.nextn > 0 {
        1.0 + task.nextn_accepted.max(0.0)
    } else {
        1.0
    }
}

/// Which passes a static estimate prices: the prefill of the batch, its
/// decode, or both one after the other (no in-flight batching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticPhases {
    Both,
    Prefill,
    Decode,
}

/// Price one static batch of `bs` requests on the agg worker of `task`:
/// TTFT is the prefill pass, TPOT the decode pass over osl − 1 steps, and the
/// throughput that of the batch finishing both (or the one phase asked for).
pub fn price_static_point(
    task: &Task,
    factory: &dyn WorkerFactory,
    p: Parallel,
    bs: u32,
    phases: StaticPhases,
) -> Result<PricedPoint, PointError> {
    let Roles::Agg { .. } = &task.roles else {
        return Err(PointError::Other("not an agg experiment".into()));
    };
    let w = factory
        .build(task, RoleKind::Agg, p)
        .map_err(PointError::Other)?;
    let price =
        |e: crate::search::pricer::PriceError| PointError::Other(format!("no latency data: {e}"));
    let ctx = if phases == StaticPhases::Decode {
        0.0
    } else {
        w.pricer.static_ctx(bs).map_err(price)?
    };
    let steps = task.osl.saturating_sub(1);
    let gen = if phases == StaticPhases::Prefill || steps == 0 {
        0.0
    } else {
        w.pricer.static_gen(bs).map_err(price)? / mtp_progress(task)
    };
    let r3 = |x: f64| crate::numeric::round_half_even(x, 3);
    let tpot = if gen > 0.0 {
        gen / f64::from(steps)
    } else {
        0.0
    };
    let latency = ctx + gen;
    let seq_s = if latency > 0.0 {
        f64::from(bs) * 1000.0 / latency
    } else {
        0.0
    };
    // Tokens a request yields in the phases priced: the first token comes
    // out of the prefill, the rest from the decode steps.
    let tokens_out = match phases {
        StaticPhases::Prefill => 1.0,
        StaticPhases::Decode => f64::from(steps),
        StaticPhases::Both => f64::from(task.osl),
    };
    let gpus = p.gpus();
    let tokens_s = seq_s * tokens_out;
    // The footprint of the batch at its longest: the whole sequence in KV.
    let fp = w.memory.footprint(&crate::engine::memory::StepShape {
        batch: bs,
        num_tokens: if phases == StaticPhases::Decode {
            u64::from(bs)
        } else {
            u64::from(bs) * u64::from(task.isl)
        },
        isl: task.isl,
        osl: if phases == StaticPhases::Prefill {
            1
        } else {
            task.osl
        },
        prefix: task.prefix,
        max_seq_len: None,
        mtp: crate::engine::memory::MtpScaling::Full,
    });
    let kv_over_gib = match w.memory.check(&fp, true) {
        Fit::Oom { over_gib } => {
            return Err(PointError::Oom {
                role: "static".into(),
                over_gib,
            })
        }
        Fit::KvOom { over_gib } => Some(over_gib),
        Fit::Fits => None,
    };
    let row = Row {
        tokens_per_s_per_gpu: r3(tokens_s / f64::from(gpus)),
        tokens_per_s_per_gpu_cluster: r3(tokens_s / f64::from(gpus)),
        tokens_per_s_per_user: if tpot > 0.0 { r3(1000.0 / tpot) } else { 0.0 },
        ttft_ms: r3(ctx),
        tpot_ms: r3(tpot),
        request_latency_ms: r3(latency),
        request_rate: r3(seq_s),
        concurrency: f64::from(bs),
        num_total_gpus: gpus,
        replicas: 1,
        total_gpus_used: gpus,
        memory_gib: r3(fp.total),
        sla_met: tpot <= task.tpot,
        seq_per_s: r3(seq_s),
        seq_per_s_per_gpu: r3(seq_s / f64::from(gpus)),
        tokens_per_s: r3(tokens_s),
        parallel: Some(p.to_string()),
        bs: Some(bs),
        gpus_per_worker: Some(gpus),
        ctx_tokens: Some(task.isl),
        detail: Some(Detail {
            memory: vec![gib(
                &fp,
                "static",
                w.memory.capacity_bytes / crate::numeric::GIB,
            )],
            steps: [
                (true, phases != StaticPhases::Decode),
                (false, phases != StaticPhases::Prefill),
            ]
            .into_iter()
            .filter(|(_, on)| *on)
            .filter_map(|(prefill, _)| {
                let ops = w.pricer.static_ops(bs, prefill)?;
                let label = if prefill {
                    "prefill pass"
                } else {
                    "decode pass (all steps)"
                };
                let total_ms = ops.iter().map(|o| o.1).sum();
                Some(crate::report::StepBreakdown {
                    label: format!("{label}, batch {bs}"),
                    total_ms,
                    ops: ops
                        .into_iter()
                        .map(|(name, ms, source)| crate::report::OpCost {
                            name,
                            ms,
                            source,
                            math_ms: None,
                            mem_ms: None,
                        })
                        .collect(),
                })
            })
            .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(PricedPoint { row, kv_over_gib })
}
