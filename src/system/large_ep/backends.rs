//! The all-to-all comm-backend registry: each backend's frameworks, phases
//! and limits ([`COMM_BACKENDS`], in precedence order), the wire dtype its
//! rows are stored under, and when stored rows cover an (ep, nodes) scale.

use super::Phase;
use crate::domain::Backend;
use std::collections::BTreeSet;

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

pub(super) const CTX: &[Phase] = &[Phase::Context];
pub(super) const GEN: &[Phase] = &[Phase::Generation];
pub(super) const BOTH: &[Phase] = &[Phase::Context, Phase::Generation];
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
