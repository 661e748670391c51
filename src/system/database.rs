//! The located database as the rest of xpyd sees it: system specs, version
//! slots, and which quant modes the measured tables cover. One `Database`
//! per located folder; clones share one lazily filled cache.

use super::locate::{system_yaml_names, DbKind, DbLocation};
use super::spec::SystemSpec;
use super::versions::{self, QueryVersions, Slots, SystemsTree};
use super::{canonical_system_name, DbError};
use crate::domain::Backend;
use crate::exp::{SupportedQuants, SystemFacts};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The MoE block shape large-EP coverage is keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MoeShape {
    pub hidden_size: u32,
    pub moe_inter_size: u32,
    pub topk: u32,
    pub num_experts: u32,
}

/// Quant modes with measured rows, per op key of the reference's support
/// matrix (`gemm`, `moe`, `context_attention`, `generation_attention`,
/// `context_mla`, `generation_mla`), after the engine's source resolution
/// A quant table as loaded (or why it could not be).
type QuantEntry = Arc<Result<Option<QuantTable>, String>>;

/// (requested version, declared reuse, older versions, filtered cross-backend).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantTable {
    pub ops: BTreeMap<String, Vec<String>>,
    /// (fmha, kv cache) pairs per fmha-keyed context op.
    pub context_pairs: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl QuantTable {
    /// FMHA modes of `op` that exist together with `kv` (a slice collected
    /// only under another kv dtype cannot serve the query).
    pub fn fmha_modes_for(&self, op: &str, kv: &str) -> Vec<String> {
        self.context_pairs
            .get(op)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter(|(_, k)| k == kv)
                    .map(|(f, _)| f.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The resolver's summary: gemm, moe, kv cache (generation attention) and
    /// FMHA (context attention).
    pub fn summary(&self) -> SupportedQuants {
        let get = |k: &str| self.ops.get(k).cloned().unwrap_or_default();
        SupportedQuants {
            gemm: get("gemm"),
            moe: get("moe"),
            kvcache: get("generation_attention"),
            fmha: get("context_attention"),
            mla_fmha: get("context_mla"),
            mla_granular_fmha: get("context_mla_granular"),
            mla_kv: get("generation_mla"),
            wideep_mla_fmha: get("wideep_context_mla"),
            wideep_mla_kv: get("wideep_generation_mla"),
        }
    }
}

type QuantKey = (String, Backend, String);

struct Inner {
    location: DbLocation,
    query_versions: Option<QueryVersions>,
    systems: Vec<String>,
    specs: Mutex<HashMap<String, Arc<Result<SystemSpec, String>>>>,
    quants: Mutex<HashMap<QuantKey, QuantEntry>>,
    large_ep: Mutex<LargeEpCache>,
}

/// (system, backend, version, shared layer) → the large-EP tables.
type LargeEpCache =
    HashMap<(String, Backend, String, bool), Result<Arc<super::large_ep::LargeEpTables>, String>>;

/// Shared handle on one located database.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Open a located folder: reads the slots file and lists the systems;
    /// everything else loads on first use.
    pub fn open(location: DbLocation) -> Result<Self, DbError> {
        let qv_path = location.systems_dir.join("query_versions.yaml");
        let query_versions = if qv_path.is_file() {
            Some(QueryVersions::load(&qv_path)?)
        } else {
            None
        };
        let systems = system_yaml_names(&location.systems_dir);
        Ok(Database {
            inner: Arc::new(Inner {
                location,
                query_versions,
                systems,
                specs: Mutex::new(HashMap::new()),
                quants: Mutex::new(HashMap::new()),
                large_ep: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Locate (see [`super::locate`]) and open.
    pub fn locate(systems_dir_flag: Option<&Path>) -> Result<Self, DbError> {
        Self::open(super::locate(systems_dir_flag)?)
    }

    pub(super) fn large_ep_cache(&self) -> std::sync::MutexGuard<'_, LargeEpCache> {
        lock(&self.inner.large_ep)
    }

    pub fn location(&self) -> &DbLocation {
        &self.inner.location
    }

    pub fn kind(&self) -> DbKind {
        self.inner.location.kind
    }

    pub fn systems_dir(&self) -> &Path {
        &self.inner.location.systems_dir
    }

    /// Every system with a spec file, sorted.
    pub fn system_names(&self) -> Vec<String> {
        self.inner.systems.clone()
    }

    /// The parsed spec of a system (aliases accepted).
    pub fn system_spec(&self, name: &str) -> Result<SystemSpec, DbError> {
        let name = canonical_system_name(name);
        if !self.inner.systems.iter().any(|s| s == name) {
            return Err(DbError::UnknownSystem {
                name: name.to_string(),
                known: self.inner.systems.clone(),
            });
        }
        let cached = {
            let mut specs = lock(&self.inner.specs);
            specs
                .entry(name.to_string())
                .or_insert_with(|| {
                    Arc::new(SystemSpec::load(self.systems_dir(), name).map_err(|e| e.to_string()))
                })
                .clone()
        };
        match cached.as_ref() {
            Ok(spec) => Ok(spec.clone()),
            Err(message) => Err(DbError::Parse {
                path: self.systems_dir().join(format!("{name}.yaml")),
                message: message.clone(),
            }),
        }
    }

    /// Canonical facts of a system; `None` if unknown or unreadable.
    pub fn system_facts(&self, name: &str) -> Option<SystemFacts> {
        let spec = self.system_spec(name).ok()?;
        Some(SystemFacts {
            name: spec.name.clone(),
            is_blackwell: spec.is_blackwell(),
            gpus_per_node: spec.gpus_per_node,
            mem_capacity_bytes: spec.mem_capacity_bytes,
        })
    }

    /// Slots (current / previous / next) of (system, backend), if governed.
    pub fn slots(&self, system: &str, backend: Backend) -> Option<Slots> {
        let system = canonical_system_name(system);
        if self.kind() == DbKind::Builtin {
            return self.builtin_slots(system, backend);
        }
        versions::slots(
            self.inner.query_versions.as_ref(),
            self,
            system,
            backend.name(),
        )
    }

    /// Queryable versions of (system, backend) and the default one. In
    /// built-in mode the slots file alone decides (there is no data to gate on).
    pub fn versions(&self, system: &str, backend: Backend) -> (Vec<String>, Option<String>) {
        let system = canonical_system_name(system);
        if self.kind() == DbKind::Builtin {
            return match self.builtin_slots(system, backend) {
                Some(s) => (s.values(), Some(s.current)),
                None => (Vec::new(), None),
            };
        }
        versions::versions(
            self.inner.query_versions.as_ref(),
            self,
            system,
            backend.name(),
        )
    }

    /// Map a requested version (an alias `current`/`previous`/`next`, or a
    /// listed version) to a concrete one; the error lists what is available.
    pub fn resolve_version(
        &self,
        system: &str,
        backend: Backend,
        requested: &str,
    ) -> Result<String, String> {
        let (listed, default) = self.versions(system, backend);
        if let Some(slots) = self.slots(system, backend) {
            return slots.resolve(requested).ok_or_else(|| {
                format!(
                    "{backend} version '{requested}' is not available on {system}; \
                     use current/previous/next or one of: {}",
                    slots.values().join(", ")
                )
            });
        }
        match requested {
            "current" | "latest" => default
                .ok_or_else(|| format!("no {backend} database version is available on {system}")),
            v if listed.iter().any(|x| x == v) => Ok(v.to_string()),
            v => Err(format!(
                "{backend} version '{v}' is not available on {system}; available: {}",
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                }
            )),
        }
    }

    fn builtin_slots(&self, system: &str, backend: Backend) -> Option<Slots> {
        if !self.inner.systems.iter().any(|s| s == system) {
            return None;
        }
        let doc = self.inner.query_versions.as_ref()?;
        let entry = doc
            .overrides
            .get(system)
            .and_then(|m| m.get(backend.name()))
            .or_else(|| doc.defaults.get(backend.name()))?;
        Some(Slots {
            current: entry.current.clone().filter(|c| !c.is_empty())?,
            previous: entry.previous.clone().filter(|p| !p.is_empty()),
            next: None,
        })
    }

    /// Quant modes the measured tables cover; `Ok(None)` in built-in mode.
    /// Cached per (system, backend, version); the first call reads the dtype
    /// columns of the resolved tables (tens of milliseconds).
    pub fn quant_table(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
    ) -> Result<Option<QuantTable>, DbError> {
        if self.kind() == DbKind::Builtin {
            return Ok(None);
        }
        let system = canonical_system_name(system).to_string();
        let key = (system.clone(), backend, version.to_string());
        let cell = lock(&self.inner.quants).get(&key).cloned();
        let result = match cell {
            Some(r) => r,
            None => {
                let computed = Arc::new(
                    super::meta_cache::quant_table(
                        self.systems_dir(),
                        &system,
                        backend,
                        version,
                        || super::quants::compute(self.systems_dir(), &system, backend, version),
                    )
                    .map_err(|e| e.to_string()),
                );
                lock(&self.inner.quants).insert(key, computed.clone());
                computed
            }
        };
        match result.as_ref() {
            Ok(t) => Ok(t.clone()),
            Err(message) => Err(DbError::Engine {
                path: self.systems_dir().to_path_buf(),
                system,
                backend: backend.name().to_string(),
                version: version.to_string(),
                message: message.clone(),
            }),
        }
    }

    /// The resolver's view: `None` in built-in mode or when the version's
    /// tables cannot be opened (then nothing can be checked against data).
    pub fn supported_quants(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
    ) -> Option<SupportedQuants> {
        self.quant_table(system, backend, version)
            .ok()
            .flatten()
            .map(|t| t.summary())
    }
}

impl SystemsTree for Database {
    fn data_dir(&self, system: &str) -> Option<PathBuf> {
        let spec = self.system_spec(system).ok()?;
        Some(self.systems_dir().join(spec.data_dir))
    }
    fn systems(&self) -> Vec<String> {
        self.inner.systems.clone()
    }
}

/// Lock a cache, recovering from a poisoned mutex (the caches hold plain
/// data, so a panic elsewhere cannot leave them inconsistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
