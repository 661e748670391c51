//! Dtype names: the collapsed names the engine identity carries
//! (`weight_dtype`, `moe_dtype`, ...) and, for the large-EP graph, each
//! all-to-all backend's comm phases and wire dtype.

use super::CompileError;
use serde_json::{json, Value};

/// Collapsed dtype names the engine identity carries (`weight_dtype`, ...).
pub(super) fn gemm_dtype(q: &str) -> Value {
    match q {
        "bfloat16" | "fp8" | "fp8_static" | "fp8_block" | "nvfp4" | "w4a16_nvfp4" => json!(q),
        "fp8_ootb" => json!("fp8"),
        "int8_wo" | "sq" | "int8" => json!("int8"),
        "int4_wo" | "w4afp8" | "w4a16_mxfp4" | "w4a8_mxfp4_mxfp8" => json!("int4"),
        "float16" | "half" => json!("float16"),
        _ => Value::Null,
    }
}

pub(super) fn moe_dtype(q: &str) -> Value {
    match q {
        "w4afp8"
        | "w4a16_mxfp4"
        | "w4a8_mxfp4_mxfp8"
        | "w4a8_mxfp4_mxfp8_trtllm"
        | "w4a16_mxfp4_cutlass" => json!(q),
        _ => gemm_dtype(q),
    }
}

/// Comm phases of each all-to-all backend (the last one is always `combine`).
pub(super) fn comm_phases(backend: &str) -> Option<&'static [&'static str]> {
    match backend {
        "deepep_ht"
        | "deepep_ll"
        | "deepep_v2_context"
        | "deepep_v2_generation"
        | "trtllm_deepep_ht"
        | "trtllm_deepep_ll"
        | "nvlink_one_sided" => Some(&["dispatch", "combine"]),
        "nvlink_two_sided" => Some(&["prepare", "dispatch", "combine"]),
        _ => None,
    }
}

/// Wire dtype the serving stack uses for an all-to-all (TRT-LLM HT sends fp8
/// models' activations as bf16, LL as fp8; DeepEP tables have no dtype axis).
pub(super) fn comm_dtype(
    system: &str,
    backend: &str,
    moe_quant: &str,
    phase: &'static str,
    comm_phase: &'static str,
) -> Result<&'static str, CompileError> {
    let norm = match moe_quant {
        "fp8_block" | "fp8" => "fp8",
        "bfloat16" => "bfloat16",
        "nvfp4" => "nvfp4",
        _ => "",
    };
    let hopper = matches!(system, "h100_sxm" | "h200_sxm");
    let out = if backend.starts_with("deepep") {
        Some("default")
    } else {
        match (backend, norm) {
            ("trtllm_deepep_ht", "nvfp4") => Some("nvfp4"),
            ("trtllm_deepep_ht", "bfloat16" | "fp8") => Some("bfloat16"),
            ("trtllm_deepep_ll", "bfloat16") => Some("bfloat16"),
            ("trtllm_deepep_ll", "fp8") => Some("fp8"),
            ("trtllm_deepep_ll", "nvfp4") if !hopper => Some(if comm_phase == "combine" {
                "fp4"
            } else {
                "nvfp4"
            }),
            ("nvlink_two_sided" | "nvlink_one_sided", "nvfp4")
                if phase == "generation" && comm_phase == "combine" =>
            {
                Some("fp4")
            }
            ("nvlink_two_sided" | "nvlink_one_sided", "bfloat16") => Some("bfloat16"),
            ("nvlink_two_sided" | "nvlink_one_sided", "fp8") => Some("fp8"),
            ("nvlink_two_sided" | "nvlink_one_sided", "nvfp4") => Some("nvfp4"),
            _ => None,
        }
    };
    out.ok_or_else(|| CompileError::CommDtype {
        backend: backend.to_string(),
        quant: moe_quant.to_string(),
        phase,
        comm_phase,
    })
}
