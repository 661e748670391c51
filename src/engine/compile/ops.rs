//! JSON constructors for the vendor engine's `OpSpec` variants (externally
//! tagged). Integer fields stay integers and float fields stay floats so the
//! values compare equal to the reference's JSON after parsing.

use serde_json::{json, Value};

/// Token-sharding knobs shared by the token-major ops.
#[derive(Clone, Copy)]
pub struct Tok {
    pub seq_split: u32,
    pub scale_num_tokens: u32,
}

impl Tok {
    pub const ONE: Tok = Tok {
        seq_split: 1,
        scale_num_tokens: 1,
    };
    pub fn split(cp: u32) -> Tok {
        Tok {
            seq_split: cp,
            scale_num_tokens: 1,
        }
    }
}

pub fn gemm(
    name: &str,
    sf: f64,
    n: u64,
    k: u64,
    quant: &str,
    tok: Tok,
    low_precision_input: bool,
) -> Value {
    json!({"Gemm": {
        "name": name, "scale_factor": sf, "n": n, "k": k, "quant_mode": quant,
        "scale_num_tokens": tok.scale_num_tokens, "low_precision_input": low_precision_input,
        "seq_split": tok.seq_split, "below_grid_sol": false,
    }})
}

/// The engine stores only the bytes moved per token: 2 bytes in and out per element.
pub fn elementwise(name: &str, sf: f64, dim_in: u64, dim_out: u64, tok: Tok) -> Value {
    json!({"Elementwise": {
        "name": name, "scale_factor": sf, "bytes_per_token": (dim_in * 2 + dim_out * 2) as f64,
        "scale_num_tokens": tok.scale_num_tokens.max(1), "seq_split": tok.seq_split,
    }})
}

pub fn embedding(name: &str, sf: f64, vocab: u64, hidden: u64, seq_split: u32) -> Value {
    json!({"Embedding": {
        "name": name, "scale_factor": sf, "vocab_size": vocab, "hidden_size": hidden,
        "quant_mode": "bfloat16", "seq_split": seq_split,
    }})
}

pub struct Attn<'a> {
    pub n: u32,
    pub n_kv: u32,
    pub head_size: u32,
    pub window: u32,
    pub kv: &'a str,
    pub fmha: &'a str,
    pub qk_norm: bool,
}

pub fn context_attention(name: &str, sf: f64, a: &Attn, cp: u32) -> Value {
    json!({"ContextAttention": {
        "name": name, "scale_factor": sf, "n": a.n, "n_kv": a.n_kv, "head_size": a.head_size,
        "window_size": a.window, "kv_cache_dtype": a.kv, "fmha_quant_mode": a.fmha,
        "use_qk_norm": a.qk_norm, "cp_size": cp, "lane_order": ["default"],
    }})
}

pub fn generation_attention(name: &str, sf: f64, a: &Attn) -> Value {
    json!({"GenerationAttention": {
        "name": name, "scale_factor": sf, "n": a.n, "n_kv": a.n_kv, "head_size": a.head_size,
        "window_size": a.window, "kv_cache_dtype": a.kv, "lane_order": ["default"],
    }})
}

/// The engine's all-reduce always runs at half precision.
pub fn all_reduce(name: &str, sf: f64, hidden: u64, tp: u32, seq_split: u32) -> Value {
    json!({"CustomAllReduce": {
        "name": name, "scale_factor": sf, "hidden_size": hidden, "tp_size": tp,
        "quant": "half", "seq_split": seq_split,
    }})
}

pub fn nccl(name: &str, sf: f64, op: &str, elems_per_token: f64, gpus: u32, dtype: &str) -> Value {
    json!({"Nccl": {
        "name": name, "scale_factor": sf, "hidden_size": elems_per_token, "num_gpus": gpus,
        "dtype": dtype, "operation": op, "seq_split": 1,
    }})
}

pub fn p2p(name: &str, sf: f64, hidden: u64, pp: u32, seq_split: u32) -> Value {
    json!({"P2P": {
        "name": name, "scale_factor": sf, "pp_size": pp, "hidden_size": hidden, "seq_split": seq_split,
    }})
}

/// Shape of one MoE layer as the fused dispatch/compute ops see it.
pub struct MoeShape<'a> {
    pub hidden: u64,
    pub inter: u64,
    pub topk: u32,
    pub experts: u32,
    pub moe_tp: u32,
    pub moe_ep: u32,
    pub dp: u32,
    pub quant: &'a str,
    pub backend: &'a str,
}

pub fn moe_dispatch(
    name: &str,
    sf: f64,
    s: &MoeShape,
    pre: bool,
    attn_cp: u32,
    is_context: bool,
) -> Value {
    // Construction derives the flavor from the backend alone (deepep_moe is rejected earlier).
    let flavor = if s.backend == "trtllm" {
        "TrtllmAlltoall"
    } else {
        "CustomAllReduce"
    };
    json!({"MoeDispatch": {
        "name": name, "scale_factor": sf, "hidden_size": s.hidden, "topk": s.topk,
        "num_experts": s.experts, "moe_tp_size": s.moe_tp, "moe_ep_size": s.moe_ep,
        "attention_dp_size": s.dp, "pre_dispatch": pre, "attn_ar_modeled": false,
        "backend": s.backend, "flavor": flavor, "comm_quant": "half", "moe_quant": s.quant,
        "attn_cp_size": attn_cp, "is_context": is_context, "sms": 12, "scale_num_tokens": 1,
    }})
}

