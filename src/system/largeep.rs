//! Large-EP coverage: for one MoE shape and quant mode, which expert-parallel
//! sizes have both all-to-all communication data and EP expert-compute data,
//! per inference phase and communication backend. Mirrors the reference's
//! rules (backend registry, wire dtype per backend, node-1 DeepEP
//! substitutes, feasibility); the all-to-all lookups go through the vendor
//! engine's own merged table.

use super::database::MoeShape;
use super::quants::{distinct, resolved_sources};
use super::spec::SystemSpec;
use super::DbError;
use crate::domain::Backend;
use aiconfigurator_core::engine::Engine;
use std::collections::{BTreeMap, BTreeSet};

pub const PHASES: [&str; 2] = ["context", "generation"];

/// One all-to-all communication backend of the large-EP graph.
struct CommBackend {
    name: &'static str,
    frameworks: &'static [&'static str],
    phases: &'static [&'static str],
    min_sm: u32,
}

/// Registry order matters: the first backend covering an EP wins.
const COMM_BACKENDS: [CommBackend; 8] = [
    CommBackend {
        name: "deepep_ht",
        frameworks: &["sglang", "vllm"],
        phases: &["context"],
        min_sm: 0,
    },
    CommBackend {
        name: "deepep_ll",
        frameworks: &["sglang", "vllm"],
        phases: &["generation"],
        min_sm: 0,
    },
    CommBackend {
        name: "deepep_v2_context",
        frameworks: &["vllm"],
        phases: &["context"],
        min_sm: 0,
    },
    CommBackend {
        name: "deepep_v2_generation",
        frameworks: &["vllm"],
        phases: &["generation"],
        min_sm: 0,
    },
    CommBackend {
        name: "trtllm_deepep_ht",
        frameworks: &["trtllm"],
        phases: &["context"],
        min_sm: 0,
    },
    CommBackend {
        name: "trtllm_deepep_ll",
        frameworks: &["trtllm"],
        phases: &["generation"],
        min_sm: 0,
    },
    CommBackend {
        name: "nvlink_two_sided",
        frameworks: &["trtllm"],
        phases: &["context", "generation"],
        min_sm: 100,
    },
    CommBackend {
        name: "nvlink_one_sided",
        frameworks: &["trtllm"],
        phases: &["context", "generation"],
        min_sm: 100,
    },
];

/// Every backend here handles at most top-8 routing.
const MAX_TOPK: u32 = 8;

/// Backends allowed to serve a multi-node EP from a single-node measurement.
const NODE1_FALLBACK: [&str; 4] = [
    "deepep_ht",
    "deepep_ll",
    "trtllm_deepep_ht",
    "trtllm_deepep_ll",
];

/// Per phase, the covered EP sizes of each communication backend (registry order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LargeEpCoverage {
    pub gpus_per_node: u32,
    pub phases: BTreeMap<String, Vec<(String, BTreeSet<u32>)>>,
}

impl LargeEpCoverage {
    pub fn empty(gpus_per_node: u32) -> Self {
        LargeEpCoverage {
            gpus_per_node,
            phases: BTreeMap::new(),
        }
    }

    /// EP sizes covered in every phase of `role_phases` plus context, and
    /// wider than one node (single-node coverage does not unlock the ladder).
    pub fn large_ep_sizes(&self, role_phases: &[&str]) -> Vec<u32> {
        if self.gpus_per_node == 0 {
            return Vec::new();
        }
        let mut phases: BTreeSet<&str> = role_phases.iter().copied().collect();
        phases.insert("context");
        let mut eps: Option<BTreeSet<u32>> = None;
        for phase in phases {
            let here: BTreeSet<u32> = self
                .phases
                .get(phase)
                .into_iter()
                .flatten()
                .flat_map(|(_, s)| s.iter().copied())
                .collect();
            eps = Some(match eps {
                None => here,
                Some(prev) => prev.intersection(&here).copied().collect(),
            });
        }
        eps.unwrap_or_default()
            .into_iter()
            .filter(|ep| *ep > self.gpus_per_node)
            .collect()
    }

    /// The communication backend per covered phase for one tuple; TRT-LLM
    /// large EP needs attention DP, so dp ≤ 1 selects nothing there.
    pub fn select(
        &self,
        backend: Backend,
        attention_dp: u32,
        moe_ep: u32,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if backend == Backend::Trtllm && attention_dp <= 1 {
            return out;
        }
        for (phase, per_backend) in &self.phases {
            if let Some((name, _)) = per_backend.iter().find(|(_, eps)| eps.contains(&moe_ep)) {
                out.insert(phase.clone(), name.clone());
            }
        }
        out
    }
}

/// One distinct expert-compute coordinate (`phase` None = both phases).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ComputeRow {
    quant: String,
    phase: Option<String>,
    topk: u32,
    experts: u32,
    hidden: u32,
    inter: u32,
    tp: u32,
    ep: u32,
}

