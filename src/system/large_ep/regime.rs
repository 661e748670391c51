//! Regime resolution from coverage: which comm backend serves each phase
//! of one layout, whether a layout runs fused or large EP (or cannot run),
//! and which EP sizes the search may explore.

use super::{Phase, WorkerRole, COMM_BACKENDS};
use crate::domain::{Backend, Parallel};
use crate::engine::compile::MoeCommBackends;
use std::collections::{BTreeMap, BTreeSet};

/// Per phase: comm backend → explorable EP sizes (empty entries dropped).
pub type PhaseCoverage = BTreeMap<Phase, BTreeMap<String, BTreeSet<u32>>>;

/// The backend chosen per covered phase for one EP: the first registry entry
/// covering it. trtllm runs large EP only with attention DP.
pub fn select_comm_backends(
    coverage: &PhaseCoverage,
    backend: Backend,
    dp: u32,
    moe_ep: u32,
) -> BTreeMap<Phase, &'static str> {
    let mut out = BTreeMap::new();
    if backend == Backend::Trtllm && dp <= 1 {
        return out;
    }
    for (phase, per_backend) in coverage {
        let hit = COMM_BACKENDS.iter().find(|b| {
            per_backend
                .get(b.name)
                .is_some_and(|eps| eps.contains(&moe_ep))
        });
        if let Some(b) = hit {
            out.insert(*phase, b.name);
        }
    }
    out
}

/// Identity named in the cross-node error.
#[derive(Clone, Copy, Debug)]
pub struct ResolveContext<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub backend: Backend,
    pub version: &'a str,
    pub gpus_per_node: u32,
}

/// Fused graph (`None`) or large EP (`Some`) for one layout of a MoE role.
/// Cross-node EP without an all-to-all backend for every required phase is
/// an error (pricing it fused would leave out the all-to-all latency).
pub fn resolve_moe_comm(
    coverage: &PhaseCoverage,
    role: WorkerRole,
    p: &Parallel,
    cx: &ResolveContext,
) -> Result<Option<MoeCommBackends>, String> {
    if p.moe_ep <= 1 {
        return Ok(None);
    }
    if cx.gpus_per_node == 0 {
        return Err(format!(
            "cannot resolve MoE communication: {} has no num_gpus_per_node",
            cx.system
        ));
    }
    let cross_node = p.moe_ep > cx.gpus_per_node;
    if p.moe_tp != 1 {
        if cross_node {
            return Err(format!(
                "cross-node EP needs pure expert parallelism (moe_tp=1); got moe_tp={}, moe_ep={}",
                p.moe_tp, p.moe_ep
            ));
        }
        return Ok(None);
    }
    let chosen = select_comm_backends(coverage, cx.backend, p.dp, p.moe_ep);
    let missing: Vec<&str> = role
        .required_phases()
        .iter()
        .filter(|ph| !chosen.contains_key(ph))
        .map(|ph| ph.name())
        .collect();
    if !missing.is_empty() {
        if cross_node {
            return Err(format!(
                "cross-node EP needs MoE all-to-all data, but none covers model {}, system {}, \
                 backend {}, version {}, moe_ep={}, gpus_per_node={}, phase(s) {}",
                cx.model,
                cx.system,
                cx.backend,
                cx.version,
                p.moe_ep,
                cx.gpus_per_node,
                missing.join(",")
            ));
        }
        return Ok(None);
    }
    Ok(Some(MoeCommBackends {
        context: chosen.get(&Phase::Context).map(|s| s.to_string()),
        generation: chosen.get(&Phase::Generation).map(|s| s.to_string()),
    }))
}

/// EP sizes covered in every phase the role requires (any backend).
pub fn covered_eps(coverage: &PhaseCoverage, role: WorkerRole) -> BTreeSet<u32> {
    let mut eps: Option<BTreeSet<u32>> = None;
    for phase in role.required_phases() {
        let phase_eps: BTreeSet<u32> = coverage
            .get(phase)
            .map(|m| m.values().flatten().copied().collect())
            .unwrap_or_default();
        eps = Some(match eps {
            None => phase_eps,
            Some(e) => e.intersection(&phase_eps).copied().collect(),
        });
    }
    eps.unwrap_or_default()
}

/// The multi-node ladder: covered EP sizes wider than one node. Single-node
/// coverage may pick a backend for an intra-node layout but never widens the
/// search lists or the replica budget.
pub fn large_ep_eps(coverage: &PhaseCoverage, role: WorkerRole, gpus_per_node: u32) -> Vec<u32> {
    if gpus_per_node == 0 {
        return Vec::new();
    }
    covered_eps(coverage, role)
        .into_iter()
        .filter(|&ep| ep > gpus_per_node)
        .collect()
}
