//! The database's large-EP coverage queries: comm backend → explorable EP
//! sizes per phase, from the tables (loaded once per system/backend/version)
//! through the on-disk metadata cache.

use super::tables::LargeEpTables;
use super::{a2a_covers, nodes_for, Phase, PhaseCoverage, COMM_BACKENDS};
use crate::domain::{Backend, MoeQuant};
use crate::system::database::{Database, MoeShape};
use crate::system::DbKind;
use std::collections::{BTreeMap, BTreeSet};

impl Database {
    fn large_ep_tables(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
        shared_layer: bool,
    ) -> Result<std::sync::Arc<LargeEpTables>, String> {
        let key = (
            system.to_string(),
            backend,
            version.to_string(),
            shared_layer,
        );
        if let Some(hit) = self.large_ep_cache().get(&key).cloned() {
            return hit;
        }
        let loaded =
            LargeEpTables::load(self.systems_dir(), system, backend, version, shared_layer)
                .map(std::sync::Arc::new)
                .map_err(|e| e.to_string());
        self.large_ep_cache().insert(key, loaded.clone());
        loaded
    }

    /// Comm backend → explorable EP sizes for one phase (cached per
    /// system/backend/version). Empty in built-in mode, when the version's
    /// tables cannot be opened, or when the system has no node width. With
    /// `shared_layer` off (SOL, EMPIRICAL) rows the version only inherits from
    /// siblings do not count, as in the reference.
    #[allow(clippy::too_many_arguments)]
    pub fn large_ep_coverage(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
        shape: &MoeShape,
        moe_quant: MoeQuant,
        phase: Phase,
        shared_layer: bool,
    ) -> BTreeMap<String, BTreeSet<u32>> {
        if self.kind() == DbKind::Builtin {
            return BTreeMap::new();
        }
        let key = format!(
            "{}/{}/{}/{}/{}/{}/shared={shared_layer}",
            shape.hidden_size,
            shape.moe_inter_size,
            shape.topk,
            shape.num_experts,
            moe_quant.name(),
            phase.name()
        );
        let dir = self.systems_dir().to_path_buf();
        crate::system::meta_cache::large_ep_coverage(&dir, system, backend, version, &key, || {
            self.large_ep_coverage_uncached(
                system,
                backend,
                version,
                shape,
                moe_quant,
                phase,
                shared_layer,
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn large_ep_coverage_uncached(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
        shape: &MoeShape,
        moe_quant: MoeQuant,
        phase: Phase,
        shared_layer: bool,
    ) -> BTreeMap<String, BTreeSet<u32>> {
        let mut out = BTreeMap::new();
        let Ok(spec) = self.system_spec(system) else {
            return out;
        };
        let gpn = spec.gpus_per_node;
        if gpn == 0 {
            return out;
        }
        // Missing data means no coverage, as in the reference (fused path only).
        let Ok(tables) = self.large_ep_tables(&spec.name, backend, version, shared_layer) else {
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
        system: &str,
        backend: Backend,
        version: &str,
        shape: &MoeShape,
        moe_quant: MoeQuant,
        shared_layer: bool,
    ) -> PhaseCoverage {
        let mut out = PhaseCoverage::new();
        for phase in [Phase::Context, Phase::Generation] {
            let c = self.large_ep_coverage(
                system,
                backend,
                version,
                shape,
                moe_quant,
                phase,
                shared_layer,
            );
            if !c.is_empty() {
                out.insert(phase, c);
            }
        }
        out
    }
}
