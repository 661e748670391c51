//! The bridge to the vendor engine: the latency questions of the sweeps,
//! answered by the engine of one compiled worker through the exact memo of
//! [`super::cache`].

use super::cache::{DetailKey, DetailValue, EngineCache, EngineHandle, MemoKey, StepKey};
use crate::search::pricer::{PriceError, Pricer};
use aiconfigurator_core::engine::{Engine, RuntimeConfig, StaticMode, DEFAULT_STATIC_STRIDE};
use rayon::prelude::*;
use std::sync::Arc;

/// Prices steps of one compiled worker at one (isl, osl, prefix).
pub struct EnginePricer {
    pub cache: Arc<EngineCache>,
    /// The compiled spec as JSON: the SOL_FULL view re-reads its op lists.
    pub spec_json: Arc<serde_json::Value>,
    pub nextn: u32,
    pub engine: EngineHandle,
    pub spec_id: u64,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
}

fn err(e: aiconfigurator_core::AicError) -> PriceError {
    PriceError(e.to_string())
}

impl EnginePricer {
    fn detail(&self, k: DetailKey, f: impl FnOnce() -> DetailValue) -> DetailValue {
        let key = (self.spec_id, self.isl, self.osl, self.prefix, k);
        self.cache.detail(key, f)
    }

    /// The engine, built now if this is the first question the memo cannot answer.
    fn engine(&self) -> Result<&Arc<Engine>, PriceError> {
        self.engine.get(&self.cache, self.spec_id)
    }

    fn key(&self, k: StepKey) -> MemoKey {
        (self.spec_id, self.isl, self.osl, self.prefix, k)
    }

    /// One decode step at kv position `s`, memoized across workloads.
    fn gen_step(&self, batch: u32, s: u32) -> Result<f64, PriceError> {
        let key = (self.spec_id, 0, 0, 0, StepKey::GenStep { batch, s });
        self.cache.step(key, || {
            let rt = RuntimeConfig {
                batch_size: batch,
                isl: s - 1,
                osl: 2,
                ..Default::default()
            };
            self.engine()?
                .run_static(&rt, StaticMode::Generation, DEFAULT_STATIC_STRIDE)
                .map(|r| r.generation_ms)
                .map_err(err)
        })
    }

    fn runtime(&self, batch: u32) -> RuntimeConfig {
        RuntimeConfig {
            batch_size: batch,
            isl: self.isl,
            osl: self.osl,
            prefix: self.prefix,
            ..Default::default()
        }
    }
}

impl Pricer for EnginePricer {
    fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError> {
        self.cache.step(self.key(StepKey::Mixed { ctx, gen }), || {
            self.engine()?
                .mixed_step_latency(ctx, gen, self.isl, self.osl, self.prefix, 1.0, 1.0)
                .map_err(err)
        })
    }

    fn genonly_step(&self, batch: u32) -> Result<f64, PriceError> {
        self.cache.step(self.key(StepKey::GenOnly { batch }), || {
            self.engine()?
                .decode_step_latency(batch, self.isl, self.osl, 1.0)
                .map_err(err)
        })
    }

    fn static_ctx(&self, batch: u32) -> Result<f64, PriceError> {
        self.cache.step(self.key(StepKey::StaticCtx { batch }), || {
            self.engine()?
                .run_static(
                    &self.runtime(batch),
                    StaticMode::Context,
                    DEFAULT_STATIC_STRIDE,
                )
                .map(|r| r.context_ms)
                .map_err(err)
        })
    }

    fn static_gen(&self, batch: u32) -> Result<f64, PriceError> {
        // The engine's generation pass is a stride quadrature over decode
        // steps: total = Σ step(s_i) · repeat_i with s_i = isl + i + 1. Pricing
        // each step on its own (one engine pass with osl = 2, which is exactly
        // that step times 1) and summing in the same order gives the same
        // bits, lets the steps run in parallel, and lets edits of osl (or of
        // isl by a multiple of the stride) reuse most of them.
        self.cache
            .composite(self.key(StepKey::StaticGen { batch }), || {
                if self.osl <= 1 {
                    return Ok(0.0);
                }
                let stride = DEFAULT_STATIC_STRIDE.max(1);
                let upper = self.osl - 1;
                let starts: Vec<u32> = (0..upper).step_by(stride as usize).collect();
                let steps: Vec<Result<f64, PriceError>> = starts
                    .par_iter()
                    .map(|&i| self.gen_step(batch, self.isl + i + 1))
                    .collect();
                let mut total = 0.0_f64;
                for (&i, step) in starts.iter().zip(steps) {
                    total += step? * stride.min(upper - i) as f64;
                }
                Ok(total)
            })
    }

