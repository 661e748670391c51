//! Engines and engine results shared across searches: one `Engine` per
//! distinct op graph (the vendor shares parsed tables across engines of one
//! database), and every step latency and shown breakdown memoized by its exact
//! inputs, so a re-search after an edit only prices what changed. With a step
//! store the memo also outlives the process (see [`super::step_store`]); an op
//! graph whose results are on disk gets its engine built only on its first
//! miss. Compiled op graphs are cached too, keyed by the whole compile
//! request, so a re-search does not rebuild and re-hash every graph. Every
//! cache is exact: a hit returns the very graph or number computed before.

use super::compile::{compile, CompileRequest};
use super::step_store::{self, DetailRecord, SpecFile, StepRecord};
use crate::search::pricer::{OpList, PriceError, SolList};
use aiconfigurator_core::engine::spec::EngineSpec;
use aiconfigurator_core::engine::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Step kinds the sweeps ask for, with their exact integer inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKey {
    Mixed {
        ctx: u32,
        gen: u32,
    },
    GenOnly {
        batch: u32,
    },
    StaticCtx {
        batch: u32,
    },
    StaticGen {
        batch: u32,
    },
    /// One decode step of a static generation pass at kv position `s`. It does
    /// not depend on isl/osl/prefix (stored with zeros there), so passes of
    /// different workloads share the steps they have in common.
    GenStep {
        batch: u32,
        s: u32,
    },
}

impl StepKey {
    fn code(self) -> (u8, u32, u32) {
        match self {
            StepKey::Mixed { ctx, gen } => (0, ctx, gen),
            StepKey::GenOnly { batch } => (1, batch, 0),
            StepKey::StaticCtx { batch } => (2, batch, 0),
            StepKey::StaticGen { batch } => (3, batch, 0),
            StepKey::GenStep { batch, s } => (4, batch, s),
        }
    }

    fn decode(kind: u8, a: u32, b: u32) -> Option<StepKey> {
        Some(match kind {
            0 => StepKey::Mixed { ctx: a, gen: b },
            1 => StepKey::GenOnly { batch: a },
            2 => StepKey::StaticCtx { batch: a },
            3 => StepKey::StaticGen { batch: a },
            4 => StepKey::GenStep { batch: a, s: b },
            _ => return None,
        })
    }
}

/// (op graph, isl, osl, prefix, step).
pub type MemoKey = (u64, u32, u32, u32, StepKey);

/// Breakdown requests for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetailKey {
    Agg { ctx: u32, gen: u32, genonly: u32 },
    Static { batch: u32, prefill: bool },
    Sol { batch: u32, prefill: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum DetailValue {
    Agg(Option<(OpList, OpList)>),
    Ops(Option<OpList>),
    Sol(Option<SolList>),
}

pub type DetailMemoKey = (u64, u32, u32, u32, DetailKey);

/// A memo table plus the op graphs with entries not yet on disk.
struct Memo<K, V> {
    map: HashMap<K, Slot<V>>,
    dirty: HashSet<u64>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            map: HashMap::new(),
            dirty: HashSet::new(),
        }
    }
}

struct Slot<V> {
    value: V,
    /// Read or written by this process (what a shrinking rewrite keeps).
    used: bool,
}

fn get<K: Hash + Eq, V: Clone>(m: &Mutex<Memo<K, V>>, key: &K) -> Option<V> {
    let mut m = m.lock().ok()?;
    let slot = m.map.get_mut(key)?;
    slot.used = true;
    Some(slot.value.clone())
}

fn put<K: Hash + Eq, V>(m: &Mutex<Memo<K, V>>, key: K, graph: u64, value: V) {
    if let Ok(mut m) = m.lock() {
        m.map.insert(key, Slot { value, used: true });
        m.dirty.insert(graph);
    }
}

/// Where one op graph's results live on disk.
#[derive(Clone)]
struct GraphFile {
    path: PathBuf,
    fingerprint: String,
    digest: String,
}

/// One compiled op graph with what its engine identity is derived from,
/// computed once: the spec's bincode encoding and its SHA-256 digest.
pub struct CompiledEntry {
    /// The spec as JSON (what per-op breakdowns read).
    pub spec_json: Arc<serde_json::Value>,
    /// Per-GPU weight bytes of the graph (see [`super::compile::CompiledGraph`]).
    pub weight_bytes: f64,
    bytes: Arc<Vec<u8>>,
    digest: String,
}

