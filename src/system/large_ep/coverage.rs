//! The database's large-EP coverage queries: comm backend → explorable EP
//! sizes per phase, from the tables (loaded once per system/backend/version)
//! through the on-disk metadata cache.

use super::tables::LargeEpTables;
use super::{a2a_covers, nodes_for, LargeEpKey, Phase, PhaseCoverage, COMM_BACKENDS};
use crate::domain::MoeQuant;
use crate::system::database::{Database, MoeShape};
use crate::system::DbKind;
use std::collections::{BTreeMap, BTreeSet};

impl Database {
    fn large_ep_tables(&self, key: LargeEpKey) -> Result<std::sync::Arc<LargeEpTables>, String> {
        let cache_key = (
            key.system.to_string(),
            key.backend,
            key.version.to_string(),
            key.shared_layer,
        );
        if let Some(hit) = self.large_ep_cache().get(&cache_key).cloned() {
            return hit;
        }
        let loaded = LargeEpTables::load(self.systems_dir(), key)
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string());
        self.large_ep_cache().insert(cache_key, loaded.clone());
        loaded
    }

    /// Comm backend → explorable EP sizes for one phase (cached per
    /// system/backend/version). Empty in built-in mode, when the version's
    /// tables cannot be opened, or when the system has no node width. With
    /// `shared_layer` off (SOL, EMPIRICAL) rows the version only inherits from
    /// siblings do not count, as in the reference.
    pub fn large_ep_coverage(
        &self,
        key: LargeEpKey,
        shape: &MoeShape,
        moe_quant: MoeQuant,
        phase: Phase,
    ) -> BTreeMap<String, BTreeSet<u32>> {
        if self.kind() == DbKind::Builtin {
            return BTreeMap::new();
        }
        let entry = format!(
            "{}/{}/{}/{}/{}/{}/shared={}",
            shape.hidden_size,
            shape.moe_inter_size,
            shape.topk,
            shape.num_experts,
            moe_quant.name(),
            phase.name(),
            key.shared_layer
        );
        let dir = self.systems_dir().to_path_buf();
        crate::system::meta_cache::large_ep_coverage(
            &dir,
            key.system,
            key.backend,
            key.version,
            &entry,
            || self.large_ep_coverage_uncached(key, shape, moe_quant, phase),
        )
    }

    fn large_ep_coverage_uncached(
        &self,
        key: LargeEpKey,
        shape: &MoeShape,
        moe_quant: MoeQuant,
        phase: Phase,
    ) -> BTreeMap<String, BTreeSet<u32>> {
        let mut out = BTreeMap::new();
        let Ok(spec) = self.system_spec(key.system) else {
            return out;
        };
        let gpn = spec.gpus_per_node;
        if gpn == 0 {
            return out;
        }
        let backend = key.backend;
        // The tables are read under the system's canonical name.
        let key = LargeEpKey {
            system: &spec.name,
            ..key
        };
        // Missing data means no coverage, as in the reference (fused path only).
        let Ok(tables) = self.large_ep_tables(key) else {
            return out;
        };
        let a2a = tables.a2a_coverage(&spec.name, shape, moe_quant, phase);
        let compute = tables.compute_coverage(backend, shape, moe_quant, phase);
        let empty = BTreeSet::new();
        for b in COMM_BACKENDS
            .iter()
            .filter(|b| b.frameworks.contains(&backend) && b.phases.contains(&phase))
        {
            let pairs = a2a.get(b.name).unwrap_or(&empty);
            let eps: BTreeSet<u32> = compute
                .iter()
                .copied()
                .filter(|&ep| {
                    a2a_covers(pairs, backend, b.name, ep, nodes_for(ep, gpn), gpn)
                        && b.feasible(shape.topk, shape.num_experts, 1, ep, spec.sm_version)
                })
                .collect();
            if !eps.is_empty() {
                out.insert(b.name.to_string(), eps);
            }
        }
        out
    }

    /// Both phases' coverage (every role probes both: a worker's graph
    /// holds both phases).
    pub fn phase_coverage(
        &self,
        key: LargeEpKey,
        shape: &MoeShape,
        moe_quant: MoeQuant,
    ) -> PhaseCoverage {
        let mut out = PhaseCoverage::new();
        for phase in [Phase::Context, Phase::Generation] {
            let c = self.large_ep_coverage(key, shape, moe_quant, phase);
            if !c.is_empty() {
                out.insert(phase, c);
            }
        }
        out
    }
}
