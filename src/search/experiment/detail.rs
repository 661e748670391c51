//! Breakdowns shown for a row: memory per role, per-op steps (engine and
//! SOL_FULL), and [`detail_for`], which re-prices a shown row's steps on its
//! layout's worker.

use super::{BuiltWorker, RoleKind, Workers};
use crate::domain::Parallel;
use crate::engine::memory::Footprint;
use crate::exp::Task;
use crate::report::{Detail, DisaggTiming, MemoryBreakdown, OpCost, Row, StepBreakdown};
use crate::search::pricer::OpList;

pub(super) fn gib(fp: &Footprint, role: &str, capacity: f64) -> MemoryBreakdown {
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
pub(super) fn detail_for(task: &Task, r: &Row, workers: &Workers) -> Option<Detail> {
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
            timing: None,
        });
    }
    let (p, d) = (r.prefill.as_ref()?, r.decode.as_ref()?);
    let t = &task.tuning;
    let progress = if task.nextn > 0 {
        1.0 + task.nextn_accepted.max(0.0)
    } else {
        1.0
    };
    // A decode pass prices every output step of a request; shown per step.
    let decode_steps = task.osl.saturating_sub(1).max(1);
    let mut detail = r.detail.clone().unwrap_or_default();
    let mut steps = Vec::new();
    let mut sol = Vec::new();
    let mut timing = DisaggTiming {
        prefill_correction: t.prefill_latency_correction,
        ttft_autoscale: t.autoscale_ttft_correction_factor,
        decode_steps,
        decode_correction: t.decode_latency_correction,
        tokens_per_step: progress,
        ..Default::default()
    };
    let mut priced = 0;
    for (kind, wr) in [(RoleKind::Prefill, p), (RoleKind::Decode, d)] {
        let prefill = kind == RoleKind::Prefill;
        let (label, scale) = if prefill {
            (
                format!(
                    "prefill step (batch {}, x{} correction)",
                    wr.bs, t.prefill_latency_correction
                ),
                t.prefill_latency_correction,
            )
        } else {
            (
                format!(
                    "decode step (batch {}, mean of {decode_steps} steps, x{} correction)",
                    wr.bs, t.decode_latency_correction
                ),
                t.decode_latency_correction / decode_steps as f64,
            )
        };
        if let Some(w) = find(kind, wr.layout) {
            if let Some(ops) = w.pricer.static_ops(wr.bs, prefill) {
                steps.push(ops_to_step(
                    &label,
                    ops.into_iter()
                        .map(|(n, ms, s)| (n, ms * scale, s))
                        .collect(),
                ));
            }
            let pass = if prefill {
                w.pricer.static_ctx(wr.bs)
            } else {
                w.pricer.static_gen(wr.bs)
            };
            if let Ok(ms) = pass {
                priced += 1;
                if prefill {
                    timing.prefill_engine_ms = ms;
                    timing.prefill_step_ms = ms * scale;
                } else {
                    timing.decode_engine_pass_ms = ms;
                    timing.decode_step_ms = ms * scale;
                }
            }
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
    detail.timing = (priced == 2).then_some(timing);
    Some(detail)
}
