//! The shared state of one compilation ([`Cx`]): the request, the model and
//! the derived sizes and dtype names every graph builder reads, plus the
//! small per-layer shapes (attention parameters, MoE shape, CP all-gather)
//! several builders share.

use super::ops::{self, Attn, MoeShape};
use super::CompileRequest;
use crate::model::ModelArch;
use serde_json::Value;

/// Shared state of one compilation.
pub(super) struct Cx<'r, 'a> {
    pub(super) req: &'r CompileRequest<'a>,
    pub(super) m: &'a ModelArch,
    pub(super) be: &'static str,
    pub(super) tp: u32,
    pub(super) pp: u32,
    pub(super) cp: u32,
    pub(super) h: u64,
    pub(super) layers: f64,
    pub(super) mtp: f64,
    pub(super) gemm: &'static str,
    pub(super) moe_q: &'static str,
    pub(super) kv: &'static str,
    pub(super) fmha: &'static str,
}

impl Cx<'_, '_> {
    pub(super) fn moe_shape(&self) -> MoeShape<'static> {
        let p = self.req.parallel;
        MoeShape {
            hidden: self.h,
            inter: self.m.moe_intermediate as u64,
            topk: self.m.topk,
            experts: self.m.num_experts,
            moe_tp: p.moe_tp,
            moe_ep: p.moe_ep,
            dp: p.dp,
            quant: self.moe_q,
            backend: self.be,
        }
    }

    pub(super) fn comm_backend(&self, phase: &str) -> Option<&str> {
        let c = self.req.moe_comm?;
        match phase {
            "context" => c.context.as_deref(),
            _ => c.generation.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }

    pub(super) fn is_large_ep(&self) -> bool {
        self.comm_backend("context").is_some() || self.comm_backend("generation").is_some()
    }

    /// The sglang context-parallel KV all-gather next to the attention op.
    pub(super) fn cp_comm_ops(&self) -> Vec<Value> {
        if self.cp <= 1 {
            return vec![];
        }
        let m = self.m;
        let elems: u64 = match &m.mla {
            Some(mla) => m.num_layers as u64 * (mla.kv_lora_rank + mla.qk_rope_head_dim) as u64,
            None => {
                let nkv_g = m.num_kv_heads.div_ceil(self.tp) as u64;
                nkv_g * m.head_dim as u64 * m.num_layers as u64 * 2
            }
        };
        let kv_bytes = self.req.quant.kvcache.bytes() as u64;
        let per_token = (kv_bytes * elems) as f64 / m.num_layers as f64;
        let comm = self.req.quant.comm;
        vec![ops::nccl(
            "context_cp_all_gather",
            self.layers,
            "all_gather",
            per_token / comm.bytes(),
            self.cp,
            comm.name(),
        )]
    }

    /// Dense attention parameters (LLAMA/MOE).
    pub(super) fn attn(&self, window: u32) -> Attn<'static> {
        let m = self.m;
        Attn {
            n: m.num_heads / self.tp,
            n_kv: m.num_kv_heads.div_ceil(self.tp),
            head_size: m.head_dim,
            window,
            kv: self.kv,
            fmha: self.fmha,
            qk_norm: m.use_qk_norm,
        }
    }

    pub(super) fn qkv_n(&self) -> u64 {
        let m = self.m;
        let nkv_g = m.num_kv_heads.div_ceil(self.tp) as u64;
        (m.num_heads as u64 * m.head_dim as u64) / self.tp as u64 + m.head_dim as u64 * nkv_g * 2
    }

    pub(super) fn proj_k(&self) -> u64 {
        (self.m.num_heads as u64 * self.m.head_dim as u64) / self.tp as u64
    }
}
