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

use super::database::{Database, MoeShape};
use super::quants::{
    distinct, engine_error, has_column, probe_engine_with, resolved_sources, Source,
};
use super::{DbError, DbKind};
use crate::domain::{Backend, MoeQuant, Parallel};
use crate::engine::compile::MoeCommBackends;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

/// Static description of one all-to-all communication backend.
#[derive(Clone, Copy, Debug)]
pub struct CommBackendSpec {
    pub name: &'static str,
    pub frameworks: &'static [Backend],
    pub phases: &'static [Phase],
    pub min_sm: u32,
    pub max_topk: u32,
}

impl CommBackendSpec {
    /// Whether the backend can serve this MoE parallelism at all.
    pub fn feasible(
        &self,
        topk: u32,
        num_experts: u32,
        moe_tp: u32,
        moe_ep: u32,
        sm_version: Option<u32>,
    ) -> bool {
        topk <= self.max_topk
            && moe_tp == 1
            && moe_ep > 1
            && moe_ep <= num_experts
            && num_experts.is_multiple_of(moe_ep)
            && sm_version.is_none_or(|sm| sm >= self.min_sm)
    }
}

const CTX: &[Phase] = &[Phase::Context];
const GEN: &[Phase] = &[Phase::Generation];
const BOTH: &[Phase] = &[Phase::Context, Phase::Generation];
const SGL_VLLM: &[Backend] = &[Backend::Sglang, Backend::Vllm];
const VLLM: &[Backend] = &[Backend::Vllm];
const TRT: &[Backend] = &[Backend::Trtllm];

const fn spec(
    name: &'static str,
    frameworks: &'static [Backend],
    phases: &'static [Phase],
    min_sm: u32,
) -> CommBackendSpec {
    CommBackendSpec {
        name,
        frameworks,
        phases,
        min_sm,
        max_topk: 8,
    }
}

/// The registry, in precedence order: when two backends cover the same EP
/// for a phase, the earlier one is chosen.
pub const COMM_BACKENDS: [CommBackendSpec; 8] = [
    spec("deepep_ht", SGL_VLLM, CTX, 0),
    spec("deepep_ll", SGL_VLLM, GEN, 0),
    spec("deepep_v2_context", VLLM, CTX, 0),
    spec("deepep_v2_generation", VLLM, GEN, 0),
    spec("trtllm_deepep_ht", TRT, CTX, 0),
    spec("trtllm_deepep_ll", TRT, GEN, 0),
    spec("nvlink_two_sided", TRT, BOTH, 100),
    spec("nvlink_one_sided", TRT, BOTH, 100),
];

/// DeepEP backends whose single-node rows may stand in for a multi-node scale.
const NODE1_FALLBACK: [&str; 4] = [
    "deepep_ht",
    "deepep_ll",
    "trtllm_deepep_ht",
    "trtllm_deepep_ll",
];

const HOPPER: [&str; 2] = ["h100_sxm", "h200_sxm"];

/// Nodes needed to host `ep` ranks.
pub fn nodes_for(ep: u32, gpus_per_node: u32) -> u32 {
    ep.div_ceil(gpus_per_node.max(1))
}

/// The wire dtype the rows must be stored under for one (comm backend,
/// communication step, inference phase); `None` when serving defines none.
pub fn communication_dtype<'a>(
    system: &str,
    comm_backend: &str,
    moe_quant: &'a str,
    comm_step: &str,
    phase: Phase,
) -> Option<&'a str> {
    let q = match moe_quant {
        "none" => "bfloat16",
        "fp8_block" => "fp8",
        other => other,
    };
    if comm_backend.starts_with("deepep") {
        return Some("default");
    }
    match comm_backend {
        // High-throughput DeepEP sends fp8 models' activations as bf16.
        "trtllm_deepep_ht" => match q {
            "nvfp4" => Some("nvfp4"),
            "bfloat16" | "fp8" => Some("bfloat16"),
            _ => None,
        },
        "trtllm_deepep_ll" => match q {
            "bfloat16" | "fp8" => Some(q),
            "nvfp4" if !HOPPER.contains(&system) => Some(if comm_step == "combine" {
                "fp4"
            } else {
                "nvfp4"
            }),
            _ => None,
        },
        "nvlink_two_sided" | "nvlink_one_sided" => match q {
            "nvfp4" if phase == Phase::Generation && comm_step == "combine" => Some("fp4"),
            other => Some(other),
        },
        _ => None,
    }
}

