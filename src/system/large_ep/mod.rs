//! Large-EP (MoE all-to-all) coverage: which expert-parallel sizes the
//! measured tables can price with the all-to-all graph, per inference phase
//! and communication backend, and the per-layout choice between that graph
//! and the fused one — the same decisions the reference derives from data.
//!
//! Coverage is a key walk: a comm backend covers `(ep, nodes)` when both its
//! dispatch and combine rows exist for the model shape under the serving wire
//! dtype, and an EP size is explorable when the expert-compute tables also
//! hold a pure-EP (`moe_tp = 1`) slice for the shape and MoE quant mode. The
//! files read are the ones the engine's source resolver serves (requested
//! version, declared reuse, older versions, filtered cross-backend fill),
//! including the legacy per-backend layouts the engine folds into the same
//! logical tables.
//!
//! This file holds the shared vocabulary (phases, worker roles); the
//! comm-backend registry is in [`backends`], regime resolution in
//! [`regime`], table loading in [`tables`] and the database queries in
//! [`coverage`].

mod backends;
mod coverage;
mod regime;
mod tables;

pub use backends::{a2a_covers, communication_dtype, nodes_for, CommBackendSpec, COMM_BACKENDS};
pub use regime::{
    covered_eps, large_ep_eps, resolve_moe_comm, select_comm_backends, PhaseCoverage,
    ResolveContext,
};
pub(crate) use tables::LargeEpTables;

use crate::domain::Backend;

/// Which large-EP tables a query reads: one (system, backend, version)
/// under one shared-layer policy. Every table load and coverage look-up is
/// keyed by all four, so they travel together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LargeEpKey<'a> {
    pub system: &'a str,
    pub backend: Backend,
    pub version: &'a str,
    /// Whether rows the version only inherits from sibling versions count
    /// (off for SOL and EMPIRICAL, as in the reference).
    pub shared_layer: bool,
}

/// An inference phase of a worker's graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Context,
    Generation,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Context => "context",
            Phase::Generation => "generation",
        }
    }
}

/// What a worker runs: both phases (agg), or one (prefill / decode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkerRole {
    Agg,
    Prefill,
    Decode,
}

impl WorkerRole {
    /// Phases whose coverage a large-EP layout needs: the ones the role runs,
    /// plus context always — the memory model sizes weights from the context
    /// ops, so a decode worker's context span must be in the same regime.
    pub fn required_phases(self) -> &'static [Phase] {
        match self {
            WorkerRole::Prefill => &[Phase::Context],
            WorkerRole::Agg | WorkerRole::Decode => &[Phase::Context, Phase::Generation],
        }
    }
}

#[cfg(test)]
mod tests;
