//! Glue between the layers: the real [`Catalog`] over the located database and
//! the model catalog, and the real [`WorkerFactory`] that compiles a layout's
//! op graph and hands it to the vendor engine.

use super::bridge::EnginePricer;
use super::cache::EngineCache;
use super::compile::CompileRequest;
use super::compile::{LaneOrders, MoeCommBackends};
use super::memory::{KvLayout, WorkerMemory};
use crate::domain::{Backend, DbMode, MoeQuant, Parallel};
use crate::exp::{Catalog, Family, ModelFacts, Roles, SupportedQuants, SystemFacts, Task};
use crate::model::{load_model, ModelArch};
use crate::search::experiment::{BuiltWorker, RoleKind, WorkerFactory};
use crate::system::lanes::resolve_lane_orders;
use crate::system::large_ep::{
    covered_eps, resolve_moe_comm, LargeEpKey, PhaseCoverage, ResolveContext, WorkerRole,
};
use crate::system::{Database, DbKind, MoeShape, SystemSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Models and systems loaded once per session, shared by the loader and the search.
pub struct DbCatalog {
    pub db: Database,
    models: Mutex<HashMap<String, Result<Arc<ModelArch>, String>>>,
}

impl DbCatalog {
    pub fn new(db: Database) -> Self {
        DbCatalog {
            db,
            models: Mutex::new(HashMap::new()),
        }
    }

    /// The architecture behind `id_or_path` (cached).
    pub fn arch(&self, id_or_path: &str) -> Result<Arc<ModelArch>, String> {
        let mut map = self.models.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id_or_path.to_string())
            .or_insert_with(|| {
                load_model(id_or_path, self.db.location().model_configs_dir.as_deref())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

impl Catalog for DbCatalog {
    fn model(&self, id_or_path: &str) -> Result<ModelFacts, String> {
        self.arch(id_or_path).map(|m| m.facts())
    }
    fn system(&self, name: &str) -> Option<SystemFacts> {
        self.db.system_facts(name)
    }
    fn system_names(&self) -> Vec<String> {
        self.db.system_names()
    }
    fn versions(&self, system: &str, backend: Backend) -> (Vec<String>, Option<String>) {
        self.db.versions(system, backend)
    }
    fn has_measured_data(&self) -> bool {
        self.db.kind() == DbKind::Measured
    }
    fn supported_quants(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
    ) -> Option<SupportedQuants> {
        self.db.supported_quants(system, backend, version)
    }
    fn large_ep_sizes(
        &self,
        model: &ModelFacts,
        system: &str,
        backend: Backend,
        version: &str,
        moe_quant: MoeQuant,
        runs_generation: bool,
        database_mode: DbMode,
    ) -> Vec<u32> {
        let Ok(arch) = self.arch(&model.id) else {
            return Vec::new();
        };
        let coverage =
            self.phase_coverage(&arch, system, backend, version, moe_quant, database_mode);
        let role = if runs_generation {
            WorkerRole::Agg
        } else {
            WorkerRole::Prefill
        };
        covered_eps(&coverage, role).into_iter().collect()
    }
}

impl DbCatalog {
    /// Large-EP coverage of a model on (system, backend, version): empty for
    /// dense models (every supported MoE family is wired for large EP).
    pub fn phase_coverage(
        &self,
        model: &ModelArch,
        system: &str,
        backend: Backend,
        version: &str,
        moe_quant: MoeQuant,
        database_mode: DbMode,
    ) -> PhaseCoverage {
        if !model.is_moe() {
            return PhaseCoverage::new();
        }
        let shape = MoeShape {
            hidden_size: model.hidden,
            moe_inter_size: model.moe_intermediate,
            topk: model.topk,
            num_experts: model.num_experts,
        };
        let key = LargeEpKey {
            system,
            backend,
            version,
            shared_layer: database_mode.shared_layer(),
        };
        self.db.phase_coverage(key, &shape, moe_quant)
    }
}

/// Compiles layouts of one task's roles into priced workers.
pub struct EngineFactory<'a> {
    catalog: &'a DbCatalog,
    cache: Arc<EngineCache>,
    systems_dir: PathBuf,
    /// Per role: (model, system spec). Loaded up front so `build` only compiles.
    roles: HashMap<&'static str, (Arc<ModelArch>, SystemSpec)>,
    /// Per role: large-EP coverage and attention lane orders, both data-derived.
    regimes: HashMap<&'static str, (PhaseCoverage, LaneOrders)>,
    database_mode: DbMode,
}

fn role_of(task: &Task, kind: RoleKind) -> &crate::exp::Role {
    match (&task.roles, kind) {
        (Roles::Agg { worker }, _) => worker,
        (Roles::Disagg { prefill, .. }, RoleKind::Prefill | RoleKind::Agg) => prefill,
        (Roles::Disagg { decode, .. }, RoleKind::Decode) => decode,
    }
}

fn key(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::Agg => "agg",
        RoleKind::Prefill => "prefill",
        RoleKind::Decode => "decode",
    }
}

impl<'a> EngineFactory<'a> {
    pub fn new(
        task: &Task,
        catalog: &'a DbCatalog,
        cache: Arc<EngineCache>,
    ) -> Result<Self, String> {
        let kinds: &[RoleKind] = match task.roles {
            Roles::Agg { .. } => &[RoleKind::Agg],
            Roles::Disagg { .. } => &[RoleKind::Prefill, RoleKind::Decode],
        };
        // Without measured tables every mode is priced at speed of light.
        let database_mode = if catalog.db.kind() == DbKind::Builtin {
            DbMode::Sol
        } else {
            task.database_mode
        };
        let mut roles = HashMap::new();
        let mut regimes = HashMap::new();
        for &k in kinds {
            let r = role_of(task, k);
            let model = catalog.arch(&r.model)?;
            let spec = catalog
                .db
                .system_spec(&r.system)
                .map_err(|e| e.to_string())?;
            let coverage = catalog.phase_coverage(
                &model,
                &r.system,
                r.backend,
                &r.backend_version,
                r.quant.moe,
                database_mode,
            );
            let lanes = if catalog.db.kind() == DbKind::Builtin {
                LaneOrders {
                    context: vec!["default".into()],
                    generation: vec!["default".into()],
                }
            } else {
                resolve_lane_orders(
                    catalog.db.systems_dir(),
                    &spec.name,
                    spec.sm_version,
                    r.backend,
                    &r.backend_version,
                    task.attention_backend.as_deref(),
                    database_mode,
                )?
            };
            regimes.insert(key(k), (coverage, lanes));
            roles.insert(key(k), (model, spec));
        }
        Ok(EngineFactory {
            catalog,
            cache,
            systems_dir: catalog.db.systems_dir().to_path_buf(),
            roles,
            regimes,
            database_mode,
        })
    }
}

/// The KV growth law of a model.
pub fn kv_layout(m: &ModelArch) -> KvLayout {
    if let Some(mla) = &m.mla {
        return KvLayout::Mla {
            layers: m.num_layers,
            width: mla.kv_lora_rank + mla.qk_rope_head_dim,
        };
    }
    if m.is_gpt_oss() {
        if let Some(window) = m.sliding_window {
            return KvLayout::SlidingHalf {
                kv_heads: m.num_kv_heads,
                head_dim: m.head_dim,
                layers: m.num_layers,
                window,
                swa_every: 2,
            };
        }
    }
    KvLayout::Gqa {
        kv_heads: m.num_kv_heads,
        head_dim: m.head_dim,
        layers: m.num_layers,
    }
}

impl WorkerFactory for EngineFactory<'_> {
    fn build(&self, task: &Task, kind: RoleKind, p: Parallel) -> Result<BuiltWorker, String> {
        let role = role_of(task, kind);
        let (model, sys) = self.roles.get(key(kind)).ok_or("role not prepared")?;
        let (coverage, lanes) = self.regimes.get(key(kind)).ok_or("role not prepared")?;
        let worker_role = match kind {
            RoleKind::Agg => WorkerRole::Agg,
            RoleKind::Prefill => WorkerRole::Prefill,
            RoleKind::Decode => WorkerRole::Decode,
        };
        let moe_comm: Option<MoeCommBackends> = if model.is_moe() {
            resolve_moe_comm(
                coverage,
                worker_role,
                &p,
                &ResolveContext {
                    model: &role.model,
                    system: &sys.name,
                    backend: role.backend,
                    version: &role.backend_version,
                    gpus_per_node: sys.gpus_per_node,
                },
            )?
        } else {
            None
        };
        // The modes this layout runs with (SGLang wide-EP DeepSeek switches
        // inferred attention modes per layout).
        let quant = role.layout_quant(&p);
        let req = CompileRequest {
            model,
            system: &sys.name,
            backend: role.backend,
            backend_version: &role.backend_version,
            parallel: p,
            quant,
            nextn: task.nextn,
            database_mode: self.database_mode,
            systems_path: Some(&self.systems_dir),
            attention_backend: task.attention_backend.as_deref(),
            is_blackwell: sys.is_blackwell(),
            gpus_per_node: sys.gpus_per_node,
            moe_comm: moe_comm.as_ref(),
            lane_orders: Some(lanes),
            enable_shared_layer: None,
            enable_eplb: false,
            wideep_num_slots: None,
            gemm_quant_explicit: role.explicit.gemm,
        };
        // Cached per request: a re-search reuses the graph and its identity.
        let graph = self.cache.compiled(&req)?;
        let (spec_id, engine) = self
            .cache
            .compiled_engine(&graph, &self.systems_dir)
            .map_err(|e| e.0)?;
        let pricer = EnginePricer {
            cache: self.cache.clone(),
            engine,
            spec_id,
            isl: task.isl,
            osl: task.osl,
            prefix: task.prefix,
            spec_json: graph.spec_json.clone(),
            nextn: task.nextn,
        };
        let nccl = |tp: u32| sys.nccl_mem_bytes(tp);
        let memory = WorkerMemory {
            backend: role.backend,
            family: model.family,
            tp: p.tp,
            pp: p.pp,
            dp: p.dp,
            moe_ep: p.moe_ep,
            nextn: task.nextn,
            weight_bytes: graph.weight_bytes,
            act_width: (model.num_heads * model.head_dim) as f64,
            hidden: model.hidden as f64,
            num_experts: if model.family == Family::Deepseek {
                model.num_experts
            } else {
                0
            },
            topk: model.topk,
            kv: kv_layout(model),
            kv_bytes_per_elem: quant.kvcache.bytes(),
            nccl_mem: [nccl(1), nccl(2), nccl(4), nccl(8)],
            other_mem: sys.other_mem_bytes,
            capacity_bytes: sys.mem_capacity_bytes,
            backend_version: role.backend_version.clone(),
            kv_fraction: None,
        };
        let _ = self.catalog;
        Ok(BuiltWorker {
            pricer: Box::new(pricer),
            memory,
            num_layers: model.num_layers,
        })
    }

    fn is_moe(&self, task: &Task, kind: RoleKind) -> bool {
        let _ = task;
        self.roles.get(key(kind)).is_some_and(|(m, _)| m.is_moe())
    }
}