/// Whether A2A rows at `pairs` (ep, nodes) can serve `ep` over `nodes`: the
/// exact scale, or for DeepEP a full-node single-node row (sglang keeps its
/// normalised EP8 coordinate).
pub fn a2a_covers(
    pairs: &BTreeSet<(u32, u32)>,
    framework: Backend,
    comm_backend: &str,
    ep: u32,
    nodes: u32,
    gpus_per_node: u32,
) -> bool {
    if pairs.contains(&(ep, nodes)) {
        return true;
    }
    if !NODE1_FALLBACK.contains(&comm_backend) || nodes <= 1 {
        return false;
    }
    match framework {
        Backend::Sglang => pairs.contains(&(8, 1)),
        Backend::Vllm | Backend::Trtllm => pairs.contains(&(gpus_per_node, 1)),
    }
}

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

/// A2A row identity above the token axis (sms is an "any" axis here).
type A2aKey = (String, String, String, u32, u32, u32, u32, u32);
/// Expert-compute identity at moe_tp = 1: (quant, phase, topk, experts, hidden, inter, ep).
type ComputeKey = (String, String, u32, u32, u32, u32, u32);
/// Regular MoE kernel identity at moe_tp = 1: (quant, topk, experts, hidden, inter, ep).
type LegacyKey = (String, u32, u32, u32, u32, u32);

/// Key sets of one (system, backend, version), read once.
#[derive(Debug, Default)]
pub(crate) struct LargeEpTables {
    a2a: BTreeSet<A2aKey>,
    compute: BTreeSet<ComputeKey>,
    legacy: BTreeSet<LegacyKey>,
}

fn num(text: &str, col: &str, path: &Path) -> Result<u32, DbError> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u32)
        .ok_or_else(|| DbError::Parse {
            path: path.to_path_buf(),
            message: format!("column '{col}' holds '{text}', not a count"),
        })
}

/// Rows of one source as named string columns (optional ones read "").
fn rows(
    src: &Source,
    required: &[&str],
    optional: &[&str],
) -> Result<Vec<BTreeMap<String, String>>, DbError> {
    let one = [Source {
        path: src.path.clone(),
        kernel_sources: src.kernel_sources.clone(),
    }];
    let names: Vec<&str> = required.iter().chain(optional).copied().collect();
    Ok(distinct(&one, required, optional)?
        .into_iter()
        .map(|vals| {
            names
                .iter()
                .map(|n| n.to_string())
                .zip(vals)
                .collect::<BTreeMap<_, _>>()
        })
        .collect())
}

fn get<'a>(row: &'a BTreeMap<String, String>, col: &str) -> &'a str {
    row.get(col).map(String::as_str).unwrap_or("")
}