pub fn moe(name: &str, sf: f64, s: &MoeShape, workload: &str) -> Value {
    json!({"Moe": {
        "name": name, "scale_factor": sf, "hidden_size": s.hidden, "inter_size": s.inter,
        "topk": s.topk, "num_experts": s.experts, "moe_tp_size": s.moe_tp, "moe_ep_size": s.moe_ep,
        "attention_dp_size": s.dp, "quant_mode": s.quant, "workload_distribution": workload,
        "is_gated": true, "moe_backend": null, "enable_eplb": false, "is_context": true,
    }})
}

pub struct A2a<'a> {
    pub comm_backend: &'a str,
    pub hidden: u64,
    pub topk: u32,
    pub experts: u32,
    pub moe_ep: u32,
    pub node_num: u32,
    pub sms: u32,
    pub attention_tp: u32,
}

pub fn moe_all_to_all(name: &str, sf: f64, phase: &str, dtype: &str, a: &A2a) -> Value {
    json!({"MoeAllToAll": {
        "name": name, "scale_factor": sf, "phase": phase, "comm_backend": a.comm_backend,
        "comm_dtype": dtype, "hidden_size": a.hidden, "topk": a.topk, "num_experts": a.experts,
        "moe_ep_size": a.moe_ep, "node_num": a.node_num, "sms": a.sms,
        "attention_tp_size": a.attention_tp,
    }})
}

#[allow(clippy::too_many_arguments)]
pub fn moe_expert_compute(
    name: &str,
    sf: f64,
    s: &MoeShape,
    workload: &str,
    phase: &str,
    num_slots: u32,
    enable_eplb: bool,
) -> Value {
    json!({"MoeExpertCompute": {
        "name": name, "scale_factor": sf, "hidden_size": s.hidden, "inter_size": s.inter,
        "topk": s.topk, "num_experts": s.experts, "moe_ep_size": s.moe_ep, "quant_mode": s.quant,
        "workload_distribution": workload, "attention_dp_size": s.dp, "inference_phase": phase,
        "num_slots": num_slots, "kernel_source": null, "is_gated": true, "enable_eplb": enable_eplb,
    }})
}

#[allow(clippy::too_many_arguments)]
pub fn mla_module(
    context: bool,
    name: &str,
    sf: f64,
    heads: u32,
    kv: &str,
    fmha: &str,
    gemm: &str,
    native: u32,
) -> Value {
    let body = json!({
        "name": name, "scale_factor": sf, "num_heads": heads, "kv_cache_dtype": kv,
        "fmha_quant_mode": fmha, "gemm_quant_mode": gemm, "native_num_heads": native,
    });
    if context {
        json!({ "MlaModuleContext": body })
    } else {
        json!({ "MlaModuleGeneration": body })
    }
}

pub fn context_mla(name: &str, sf: f64, heads: u32, kv: &str, fmha: &str, cp: u32) -> Value {
    json!({"ContextMla": {
        "name": name, "scale_factor": sf, "num_heads": heads, "kv_cache_dtype": kv,
        "fmha_quant_mode": fmha, "cp_size": cp,
    }})
}

pub fn generation_mla(name: &str, sf: f64, heads: u32, kv: &str) -> Value {
    json!({"GenerationMla": {"name": name, "scale_factor": sf, "num_heads": heads, "kv_cache_dtype": kv}})
}

pub fn mla_bmm(name: &str, sf: f64, heads: u32, quant: &str, is_pre: bool) -> Value {
    json!({"MlaBmm": {"name": name, "scale_factor": sf, "num_heads": heads, "quant_mode": quant, "is_pre": is_pre}})
}

#[allow(clippy::too_many_arguments)]
pub fn wideep_mla(
    context: bool,
    name: &str,
    sf: f64,
    tp: u32,
    kv: &str,
    fmha: &str,
    backend: &str,
    cp: u32,
) -> Value {
    if context {
        json!({"WideEpContextMla": {
            "name": name, "scale_factor": sf, "num_heads": 128 / tp, "kv_cache_dtype": kv,
            "fmha_quant_mode": fmha, "attn_backend": backend, "cp_size": cp,
        }})
    } else {
        json!({"WideEpGenerationMla": {
            "name": name, "scale_factor": sf, "num_heads": 128 / tp, "kv_cache_dtype": kv,
            "fmha_quant_mode": fmha, "attn_backend": backend,
        }})
    }
}

pub fn fallback(name: &str, primary: Value, fallback: Vec<Value>) -> Value {
    json!({"Fallback": {"name": name, "primary": primary, "fallback": fallback}})
}

pub fn overlap(name: &str, a: Vec<Value>, b: Vec<Value>) -> Value {
    json!({"Overlap": {"name": name, "group_a": a, "group_b": b}})
}