/// Engines and step results shared across searches (one per process).
#[derive(Default)]
pub struct EngineCache {
    /// Compiled graphs by compile request (see [`EngineCache::compiled`]).
    compiled: Mutex<HashMap<String, Arc<CompiledEntry>>>,
    engines: Mutex<HashMap<(u64, PathBuf), Arc<Engine>>>,
    steps: Mutex<Memo<MemoKey, Result<f64, PriceError>>>,
    /// Per-op breakdowns of shown rows, memoized like the steps.
    details: Mutex<Memo<DetailMemoKey, DetailValue>>,
    /// The step store's folder; `None` keeps everything in memory.
    store: Option<PathBuf>,
    /// Op graphs whose store file was consulted: its location, and whether it
    /// was there (the graph built before; its engine is built on the first
    /// miss only).
    graphs: Mutex<HashMap<u64, (Option<GraphFile>, bool)>>,
    fingerprints: Mutex<HashMap<PathBuf, Option<String>>>,
    building: Mutex<()>,
    /// (database, op kind, phase) already warmed by [`Self::warm`].
    warmed: Mutex<HashSet<(String, String, bool)>>,
    evaluations: AtomicU64,
    hits: AtomicU64,
}

/// An engine that may not be built yet: built on the first step the memo
/// cannot answer, then shared.
pub struct EngineHandle {
    cell: OnceLock<Result<Arc<Engine>, PriceError>>,
    bytes: Arc<Vec<u8>>,
    root: PathBuf,
}

impl EngineHandle {
    pub fn get(&self, cache: &EngineCache, id: u64) -> Result<&Arc<Engine>, PriceError> {
        self.cell
            .get_or_init(|| cache.build(id, &self.bytes, &self.root))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl EngineCache {
    /// A memo that lives as long as the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// A memo backed by the step store at `root` (see [`step_store::store_root`]).
    pub fn with_store(root: Option<PathBuf>) -> Self {
        EngineCache {
            store: root,
            ..Self::default()
        }
    }

    /// Engine evaluations actually run (cache misses) since creation.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// Engines built so far (a search answered from the store builds none).
    pub fn engines_built(&self) -> usize {
        self.engines.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Step requests answered from the memo.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The compiled graph of `req`, compiled and encoded on first use only.
    ///
    /// The key is the request's derived `Debug` text: it prints every field
    /// of the request and of the model architecture it points at, so a new
    /// field can never be left out of the key (a key missing one would hand
    /// back another request's graph). Errors are not cached: they are cheap
    /// and rare. Returns the same messages a fresh compile would.
    pub fn compiled(&self, req: &CompileRequest) -> Result<Arc<CompiledEntry>, String> {
        let key = format!("{req:?}");
        if let Some(hit) = self.compiled.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(hit);
        }
        let graph = compile(req).map_err(|e| e.to_string())?;
        let bytes = graph
            .spec
            .to_bincode()
            .map_err(|e| format!("op graph encoding: {e}"))?;
        let entry = Arc::new(CompiledEntry {
            spec_json: Arc::new(graph.spec_json),
            weight_bytes: graph.weight_bytes,
            digest: step_store::digest(&bytes),
            bytes: Arc::new(bytes),
        });
        match self.compiled.lock() {
            Ok(mut m) => Ok(m.entry(key).or_insert(entry).clone()),
            Err(_) => Ok(entry),
        }
    }

    /// The engine for `spec` over the tables in `systems_root`, with the op
    /// graph's identity. Built now unless the store already holds results for
    /// this graph (then on the first miss: a rerun of a known file never
    /// loads a table).
    pub fn engine(
        &self,
        spec: &EngineSpec,
        systems_root: &Path,
    ) -> Result<(u64, EngineHandle), PriceError> {
        let bytes = spec
            .to_bincode()
            .map_err(|e| PriceError(format!("op graph encoding: {e}")))?;
        let digest = step_store::digest(&bytes);
        self.engine_for(Arc::new(bytes), &digest, systems_root)
    }

    /// [`Self::engine`] for a graph from [`Self::compiled`], whose encoding
    /// and digest are already known.
    pub fn compiled_engine(
        &self,
        graph: &CompiledEntry,
        systems_root: &Path,
    ) -> Result<(u64, EngineHandle), PriceError> {
        self.engine_for(graph.bytes.clone(), &graph.digest, systems_root)
    }

    fn engine_for(
        &self,
        bytes: Arc<Vec<u8>>,
        digest: &str,
        systems_root: &Path,
    ) -> Result<(u64, EngineHandle), PriceError> {
        let id = digest
            .get(..16)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0);
        let handle = EngineHandle {
            cell: OnceLock::new(),
            bytes,
            root: systems_root.to_path_buf(),
        };
        let on_disk = self.load_graph(id, digest, systems_root);
        let built = self
            .engines
            .lock()
            .ok()
            .and_then(|m| m.get(&(id, systems_root.to_path_buf())).cloned());
        if let Some(e) = built {
            let _ = handle.cell.set(Ok(e));
        } else if !on_disk {
            let e = self.build(id, &handle.bytes, systems_root)?;
            let _ = handle.cell.set(Ok(e));
        }
        Ok((id, handle))
    }

    fn build(&self, id: u64, bytes: &[u8], root: &Path) -> Result<Arc<Engine>, PriceError> {
        let key = (id, root.to_path_buf());
        if let Some(e) = self.engines.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(e);
        }
        // One build at a time: the vendor shares parsed tables between engines
        // of one database identity, but two engines created at the same moment
        // would each get (and later each parse) their own. Building is cheap
        // once the tables exist; the parsing happens later, on first query.
        let engine = {
            let _one = self.building.lock();
            if let Some(e) = self.engines.lock().ok().and_then(|m| m.get(&key).cloned()) {
                return Ok(e);
            }
            Arc::new(Engine::from_spec_bytes(bytes, root).map_err(|e| PriceError(e.to_string()))?)
        };
        self.warm(&engine, bytes, root);
        // The graph builds: worth a store file even if nothing gets priced
        // (every batch out of memory), so a rerun need not build it again.
        if let Ok(mut m) = self.steps.lock() {
            m.dirty.insert(id);
        }
        match self.engines.lock() {
            Ok(mut m) => Ok(m.entry(key).or_insert(engine).clone()),
            Err(_) => Ok(engine),
        }
    }