impl LargeEpTables {
    pub(crate) fn load(
        systems_dir: &Path,
        system: &str,
        backend: Backend,
        version: &str,
        shared_layer: bool,
    ) -> Result<Self, DbError> {
        let engine_err = engine_error(systems_dir, system, backend, version);
        let engine = probe_engine_with(
            systems_dir,
            system,
            backend,
            version,
            "SILICON",
            Some(shared_layer),
        )
        .map_err(&engine_err)?;
        let sources = |basename: &str| resolved_sources(&engine, basename).map_err(&engine_err);
        let mut t = LargeEpTables::default();

        // Unified all-to-all table.
        for src in sources("moe_a2a_perf.parquet")? {
            let cols = [
                "comm_backend",
                "phase",
                "comm_dtype",
                "ep_size",
                "node_num",
                "hidden_size",
                "topk",
                "num_experts",
            ];
            for r in rows(&src, &cols, &[])? {
                let n = |c: &str| num(get(&r, c), c, &src.path);
                t.a2a.insert((
                    get(&r, "comm_backend").to_string(),
                    get(&r, "phase").to_string(),
                    get(&r, "comm_dtype").to_string(),
                    n("ep_size")?,
                    n("node_num")?,
                    n("hidden_size")?,
                    n("topk")?,
                    n("num_experts")?,
                ));
            }
        }
        // Legacy sglang DeepEP tables: one row feeds both steps; EP is 8 per node.
        for (basename, comm) in [
            ("wideep_deepep_normal_perf.parquet", "deepep_ht"),
            ("wideep_deepep_ll_perf.parquet", "deepep_ll"),
        ] {
            for src in sources(basename)? {
                let cols = ["node_num", "hidden_size", "num_topk", "num_experts"];
                for r in rows(&src, &cols, &[])? {
                    let n = |c: &str| num(get(&r, c), c, &src.path);
                    let node = n("node_num")?;
                    for step in ["dispatch", "combine"] {
                        t.a2a.insert((
                            comm.to_string(),
                            step.to_string(),
                            "default".to_string(),
                            node.saturating_mul(8),
                            node,
                            n("hidden_size")?,
                            n("num_topk")?,
                            n("num_experts")?,
                        ));
                    }
                }
            }
        }
        // Legacy trtllm NVLink all-to-all table.
        for src in sources("trtllm_alltoall_perf.parquet")? {
            let has_ks = has_column(&src.path, "kernel_source")?;
            let has_nodes = has_column(&src.path, "num_nodes")?;
            let cols = [
                "op_name",
                "moe_dtype",
                "hidden_size",
                "topk",
                "num_experts",
                "moe_ep_size",
            ];
            for r in rows(&src, &cols, &["kernel_source", "num_nodes"])? {
                let n = |c: &str| num(get(&r, c), c, &src.path);
                // An absent column means the two-sided kernel; a null cell maps to none.
                let ks = if has_ks {
                    get(&r, "kernel_source")
                } else {
                    "NVLinkTwoSided"
                };
                let comm = match ks {
                    "NVLinkTwoSided" => "nvlink_two_sided",
                    "NVLinkOneSided" => "nvlink_one_sided",
                    _ => continue,
                };
                let (step, dtype) = match get(&r, "op_name") {
                    "alltoall_prepare" => ("prepare", None),
                    "alltoall_dispatch" => ("dispatch", None),
                    "alltoall_combine" => ("combine", None),
                    "alltoall_combine_low_precision" => ("combine", Some("fp4")),
                    _ => continue,
                };
                let ep = n("moe_ep_size")?;
                let nodes = if has_nodes {
                    n("num_nodes")?
                } else {
                    (ep / 4).max(1)
                };
                t.a2a.insert((
                    comm.to_string(),
                    step.to_string(),
                    dtype.unwrap_or(get(&r, "moe_dtype")).to_string(),
                    ep,
                    nodes,
                    n("hidden_size")?,
                    n("topk")?,
                    n("num_experts")?,
                ));
            }
        }

        // Unified expert-compute table.
        for src in sources("moe_expert_compute_perf.parquet")? {
            let cols = [
                "moe_dtype",
                "inference_phase",
                "topk",
                "num_experts",
                "hidden_size",
                "inter_size",
                "moe_tp_size",
                "moe_ep_size",
            ];
            for r in rows(&src, &cols, &[])? {
                let n = |c: &str| num(get(&r, c), c, &src.path);
                if n("moe_tp_size")? != 1 {
                    continue;
                }
                t.compute.insert((
                    get(&r, "moe_dtype").to_string(),
                    get(&r, "inference_phase").to_string(),
                    n("topk")?,
                    n("num_experts")?,
                    n("hidden_size")?,
                    n("inter_size")?,
                    n("moe_ep_size")?,
                ));
            }
        }
        // Legacy sglang wide-EP compute tables: the phase is the file's.
        // trtllm's legacy table serves both phases.
        for (basename, phases) in [
            ("wideep_context_moe_perf.parquet", CTX),
            ("wideep_generation_moe_perf.parquet", GEN),
            ("wideep_moe_perf.parquet", BOTH),
        ] {
            for src in sources(basename)? {
                let cols = [
                    "moe_dtype",
                    "topk",
                    "num_experts",
                    "hidden_size",
                    "moe_ep_size",
                ];
                for r in rows(&src, &cols, &["inter_size", "moe_tp_size"])? {
                    let n = |c: &str| num(get(&r, c), c, &src.path);
                    let inter = match get(&r, "inter_size") {
                        "" => 0,
                        _ => n("inter_size")?,
                    };
                    let moe_tp = match get(&r, "moe_tp_size") {
                        "" => 1,
                        _ => n("moe_tp_size")?,
                    };
                    if moe_tp != 1 {
                        continue;
                    }
                    for ph in phases {
                        t.compute.insert((
                            get(&r, "moe_dtype").to_string(),
                            ph.name().to_string(),
                            n("topk")?,
                            n("num_experts")?,
                            n("hidden_size")?,
                            inter,
                            n("moe_ep_size")?,
                        ));
                    }
                }
            }
        }
        // The regular expert-kernel table stands in for compute on vllm/trtllm
        // (min-latency kernels form a separate table and do not count).
        if matches!(backend, Backend::Vllm | Backend::Trtllm) {
            for src in sources("moe_perf.parquet")? {
                let cols = [
                    "moe_dtype",
                    "topk",
                    "num_experts",
                    "hidden_size",
                    "inter_size",
                    "moe_tp_size",
                    "moe_ep_size",
                ];
                for r in rows(&src, &cols, &["kernel_source"])? {
                    let n = |c: &str| num(get(&r, c), c, &src.path);
                    let ks = get(&r, "kernel_source");
                    if ks == "moe_torch_flow_min_latency" || n("moe_tp_size")? != 1 {
                        continue;
                    }
                    let quant = match (get(&r, "moe_dtype"), ks) {
                        ("w4a8_mxfp4_mxfp8", "sglang_mxfp4_flashinfer_trtllm_moe") => {
                            "w4a8_mxfp4_mxfp8_trtllm"
                        }
                        ("w4a16_mxfp4", "sglang_flashinfer_cutlass_moe") => "w4a16_mxfp4_cutlass",
                        (d, _) => d,
                    };
                    t.legacy.insert((
                        quant.to_string(),
                        n("topk")?,
                        n("num_experts")?,
                        n("hidden_size")?,
                        n("inter_size")?,
                        n("moe_ep_size")?,
                    ));
                }
            }
        }
        Ok(t)
    }

