//! Loading the large-EP tables of one (system, backend, version): the key
//! sets of the all-to-all and expert-compute rows (unified and legacy
//! layouts), and the coverage each table gives for a model shape.

use super::backends::{BOTH, CTX, GEN};
use super::{communication_dtype, LargeEpKey, Phase, COMM_BACKENDS};
use crate::domain::{Backend, MoeQuant};
use crate::system::database::MoeShape;
use crate::system::quants::{
    distinct, engine_error, has_column, probe_engine_with, resolved_sources, Source,
};
use crate::system::DbError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
    pub(crate) fn load(systems_dir: &Path, key: LargeEpKey) -> Result<Self, DbError> {
        let LargeEpKey {
            system,
            backend,
            version,
            shared_layer,
        } = key;
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
    pub(super) fn a2a_coverage(
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
    pub(super) fn compute_coverage(
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