    /// Parse the tables a new engine needs on both cores: one throwaway
    /// query per kind of op not seen yet for its database, spread over the
    /// pool. Left alone, the vendor parses each table on its first query,
    /// one after another. The answers are dropped, and parsed tables never
    /// change, so no number depends on this.
    fn warm(&self, engine: &Engine, bytes: &[u8], root: &Path) {
        let Ok(spec) = EngineSpec::from_bincode(bytes) else {
            return;
        };
        let identity = format!(
            "{}|{}|{:?}|{:?}",
            root.display(),
            spec.engine.system_name,
            spec.engine.backend,
            spec.engine.backend_version
        );
        let ops: Vec<(String, bool)> = {
            let Ok(mut seen) = self.warmed.lock() else {
                return;
            };
            let phases = [(&spec.context_ops, true), (&spec.generation_ops, false)];
            phases
                .into_iter()
                .flat_map(|(ops, ctx)| ops.iter().map(move |o| (o, ctx)))
                .filter_map(|(op, ctx)| {
                    let json = serde_json::to_value([op]).ok()?;
                    let kind = json.get(0)?.as_object()?.keys().next()?.clone();
                    seen.insert((identity.clone(), kind, ctx))
                        .then(|| (json.to_string(), ctx))
                })
                .collect()
        };
        if ops.is_empty() {
            return;
        }
        // One plain thread per kind of op, not the pool: the OS spreads the
        // parses over the cores, and a pool worker blocked on a table another
        // one is parsing would stall the search behind it.
        std::thread::scope(|scope| {
            for (json, ctx) in &ops {
                scope.spawn(move || {
                    // Optional work: a failure here must not fail the search
                    // (the real query reports it where it matters).
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        engine.evaluate_ops_json(json, *ctx, 1, 1024, 0, 1.0, None)
                    }));
                });
            }
        });
    }

    fn fingerprint(&self, root: &Path) -> Option<String> {
        let mut m = self.fingerprints.lock().ok()?;
        m.entry(root.to_path_buf())
            .or_insert_with(|| step_store::fingerprint(root))
            .clone()
    }

    /// Read the store file of graph `id` once; true when there was one.
    fn load_graph(&self, id: u64, digest: &str, root: &Path) -> bool {
        if let Some((_, had)) = self.graphs.lock().ok().and_then(|g| g.get(&id).cloned()) {
            return had;
        }
        let file = self.store.as_ref().and_then(|dir| {
            let fingerprint = self.fingerprint(root)?;
            Some(GraphFile {
                path: step_store::path_for(dir, &fingerprint, digest),
                fingerprint,
                digest: digest.to_string(),
            })
        });
        let records = file
            .as_ref()
            .and_then(|f| step_store::read(&f.path, &f.fingerprint, &f.digest));
        let had = records.is_some();
        self.absorb(id, records.unwrap_or_default());
        if let Ok(mut g) = self.graphs.lock() {
            g.insert(id, (file, had));
        }
        had
    }

    /// Records read from disk enter the memo as not yet used and not dirty.
    fn absorb(&self, id: u64, records: SpecFile) {
        if let Ok(mut m) = self.steps.lock() {
            for r in records.steps {
                let Some(k) = StepKey::decode(r.kind, r.a, r.b) else {
                    continue;
                };
                let key = (id, r.workload.0, r.workload.1, r.workload.2, k);
                let value = r.value.map(f64::from_bits).map_err(PriceError);
                m.map.entry(key).or_insert(Slot { value, used: false });
            }
        }
        if let Ok(mut m) = self.details.lock() {
            for r in records.details {
                let Ok(d) = serde_json::from_str::<DiskDetail>(&r.json) else {
                    continue;
                };
                let key = (id, d.isl, d.osl, d.prefix, d.key);
                m.map.entry(key).or_insert(Slot {
                    value: d.value.into(),
                    used: false,
                });
            }
        }
    }

    /// Write the results of every op graph that gained entries since the
    /// last call to the store. Never fails: a store problem only costs speed.
    pub fn persist(&self) {
        if self.store.is_none() {
            return;
        }
        let mut dirty = HashSet::new();
        if let Ok(mut m) = self.steps.lock() {
            dirty.extend(std::mem::take(&mut m.dirty));
        }
        if let Ok(mut m) = self.details.lock() {
            dirty.extend(std::mem::take(&mut m.dirty));
        }
        if dirty.is_empty() {
            return;
        }
        // Every record of a touched graph (read from disk or new), and which
        // of them this process used.
        let mut files: HashMap<u64, (SpecFile, Vec<bool>)> =
            dirty.iter().map(|id| (*id, Default::default())).collect();
        if let Ok(m) = self.steps.lock() {
            for (k, slot) in &m.map {
                let Some(f) = files.get_mut(&k.0) else {
                    continue;
                };
                let (kind, a, b) = k.4.code();
                f.0.steps.push(StepRecord {
                    workload: (k.1, k.2, k.3),
                    kind,
                    a,
                    b,
                    value: slot.value.clone().map(f64::to_bits).map_err(|e| e.0),
                });
                f.1.push(slot.used);
            }
        }
        if let Ok(m) = self.details.lock() {
            for (k, slot) in &m.map {
                let Some(f) = files.get_mut(&k.0) else {
                    continue;
                };
                let disk = DiskDetail {
                    isl: k.1,
                    osl: k.2,
                    prefix: k.3,
                    key: k.4,
                    value: (&slot.value).into(),
                };
                if let Ok(json) = serde_json::to_string(&disk) {
                    f.0.details.push(DetailRecord { json });
                }
            }
        }
        let Ok(graphs) = self.graphs.lock().map(|g| g.clone()) else {
            return;
        };
        for (id, (mut file, used)) in files {
            let Some((Some(g), _)) = graphs.get(&id) else {
                continue;
            };
            if file.steps.len() > step_store::MAX_RECORDS {
                let mut keep = used.into_iter();
                file.steps.retain(|_| keep.next().unwrap_or(false));
            }
            step_store::write(&g.path, &g.fingerprint, &g.digest, &file);
        }
    }

    /// The memoized step `key`, or `f()` counted as one engine evaluation.
    pub fn step(
        &self,
        key: MemoKey,
        f: impl FnOnce() -> Result<f64, PriceError>,
    ) -> Result<f64, PriceError> {
        self.memo_step(key, true, f)
    }

    /// Like [`Self::step`] for values summed from other memoized steps: a
    /// miss is not an engine evaluation of its own.
    pub fn composite(
        &self,
        key: MemoKey,
        f: impl FnOnce() -> Result<f64, PriceError>,
    ) -> Result<f64, PriceError> {
        self.memo_step(key, false, f)
    }

    fn memo_step(
        &self,
        key: MemoKey,
        counted: bool,
        f: impl FnOnce() -> Result<f64, PriceError>,
    ) -> Result<f64, PriceError> {
        if let Some(v) = get(&self.steps, &key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return v;
        }
        if counted {
            self.evaluations.fetch_add(1, Ordering::Relaxed);
        }
        let v = f();
        put(&self.steps, key, key.0, v.clone());
        v
    }

    /// The memoized breakdown `key`, or `f()`.
    pub fn detail(&self, key: DetailMemoKey, f: impl FnOnce() -> DetailValue) -> DetailValue {
        if let Some(v) = get(&self.details, &key) {
            return v;
        }
        let v = f();
        put(&self.details, key, key.0, v.clone());
        v
    }
}

