//! The bridge to the vendor engine: build one `Engine` per distinct op graph
//! (the vendor shares parsed tables across engines of one database identity),
//! and memoize every step latency by its exact inputs, so re-searching after
//! an edit only prices what changed. Caches are exact: a hit returns the very
//! number the engine returned before.

use crate::search::pricer::{PriceError, Pricer};
use aiconfigurator_core::engine::spec::EngineSpec;
use aiconfigurator_core::engine::{Engine, RuntimeConfig, StaticMode, DEFAULT_STATIC_STRIDE};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Step kinds the sweeps ask for, with their exact integer inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKey {
    Mixed { ctx: u32, gen: u32 },
    GenOnly { batch: u32 },
    StaticCtx { batch: u32 },
    StaticGen { batch: u32 },
}

type MemoKey = (u64, u32, u32, u32, StepKey);

/// Breakdown requests for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum DetailKey {
    Agg { ctx: u32, gen: u32, genonly: u32 },
    Static { batch: u32, prefill: bool },
    Sol { batch: u32, prefill: bool },
}

#[derive(Clone)]
enum DetailValue {
    Agg(Option<(OpList, OpList)>),
    Ops(Option<OpList>),
    Sol(Option<crate::search::pricer::SolList>),
}

/// Engines and step results shared across searches (one per process).
#[derive(Default)]
pub struct EngineCache {
    engines: Mutex<HashMap<(u64, PathBuf), Arc<Engine>>>,
    steps: Mutex<HashMap<MemoKey, Result<f64, PriceError>>>,
    /// Per-op breakdowns of shown rows, memoized like the steps.
    details: Mutex<HashMap<(u64, u32, u32, u32, DetailKey), DetailValue>>,
    evaluations: AtomicU64,
    hits: AtomicU64,
}

/// A stable identity for an op graph: the hash of its canonical bytes.
fn spec_id(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

impl EngineCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Engine evaluations actually run (cache misses) since creation.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// Step requests answered from the memo.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Build (or reuse) the engine for `spec` over the tables in `systems_root`.
    pub fn engine(
        &self,
        spec: &EngineSpec,
        systems_root: &Path,
    ) -> Result<(u64, Arc<Engine>), PriceError> {
        let bytes = spec
            .to_bincode()
            .map_err(|e| PriceError(format!("op graph encoding: {e}")))?;
        let id = spec_id(&bytes);
        let key = (id, systems_root.to_path_buf());
        if let Ok(map) = self.engines.lock() {
            if let Some(e) = map.get(&key) {
                return Ok((id, e.clone()));
            }
        }
        // Built outside the lock: loading can take a while and other workers proceed.
        let engine =
            Engine::from_spec_bytes(&bytes, systems_root).map_err(|e| PriceError(e.to_string()))?;
        let engine = Arc::new(engine);
        if let Ok(mut map) = self.engines.lock() {
            let e = map.entry(key).or_insert(engine);
            return Ok((id, e.clone()));
        }
        Ok((id, engine))
    }

    fn memo(
        &self,
        key: MemoKey,
        f: impl FnOnce() -> Result<f64, PriceError>,
    ) -> Result<f64, PriceError> {
        if let Ok(map) = self.steps.lock() {
            if let Some(v) = map.get(&key) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return v.clone();
            }
        }
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let v = f();
        if let Ok(mut map) = self.steps.lock() {
            map.insert(key, v.clone());
        }
        v
    }
}

/// Prices steps of one compiled worker at one (isl, osl, prefix).
pub struct EnginePricer {
    pub cache: Arc<EngineCache>,
    /// The compiled spec as JSON: the SOL_FULL view re-reads its op lists.
    pub spec_json: Arc<serde_json::Value>,
    pub nextn: u32,
    pub engine: Arc<Engine>,
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
        if let Ok(map) = self.cache.details.lock() {
            if let Some(v) = map.get(&key) {
                return v.clone();
            }
        }
        let v = f();
        if let Ok(mut map) = self.cache.details.lock() {
            map.insert(key, v.clone());
        }
        v
    }

    fn key(&self, k: StepKey) -> MemoKey {
        (self.spec_id, self.isl, self.osl, self.prefix, k)
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
        self.cache.memo(self.key(StepKey::Mixed { ctx, gen }), || {
            self.engine
                .mixed_step_latency(ctx, gen, self.isl, self.osl, self.prefix, 1.0, 1.0)
                .map_err(err)
        })
    }

    fn genonly_step(&self, batch: u32) -> Result<f64, PriceError> {
        self.cache.memo(self.key(StepKey::GenOnly { batch }), || {
            self.engine
                .decode_step_latency(batch, self.isl, self.osl, 1.0)
                .map_err(err)
        })
    }

    fn static_ctx(&self, batch: u32) -> Result<f64, PriceError> {
        self.cache.memo(self.key(StepKey::StaticCtx { batch }), || {
            self.engine
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
        self.cache.memo(self.key(StepKey::StaticGen { batch }), || {
            self.engine
                .run_static(
                    &self.runtime(batch),
                    StaticMode::Generation,
                    DEFAULT_STATIC_STRIDE,
                )
                .map(|r| r.generation_ms)
                .map_err(err)
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
            self.engine
                .evaluate_ops_sol_json(&ops, true, batch, s, self.prefix, 1.0, None)
        } else {
            // One decode step mid-generation, at the MTP-widened batch the engine uses.
            let s = self.isl + self.osl / 2 + 1;
            let b = batch.saturating_mul(self.nextn + 1);
            let ops = self.spec_json.get("generation_ops")?.to_string();
            self.engine
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
        .engine
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
            .engine
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
        .engine
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