const SHAPE_COLS: [&str; 7] = [
    "moe_dtype",
    "topk",
    "num_experts",
    "hidden_size",
    "inter_size",
    "moe_tp_size",
    "moe_ep_size",
];

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(0)
}

fn row(v: &[String], quant: String, phase: Option<String>) -> ComputeRow {
    ComputeRow {
        quant,
        phase,
        topk: num(&v[1]),
        experts: num(&v[2]),
        hidden: num(&v[3]),
        inter: num(&v[4]),
        tp: num(&v[5]),
        ep: num(&v[6]),
    }
}

/// Distinct expert-compute coordinates of the resolved tables: the unified
/// EP compute table, the legacy wide-EP tables it absorbs, and (vLLM and
/// TRT-LLM) the regular MoE kernel table.
pub(crate) fn compute_rows(engine: &Engine, backend: Backend) -> Result<Vec<ComputeRow>, DbError> {
    let src = |b: &str| resolved_sources(engine, b).map_err(DbError::Data);
    let mut out = BTreeSet::new();
    for v in distinct(
        &src("moe_expert_compute_perf.parquet")?,
        &SHAPE_COLS,
        &["inference_phase"],
    )? {
        out.insert(row(&v, v[0].clone(), Some(v[7].clone())));
    }
    for (table, phase) in [
        ("wideep_context_moe_perf.parquet", Some("context")),
        ("wideep_generation_moe_perf.parquet", Some("generation")),
        ("wideep_moe_perf.parquet", None),
    ] {
        for v in distinct(&src(table)?, &SHAPE_COLS, &[])? {
            out.insert(row(&v, v[0].clone(), phase.map(str::to_string)));
        }
    }
    if matches!(backend, Backend::Vllm | Backend::Trtllm) {
        for v in distinct(&src("moe_perf.parquet")?, &SHAPE_COLS, &["kernel_source"])? {
            let ks = v[7].as_str();
            if ks == "moe_torch_flow_min_latency" {
                continue;
            }
            let quant = match (v[0].as_str(), ks) {
                ("w4a8_mxfp4_mxfp8", "sglang_mxfp4_flashinfer_trtllm_moe") => {
                    "w4a8_mxfp4_mxfp8_trtllm"
                }
                ("w4a16_mxfp4", "sglang_flashinfer_cutlass_moe") => "w4a16_mxfp4_cutlass",
                (q, _) => q,
            };
            out.insert(row(&v, quant.to_string(), None));
        }
    }
    Ok(out.into_iter().collect())
}

/// Wire dtype of one all-to-all phase, or `None` when the backend cannot
/// carry this quantization.
fn comm_dtype(
    system: &str,
    comm_backend: &str,
    moe_quant: &str,
    comm_phase: &str,
    phase: &str,
) -> Option<String> {
    let q = match moe_quant {
        "none" => "bfloat16",
        "fp8_block" => "fp8",
        other => other,
    };
    if comm_backend.starts_with("deepep") {
        return Some("default".into());
    }
    match comm_backend {
        "trtllm_deepep_ht" => match q {
            "nvfp4" => Some("nvfp4".into()),
            "bfloat16" | "fp8" => Some("bfloat16".into()),
            _ => None,
        },
        "trtllm_deepep_ll" => match q {
            "bfloat16" | "fp8" => Some(q.into()),
            "nvfp4" if !matches!(system, "h100_sxm" | "h200_sxm") => Some(
                if comm_phase == "combine" {
                    "fp4"
                } else {
                    "nvfp4"
                }
                .into(),
            ),
            _ => None,
        },
        "nvlink_two_sided" | "nvlink_one_sided" => {
            if q == "nvfp4" && phase == "generation" && comm_phase == "combine" {
                Some("fp4".into())
            } else {
                Some(q.into())
            }
        }
        _ => None,
    }
}