/// A breakdown as stored: floats as their bits.
#[derive(Serialize, Deserialize)]
struct DiskDetail {
    isl: u32,
    osl: u32,
    prefix: u32,
    key: DetailKey,
    value: DiskValue,
}

type DiskOps = Vec<(String, u64, String)>;

#[derive(Serialize, Deserialize)]
enum DiskValue {
    Agg(Option<(DiskOps, DiskOps)>),
    Ops(Option<DiskOps>),
    Sol(Option<Vec<(String, u64, u64, u64)>>),
}

fn ops_to_disk(o: &OpList) -> DiskOps {
    o.iter()
        .map(|(n, ms, s)| (n.clone(), ms.to_bits(), s.clone()))
        .collect()
}

fn ops_from_disk(o: DiskOps) -> OpList {
    o.into_iter()
        .map(|(n, ms, s)| (n, f64::from_bits(ms), s))
        .collect()
}

impl From<&DetailValue> for DiskValue {
    fn from(v: &DetailValue) -> Self {
        match v {
            DetailValue::Agg(a) => {
                DiskValue::Agg(a.as_ref().map(|(m, g)| (ops_to_disk(m), ops_to_disk(g))))
            }
            DetailValue::Ops(o) => DiskValue::Ops(o.as_ref().map(ops_to_disk)),
            DetailValue::Sol(s) => DiskValue::Sol(s.as_ref().map(|s| {
                s.iter()
                    .map(|(n, a, b, c)| (n.clone(), a.to_bits(), b.to_bits(), c.to_bits()))
                    .collect()
            })),
        }
    }
}

