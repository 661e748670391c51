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