    fn agg_ops(&self, ctx: u32, gen: u32, genonly_batch: u32) -> Option<(OpList, OpList)> {
        let k = DetailKey::Agg {
            ctx,
            gen,
            genonly: genonly_batch,
        };
        match self.detail(k, || {
            DetailValue::Agg(agg_breakdown(self, ctx, gen, genonly_batch).ok())
        }) {
            DetailValue::Agg(v) => v,
            _ => None,
        }
    }

    fn static_ops(&self, batch: u32, prefill: bool) -> Option<OpList> {
        let k = DetailKey::Static { batch, prefill };
        match self.detail(k, || {
            DetailValue::Ops(static_breakdown(self, batch, prefill, 1.0).ok())
        }) {
            DetailValue::Ops(v) => v,
            _ => None,
        }
    }

    fn sol_full(&self, batch: u32, prefill: bool) -> Option<crate::search::pricer::SolList> {
        let k = DetailKey::Sol { batch, prefill };
        match self.detail(k, || {
            DetailValue::Sol(self.sol_full_uncached(batch, prefill))
        }) {
            DetailValue::Sol(v) => v,
            _ => None,
        }
    }
}

impl EnginePricer {
    fn sol_full_uncached(
        &self,
        batch: u32,
        prefill: bool,
    ) -> Option<crate::search::pricer::SolList> {
        let r = if prefill {
            let s = self.isl.checked_sub(self.prefix).filter(|s| *s > 0)?;
            let ops = self.spec_json.get("context_ops")?.to_string();
            self.engine()
                .ok()?
                .evaluate_ops_sol_json(&ops, true, batch, s, self.prefix, 1.0, None)
        } else {
            // One decode step mid-generation, at the MTP-widened batch the engine uses.
            let s = self.isl + self.osl / 2 + 1;
            let b = batch.saturating_mul(self.nextn + 1);
            let ops = self.spec_json.get("generation_ops")?.to_string();
            self.engine()
                .ok()?
                .evaluate_ops_sol_json(&ops, false, b, s, 0, 1.0, None)
        };
        r.ok()
    }
}

pub use crate::search::pricer::OpList;

fn ops(v: Vec<aiconfigurator_core::engine::PerOpValue>) -> OpList {
    v.into_iter()
        .map(|(n, ms, _e, s)| (n, ms, s.to_string()))
        .collect()
}

/// Breakdowns of the steps behind one agg point: the mixed step (shared ops,
/// context attention, decode attention) and the gen-only step.
pub fn agg_breakdown(
    p: &EnginePricer,
    ctx: u32,
    gen: u32,
    genonly_batch: u32,
) -> Result<(OpList, OpList), PriceError> {
    let (a, b, c) = p
        .engine()?
        .mixed_step_breakdown_per_op(ctx, gen, p.isl, p.osl, p.prefix, 1.0, 1.0)
        .map_err(err)?;
    let mut mixed = ops(a);
    mixed.extend(
        ops(b)
            .into_iter()
            .map(|(n, ms, s)| (format!("{n} (scaled)"), ms, s)),
    );
    mixed.extend(ops(c));
    let genonly = if genonly_batch > 0 {
        ops(p
            .engine()?
            .decode_step_per_op(genonly_batch, p.isl, p.osl, 1.0)
            .map_err(err)?)
    } else {
        Vec::new()
    };
    Ok((mixed, genonly))
}

/// Per-op breakdown of a static prefill or decode pass, scaled by its correction.
pub fn static_breakdown(
    p: &EnginePricer,
    batch: u32,
    prefill: bool,
    correction: f64,
) -> Result<OpList, PriceError> {
    let mode = if prefill {
        StaticMode::Context
    } else {
        StaticMode::Generation
    };
    let (c, g) = p
        .engine()?
        .run_static_per_op(&p.runtime(batch), mode, DEFAULT_STATIC_STRIDE)
        .map_err(err)?;
    let v = if prefill { c } else { g };
    Ok(ops(v)
        .into_iter()
        .map(|(n, ms, s)| (n, ms * correction, s))
        .collect())
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_can_be_shared_across_threads() {
        assert_send_sync::<aiconfigurator_core::engine::Engine>();
        assert_send_sync::<super::EngineCache>();
    }
}