    /// comm backend → (ep, nodes) with dispatch and combine rows for the
    /// shape under the serving wire dtype of `phase`.
    fn a2a_coverage(
        &self,
        system: &str,
        shape: &MoeShape,
        quant: MoeQuant,
        phase: Phase,
    ) -> BTreeMap<&'static str, BTreeSet<(u32, u32)>> {
        let mut out = BTreeMap::new();
        for b in COMM_BACKENDS.iter().filter(|b| b.phases.contains(&phase)) {
            let pairs_for = |step: &str| -> Option<BTreeSet<(u32, u32)>> {
                let dtype = communication_dtype(system, b.name, quant.name(), step, phase)?;
                Some(
                    self.a2a
                        .iter()
                        .filter(|k| {
                            k.0 == b.name
                                && k.1 == step
                                && k.2 == dtype
                                && k.5 == shape.hidden_size
                                && k.6 == shape.topk
                                && k.7 == shape.num_experts
                        })
                        .map(|k| (k.3, k.4))
                        .collect(),
                )
            };
            let (Some(d), Some(c)) = (pairs_for("dispatch"), pairs_for("combine")) else {
                continue;
            };
            let both: BTreeSet<(u32, u32)> = d.intersection(&c).copied().collect();
            if !both.is_empty() {
                out.insert(b.name, both);
            }
        }
        out
    }

    /// EP sizes the expert-compute tables cover for the shape (pure EP).
    fn compute_coverage(
        &self,
        backend: Backend,
        shape: &MoeShape,
        quant: MoeQuant,
        phase: Phase,
    ) -> BTreeSet<u32> {
        let q = quant.name();
        let mut eps: BTreeSet<u32> = self
            .compute
            .iter()
            .filter(|k| {
                k.0 == q
                    && k.1 == phase.name()
                    && k.2 == shape.topk
                    && k.3 == shape.num_experts
                    && k.4 == shape.hidden_size
                    && k.5 == shape.moe_inter_size
            })
            .map(|k| k.6)
            .collect();
        if matches!(backend, Backend::Vllm | Backend::Trtllm) {
            eps.extend(
                self.legacy
                    .iter()
                    .filter(|k| {
                        k.0 == q
                            && k.1 == shape.topk
                            && k.2 == shape.num_experts
                            && k.3 == shape.hidden_size
                            && k.4 == shape.moe_inter_size
                    })
                    .map(|k| k.5),
            );
        }
        eps
    }
}

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
        super::meta_cache::large_ep_coverage(&dir, system, backend, version, &key, || {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(entries: &[(Phase, &str, &[u32])]) -> PhaseCoverage {
        let mut c = PhaseCoverage::new();
        for (ph, b, eps) in entries {
            c.entry(*ph)
                .or_default()
                .insert(b.to_string(), eps.iter().copied().collect());
        }
        c
    }

    fn par(tp: u32, dp: u32, moe_tp: u32, moe_ep: u32) -> Parallel {
        Parallel {
            tp,
            pp: 1,
            dp,
            moe_tp,
            moe_ep,
            cp: 1,
        }
    }

    const CX: ResolveContext = ResolveContext {
        model: "m",
        system: "h200_sxm",
        backend: Backend::Trtllm,
        version: "v",
        gpus_per_node: 8,
    };

    #[test]
    fn wire_dtypes_follow_serving() {
        let d = |b, q, s, p| communication_dtype("h200_sxm", b, q, s, p);
        assert_eq!(
            d("trtllm_deepep_ht", "fp8_block", "dispatch", Phase::Context),
            Some("bfloat16")
        );
        assert_eq!(
            d(
                "trtllm_deepep_ll",
                "fp8_block",
                "combine",
                Phase::Generation
            ),
            Some("fp8")
        );
        assert_eq!(
            d("trtllm_deepep_ll", "nvfp4", "combine", Phase::Generation),
            None
        );
        assert_eq!(
            communication_dtype(
                "gb200",
                "trtllm_deepep_ll",
                "nvfp4",
                "combine",
                Phase::Generation
            ),
            Some("fp4")
        );
        assert_eq!(
            d("nvlink_two_sided", "nvfp4", "combine", Phase::Generation),
            Some("fp4")
        );
        assert_eq!(
            d("nvlink_two_sided", "nvfp4", "combine", Phase::Context),
            Some("nvfp4")
        );
        assert_eq!(
            d("deepep_ht", "w4afp8", "dispatch", Phase::Context),
            Some("default")
        );
        assert_eq!(
            d("nvlink_one_sided", "w4afp8", "dispatch", Phase::Context),
            Some("w4afp8")
        );
        assert_eq!(
            d("trtllm_deepep_ht", "w4afp8", "dispatch", Phase::Context),
            None
        );
    }

    #[test]
    fn node1_rows_stand_in_for_deepep_only() {
        let pairs: BTreeSet<(u32, u32)> = [(8, 1)].into_iter().collect();
        assert!(a2a_covers(&pairs, Backend::Sglang, "deepep_ht", 32, 4, 4));
        assert!(!a2a_covers(
            &pairs,
            Backend::Trtllm,
            "trtllm_deepep_ht",
            32,
            8,
            4
        ));
        assert!(a2a_covers(
            &pairs,
            Backend::Trtllm,
            "trtllm_deepep_ht",
            32,
            4,
            8
        ));
        assert!(!a2a_covers(
            &pairs,
            Backend::Trtllm,
            "nvlink_two_sided",
            32,
            4,
            8
        ));
        assert!(!a2a_covers(
            &pairs,
            Backend::Trtllm,
            "trtllm_deepep_ht",
            4,
            1,
            8
        ));
    }

    #[test]
    fn registry_order_breaks_ties_and_trtllm_needs_dp() {
        let c = cov(&[
            (Phase::Context, "nvlink_one_sided", &[8, 16]),
            (Phase::Context, "nvlink_two_sided", &[16]),
            (Phase::Generation, "nvlink_one_sided", &[8, 16]),
        ]);
        let s = select_comm_backends(&c, Backend::Trtllm, 16, 16);
        assert_eq!(s.get(&Phase::Context), Some(&"nvlink_two_sided"));
        assert_eq!(s.get(&Phase::Generation), Some(&"nvlink_one_sided"));
        assert!(select_comm_backends(&c, Backend::Trtllm, 1, 16).is_empty());
    }

    #[test]
    fn resolution_rules() {
        let c = cov(&[
            (Phase::Context, "trtllm_deepep_ht", &[8, 16]),
            (Phase::Generation, "trtllm_deepep_ll", &[8, 16, 32]),
        ]);
        let r = resolve_moe_comm(&c, WorkerRole::Agg, &par(1, 8, 1, 8), &CX).unwrap();
        assert_eq!(
            r,
            Some(MoeCommBackends {
                context: Some("trtllm_deepep_ht".into()),
                generation: Some("trtllm_deepep_ll".into()),
            })
        );
        // Attention TP without DP stays fused on trtllm.
        assert_eq!(
            resolve_moe_comm(&c, WorkerRole::Agg, &par(8, 1, 1, 8), &CX).unwrap(),
            None
        );
        // Cross-node EP whose context is not covered is an error, intra-node falls back.
        assert!(resolve_moe_comm(&c, WorkerRole::Decode, &par(1, 32, 1, 32), &CX).is_err());
        assert!(resolve_moe_comm(&c, WorkerRole::Agg, &par(2, 16, 2, 16), &CX).is_err());
        assert_eq!(
            resolve_moe_comm(&c, WorkerRole::Agg, &par(1, 4, 1, 4), &CX).unwrap(),
            None
        );
        // A prefill worker still records generation's backend when covered.
        let r = resolve_moe_comm(&c, WorkerRole::Prefill, &par(1, 16, 1, 16), &CX).unwrap();
        assert_eq!(
            r.and_then(|m| m.generation),
            Some("trtllm_deepep_ll".into())
        );
        assert_eq!(
            covered_eps(&c, WorkerRole::Agg),
            [8, 16].into_iter().collect()
        );
        assert_eq!(large_ep_eps(&c, WorkerRole::Agg, 8), vec![16]);
        assert_eq!(large_ep_eps(&c, WorkerRole::Prefill, 8), vec![16]);
    }
}