pub(crate) fn coverage(
    engine: &Engine,
    rows: &[ComputeRow],
    spec: &SystemSpec,
    shape: &MoeShape,
    backend: Backend,
    moe_quant: &str,
) -> LargeEpCoverage {
    let gpn = spec.gpus_per_node;
    let mut cov = LargeEpCoverage::empty(gpn);
    if gpn == 0 {
        return cov;
    }
    let a2a = &engine.database().moe_a2a;
    let has = |name: &str, dtypes: &(String, String), ep: u32, nodes: u32| -> bool {
        [("dispatch", &dtypes.0), ("combine", &dtypes.1)]
            .iter()
            .all(|(p, d)| {
                a2a.has_shape(
                    name,
                    p,
                    d,
                    ep,
                    nodes,
                    shape.hidden_size,
                    shape.topk,
                    shape.num_experts,
                )
                .unwrap_or(false)
            })
    };
    for phase in PHASES {
        let compute_eps: BTreeSet<u32> = rows
            .iter()
            .filter(|r| {
                r.quant == moe_quant
                    && r.phase.as_deref().is_none_or(|p| p == phase)
                    && r.topk == shape.topk
                    && r.experts == shape.num_experts
                    && r.hidden == shape.hidden_size
                    && r.inter == shape.moe_inter_size
                    && r.tp == 1
            })
            .map(|r| r.ep)
            .collect();
        let mut per_backend = Vec::new();
        for cb in &COMM_BACKENDS {
            if !cb.frameworks.contains(&backend.name()) || !cb.phases.contains(&phase) {
                continue;
            }
            let (Some(d), Some(c)) = (
                comm_dtype(&spec.name, cb.name, moe_quant, "dispatch", phase),
                comm_dtype(&spec.name, cb.name, moe_quant, "combine", phase),
            ) else {
                continue;
            };
            let dtypes = (d, c);
            let eps: BTreeSet<u32> = compute_eps
                .iter()
                .copied()
                .filter(|&ep| {
                    let feasible = shape.topk <= MAX_TOPK
                        && 1 < ep
                        && ep <= shape.num_experts
                        && shape.num_experts % ep == 0
                        && spec.sm_version.is_none_or(|sm| sm >= cb.min_sm);
                    if !feasible {
                        return false;
                    }
                    let nodes = ep.div_ceil(gpn);
                    if has(cb.name, &dtypes, ep, nodes) {
                        return true;
                    }
                    if !NODE1_FALLBACK.contains(&cb.name) || nodes <= 1 {
                        return false;
                    }
                    // Single-node substitute: SGLang's legacy tables sit at
                    // EP8; vLLM/TRT-LLM use one full physical node.
                    let sub_ep = if backend == Backend::Sglang { 8 } else { gpn };
                    has(cb.name, &dtypes, sub_ep, 1)
                })
                .collect();
            if !eps.is_empty() {
                per_backend.push((cb.name.to_string(), eps));
            }
        }
        if !per_backend.is_empty() {
            cov.phases.insert(phase.to_string(), per_backend);
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_dtypes_follow_backend_rules() {
        assert_eq!(
            comm_dtype("h100_sxm", "deepep_ll", "fp8", "dispatch", "generation").as_deref(),
            Some("default")
        );
        assert_eq!(
            comm_dtype(
                "h100_sxm",
                "trtllm_deepep_ht",
                "fp8_block",
                "dispatch",
                "context"
            )
            .as_deref(),
            Some("bfloat16")
        );
        assert_eq!(
            comm_dtype(
                "h100_sxm",
                "trtllm_deepep_ll",
                "fp8_block",
                "combine",
                "generation"
            )
            .as_deref(),
            Some("fp8")
        );
        assert_eq!(
            comm_dtype(
                "h100_sxm",
                "trtllm_deepep_ll",
                "nvfp4",
                "combine",
                "generation"
            ),
            None
        );
        assert_eq!(
            comm_dtype(
                "b200_sxm",
                "trtllm_deepep_ll",
                "nvfp4",
                "combine",
                "generation"
            )
            .as_deref(),
            Some("fp4")
        );
        assert_eq!(
            comm_dtype(
                "gb200",
                "nvlink_one_sided",
                "nvfp4",
                "combine",
                "generation"
            )
            .as_deref(),
            Some("fp4")
        );
        assert_eq!(
            comm_dtype(
                "gb200",
                "nvlink_one_sided",
                "nvfp4",
                "dispatch",
                "generation"
            )
            .as_deref(),
            Some("nvfp4")
        );
        assert_eq!(
            comm_dtype(
                "gb200",
                "trtllm_deepep_ht",
                "w4a16_mxfp4",
                "dispatch",
                "context"
            ),
            None
        );
    }

    #[test]
    fn ladder_needs_context_and_more_than_a_node() {
        let mut cov = LargeEpCoverage::empty(8);
        cov.phases
            .insert("context".into(), vec![("a".into(), [8, 16, 32].into())]);
        cov.phases.insert(
            "generation".into(),
            vec![("b".into(), [16, 64].into()), ("c".into(), [32].into())],
        );
        assert_eq!(cov.large_ep_sizes(&["context", "generation"]), [16, 32]);
        assert_eq!(cov.large_ep_sizes(&["context"]), [16, 32]);
        cov.phases.remove("context");
        assert!(cov.large_ep_sizes(&["generation"]).is_empty());
        assert_eq!(cov.select(Backend::Trtllm, 1, 32), BTreeMap::new());
        assert_eq!(
            cov.select(Backend::Trtllm, 4, 32)
                .get("generation")
                .map(String::as_str),
            Some("c")
        );
    }
}