impl From<DiskValue> for DetailValue {
    fn from(v: DiskValue) -> Self {
        match v {
            DiskValue::Agg(a) => {
                DetailValue::Agg(a.map(|(m, g)| (ops_from_disk(m), ops_from_disk(g))))
            }
            DiskValue::Ops(o) => DetailValue::Ops(o.map(ops_from_disk)),
            DiskValue::Sol(s) => DetailValue::Sol(s.map(|s| {
                s.into_iter()
                    .map(|(n, a, b, c)| {
                        (n, f64::from_bits(a), f64::from_bits(b), f64::from_bits(c))
                    })
                    .collect()
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Backend, Parallel, Quant};
    use crate::engine::compile::LaneOrders;
    use crate::model::load_model;

    #[test]
    fn compiled_graphs_are_reused_only_for_the_same_request() {
        let model = load_model("Qwen/Qwen3-32B", None).unwrap();
        let p = |tp| Parallel {
            tp,
            pp: 1,
            dp: 1,
            moe_tp: 1,
            moe_ep: 1,
            cp: 1,
        };
        let base = CompileRequest::new(
            &model,
            "h100_sxm",
            Backend::Trtllm,
            "1.0",
            p(2),
            Quant::default(),
        );
        let cache = EngineCache::new();
        let a = cache.compiled(&base).unwrap();
        assert!(Arc::ptr_eq(&a, &cache.compiled(&base.clone()).unwrap()));
        // The cached graph is what a fresh compile gives.
        let fresh = compile(&base).unwrap();
        assert_eq!(*a.spec_json, fresh.spec_json);
        assert_eq!(a.weight_bytes, fresh.weight_bytes);
        // Any input the compile reads gives another entry, including ones
        // far from the layout (nextn, lane orders, the model itself).
        let lanes = LaneOrders {
            context: vec!["x".into()],
            generation: vec![],
        };
        let mut other_model = model.clone();
        other_model.vocab += 1;
        let variants = [
            CompileRequest {
                parallel: p(4),
                ..base.clone()
            },
            CompileRequest {
                nextn: 1,
                ..base.clone()
            },
            CompileRequest {
                lane_orders: Some(&lanes),
                ..base.clone()
            },
            CompileRequest {
                model: &other_model,
                ..base.clone()
            },
        ];
        for v in &variants {
            let b = cache.compiled(v).unwrap();
            assert!(!Arc::ptr_eq(&a, &b), "{v:?}");
            assert_eq!(*b.spec_json, compile(v).unwrap().spec_json);
        }
    }
}
