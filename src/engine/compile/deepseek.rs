//! Graph builder for the DEEPSEEK family (MLA attention + shared expert), in
//! its three regimes: TRT-LLM wideEP, sglang large EP and the fused graph.

use super::cx::Cx;
use super::moe::moe_block;
use super::ops::{self, Attn, Tok};
use super::CompileError;
use crate::domain::{Backend, GemmQuant};
use serde_json::Value;

pub(super) fn deepseek(cx: &Cx) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
    let m = cx.m;
    let req = cx.req;
    let p = req.parallel;
    let (tp, cp, h) = (cx.tp, cx.cp, cx.h);
    let tpu = tp as u64;
    let (l, g) = (cx.layers, cx.layers * cx.mtp);
    let heads = m.num_heads as u64;
    let mla = m.mla.clone().unwrap_or(crate::model::MlaDims {
        q_lora_rank: 1536,
        kv_lora_rank: 512,
        qk_rope_head_dim: 64,
        qk_nope_head_dim: 128,
        v_head_dim: 128,
    });
    // Attention projections follow the checkpoint's per-projection dtype.
    let excl = |g: &str| m.quant.attn_unquantized.iter().any(|x| x == g);
    let mode = |g: &str| if excl(g) { "bfloat16" } else { cx.gemm };
    let (q_q, kv_q, o_q) = (mode("q"), mode("kv"), mode("o"));
    let down_q = if excl("q") && excl("kv") {
        "bfloat16"
    } else {
        cx.gemm
    };
    let exact = q_q == kv_q && kv_q == o_q;
    let module_q = if exact { q_q } else { o_q };
    let bmm_q = if kv_q == "bfloat16" || req.quant.gemm == GemmQuant::Bfloat16 {
        "bfloat16"
    } else {
        "fp8"
    };
    let shared_q = if m.quant.shared_expert_unquantized && !req.gemm_quant_explicit {
        "bfloat16"
    } else {
        cx.gemm
    };
    let large_ep = cx.is_large_ep();
    // Fused graphs key plain alpha 1.01; large EP marks TRT-LLM EPLB rows with a
    // suffix and flattens sglang/vLLM prefill to alpha 0.6 under EPLB.
    let wl_base = "power_law_1.01";
    let wl_ep = if req.backend == Backend::Trtllm && req.enable_eplb {
        "power_law_1.01_eplb"
    } else {
        wl_base
    };
    let ctx_wl_ep = if req.backend != Backend::Trtllm && req.enable_eplb {
        "power_law_0.6"
    } else {
        wl_ep
    };
    let vocab = m.vocab as u64;
    let q_width = heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim) as u64;
    let kv_width = heads * (mla.qk_nope_head_dim + mla.v_head_dim) as u64;
    let o_width = heads * mla.v_head_dim as u64;
    let down_width = (mla.q_lora_rank + mla.kv_lora_rank + mla.qk_rope_head_dim) as u64;
    let one = Tok::ONE;
    let split = Tok::split(cp);
    let mut ctx = Vec::new();
    let mut gen = Vec::new();

    if large_ep && req.backend == Backend::Trtllm {
        if p.dp <= 1 {
            return Err(CompileError::WideEp(format!(
                "needs attention DP (dp > 1), got dp={}",
                p.dp
            )));
        }
        if p.moe_ep <= 1 {
            return Err(CompileError::WideEp(format!(
                "needs moe_ep > 1, got {}",
                p.moe_ep
            )));
        }
        let slots = req.wideep_num_slots.unwrap_or(m.num_experts);
        if slots < m.num_experts || (!req.enable_eplb && slots != m.num_experts) {
            return Err(CompileError::WideEp(format!(
                "num_slots {slots} must equal the {} experts unless EPLB is on (and never be fewer)",
                m.num_experts
            )));
        }
        let gs = g * 0.9; // PDL overlap discount on every decode-layer op
        let ql = mla.q_lora_rank as u64;
        let rope_kv = (mla.kv_lora_rank + mla.qk_rope_head_dim) as u64;
        ctx.extend([
            ops::embedding("context_embedding", 1.0, vocab, h, 1),
            ops::elementwise("context_add_norm_1", l, 2 * h, 2 * h, one),
            ops::gemm(
                "context_downscale_gemm",
                l,
                down_width,
                h,
                down_q,
                one,
                false,
            ),
            ops::elementwise("context_q_a_layernorm", l, ql, ql, one),
            ops::gemm(
                "context_q_b_proj_gemm",
                l,
                q_width / tpu,
                ql,
                q_q,
                one,
                false,
            ),
            ops::gemm(
                "context_kv_b_proj_gemm",
                l,
                kv_width / tpu,
                mla.kv_lora_rank as u64,
                kv_q,
                one,
                false,
            ),
            ops::context_mla("context_attention", l, 128 / tp, cx.kv, cx.fmha, 1),
            ops::gemm("context_proj_gemm", l, h, o_width / tpu, o_q, one, false),
            ops::elementwise("context_add_norm_2", l, 2 * h, 2 * h, one),
        ]);
        ctx.extend(moe_block(cx, "context", l, wl_ep, 1, Some(shared_q))?);
        ctx.push(ops::gemm(
            "context_logits_gemm",
            1.0,
            vocab / tpu,
            h,
            "bfloat16",
            one,
            false,
        ));
        gen.extend([
            ops::embedding("generation_embedding", cx.mtp, vocab, h, 1),
            ops::elementwise("generation_add_norm_1", gs, 2 * h, 2 * h, one),
            ops::gemm(
                "generation_downscale_gemm",
                gs,
                down_width,
                h,
                down_q,
                one,
                false,
            ),
            ops::elementwise("generation_q_a_layernorm", gs, ql, ql, one),
            ops::gemm(
                "generation_q_b_proj_gemm",
                gs,
                q_width / tpu,
                ql,
                q_q,
                one,
                false,
            ),
            ops::overlap(
                "generation_bmm_rope_overlap",
                vec![ops::mla_bmm(
                    "generation_bmm_pre",
                    gs,
                    m.num_heads / tp,
                    bmm_q,
                    true,
                )],
                vec![ops::elementwise(
                    "generation_rope_kvcache",
                    gs,
                    rope_kv,
                    rope_kv,
                    one,
                )],
            ),
            ops::generation_mla("generation_attention", gs, 128 / tp, cx.kv),
            ops::mla_bmm("generation_bmm_post", gs, m.num_heads / tp, bmm_q, false),
            ops::gemm(
                "generation_proj_gemm",
                gs,
                h,
                o_width / tpu,
                o_q,
                one,
                false,
            ),
            ops::elementwise("generation_add_norm_2", gs, 2 * h, 2 * h, one),
        ]);
        gen.extend(moe_block(cx, "generation", gs, wl_ep, 1, Some(shared_q))?);
        gen.push(ops::gemm(
            "generation_logits_gemm",
            cx.mtp,
            vocab / tpu,
            h,
            "bfloat16",
            one,
            false,
        ));
        ctx.push(ops::p2p("context_p2p", (cx.pp - 1) as f64, h, cx.pp, 1));
        gen.push(ops::p2p(
            "generation_p2p",
            (cx.pp - 1) as f64 * cx.mtp,
            h,
            cx.pp,
            1,
        ));
        return Ok((ctx, gen));
    }

    if large_ep && req.backend == Backend::Sglang {
        if 128 % tp != 0 {
            return Err(CompileError::HeadsNotDivisible { heads: 128, tp });
        }
        let backend = match req.attention_backend {
            None | Some("default") => "flashinfer",
            Some(b) => b,
        };
        let qkv_a = Tok {
            seq_split: cp,
            scale_num_tokens: tp,
        };
        ctx.push(ops::gemm(
            "context_qkv_a_proj_gemm",
            l,
            2112,
            h,
            down_q,
            qkv_a,
            false,
        ));
        if tp > 1 {
            ctx.push(ops::nccl(
                "context_tp_all_gather",
                l,
                "all_gather",
                h as f64,
                tp,
                "half",
            ));
        }
        ctx.extend([
            ops::embedding("context_embedding", 1.0, vocab, h, cp),
            ops::elementwise("context_add_norm_1", l, 2 * h, 2 * h, split),
            ops::gemm("context_downscale_gemm", l, 2112, h, down_q, split, false),
            ops::wideep_mla(
                true,
                "context_attention",
                l,
                tp,
                cx.kv,
                cx.fmha,
                backend,
                cp,
            ),
        ]);
        ctx.extend(cx.cp_comm_ops());
        if tp > 1 {
            ctx.push(ops::nccl(
                "context_tp_reduce_scatter",
                l,
                "reduce_scatter",
                h as f64,
                tp,
                "half",
            ));
        }
        ctx.extend(moe_block(cx, "context", l, ctx_wl_ep, 1, Some(shared_q))?);
        gen.extend([
            ops::gemm("generation_qkv_a_proj_gemm", g, 2112, h, down_q, one, false),
            ops::embedding("generation_embedding", cx.mtp, vocab, h, 1),
            ops::elementwise("generation_add_norm_1", g, 2 * h, 2 * h, one),
            ops::gemm("generation_downscale_gemm", g, 2112, h, down_q, one, false),
            ops::wideep_mla(
                false,
                "generation_attention",
                g,
                tp,
                cx.kv,
                cx.fmha,
                backend,
                1,
            ),
        ]);
        gen.extend(moe_block(cx, "generation", g, wl_ep, 1, Some(shared_q))?);
        return Ok((ctx, gen));
    }

    // Fused regime. sglang CP divides the attention count by cp (all-gather style).
    let attn_div = if cp > 1 && req.backend == Backend::Sglang {
        cp as f64
    } else {
        1.0
    };
    let vllm = req.backend == Backend::Vllm;
    let vllm_head = if mla.v_head_dim > 0 {
        mla.v_head_dim
    } else {
        m.head_dim
    };
    let mla_attn = Attn {
        n: m.num_heads / tp,
        n_kv: m.num_kv_heads / tp,
        head_size: vllm_head,
        window: 0,
        kv: cx.kv,
        fmha: cx.fmha,
        qk_norm: false,
    };
    let ctx_granular = vec![
        ops::gemm("context_downscale_gemm", l, 2112, h, down_q, split, false),
        ops::gemm(
            "context_q_b_proj_gemm",
            l,
            heads * 192 / tpu,
            1536,
            q_q,
            split,
            false,
        ),
        ops::gemm(
            "context_kv_b_proj_gemm",
            l,
            heads * 256 / tpu,
            512,
            kv_q,
            split,
            false,
        ),
        if vllm {
            ops::context_attention("context_attention", l / attn_div, &mla_attn, 1)
        } else {
            ops::context_mla("context_attention", l, 128 / tp, cx.kv, cx.fmha, cp)
        },
        ops::gemm(
            "context_proj_gemm",
            l,
            h,
            heads * 128 / tpu,
            o_q,
            split,
            false,
        ),
    ];
    ctx.extend([
        ops::embedding("context_embedding", 1.0, vocab, h, cp),
        ops::elementwise("context_add_norm_1", l, 2 * h, 2 * h, split),
    ]);
    if exact {
        let primary = ops::mla_module(
            true,
            "context_mla_module",
            l / attn_div,
            m.num_heads / tp,
            cx.kv,
            cx.fmha,
            module_q,
            m.num_heads,
        );
        ctx.push(ops::fallback("context_mla_block", primary, ctx_granular));
    } else {
        ctx.extend(ctx_granular);
    }
    ctx.extend(cx.cp_comm_ops());
    ctx.push(ops::elementwise(
        "context_add_norm_2",
        l,
        2 * h,
        2 * h,
        split,
    ));
    let mi = m.moe_intermediate as u64;
    if large_ep {
        ctx.extend(moe_block(cx, "context", l, ctx_wl_ep, 1, Some(shared_q))?);
    } else {
        let shape = cx.moe_shape();
        ctx.extend([
            ops::gemm(
                "context_shared_gate_up_gemm",
                l,
                2 * mi / tpu,
                h,
                shared_q,
                split,
                false,
            ),
            ops::elementwise("context_shared_act_gate", l, 2 * mi / tpu, mi / tpu, split),
            ops::gemm(
                "context_shared_ffn2_gemm",
                l,
                h,
                mi / tpu,
                shared_q,
                split,
                false,
            ),
            ops::gemm(
                "context_router_gemm",
                l,
                m.num_experts as u64,
                h,
                "bfloat16",
                split,
                false,
            ),
            ops::moe_dispatch("context_moe_pre_dispatch", l, &shape, true, cp, true),
            ops::moe("context_moe", l, &shape, wl_base),
            ops::moe_dispatch("context_moe_post_dispatch", l, &shape, false, cp, true),
        ]);
    }
    ctx.push(ops::gemm(
        "context_logits_gemm",
        1.0,
        vocab / tpu,
        h,
        "bfloat16",
        split,
        false,
    ));
    if vllm {
        ctx.push(ops::all_reduce("context_tp_allreduce", 2.0 * l, h, tp, 1));
    }

    let mut gen_granular = vec![
        ops::gemm("generation_downscale_gemm", g, 2112, h, down_q, one, false),
        ops::gemm(
            "generation_q_b_proj_gemm",
            g,
            heads * 192 / tpu,
            1536,
            q_q,
            one,
            false,
        ),
    ];
    if vllm {
        gen_granular.push(ops::generation_attention(
            "generation_attention",
            g,
            &mla_attn,
        ));
    } else {
        gen_granular.extend([
            ops::mla_bmm("generation_bmm_pre", g, m.num_heads / tp, bmm_q, true),
            ops::generation_mla("generation_attention", g, 128 / tp, cx.kv),
            ops::mla_bmm("generation_bmm_post", g, m.num_heads / tp, bmm_q, false),
        ]);
    }
    gen_granular.push(ops::gemm(
        "generation_proj_gemm",
        g,
        h,
        heads * 128 / tpu,
        o_q,
        one,
        false,
    ));
    gen.extend([
        ops::embedding("generation_embedding", cx.mtp, vocab, h, 1),
        ops::elementwise("generation_add_norm_1", g, 2 * h, 2 * h, one),
    ]);
    if exact {
        let primary = ops::mla_module(
            false,
            "generation_mla_module",
            g,
            m.num_heads / tp,
            cx.kv,
            cx.fmha,
            module_q,
            m.num_heads,
        );
        gen.push(ops::fallback("generation_mla_block", primary, gen_granular));
    } else {
        gen.extend(gen_granular);
    }
    gen.push(ops::elementwise(
        "generation_add_norm_2",
        g,
        2 * h,
        2 * h,
        one,
    ));
    if large_ep {
        gen.extend(moe_block(cx, "generation", g, wl_ep, 1, Some(shared_q))?);
    } else {
        let shape = cx.moe_shape();
        // Routed experts (main stream) overlap the shared expert (aux stream) in decode.
        let routed = vec![
            ops::gemm(
                "generation_router_gemm",
                g,
                m.num_experts as u64,
                h,
                "bfloat16",
                one,
                false,
            ),
            ops::moe_dispatch("generation_moe_pre_dispatch", g, &shape, true, cp, false),
            ops::moe("generation_moe", g, &shape, wl_base),
            ops::moe_dispatch("generation_moe_post_dispatch", g, &shape, false, cp, false),
        ];
        let shared = vec![
            ops::gemm(
                "generation_shared_gate_up_gemm",
                g,
                2 * mi / tpu,
                h,
                shared_q,
                one,
                false,
            ),
            ops::elementwise("generation_shared_act_gate", g, 2 * mi / tpu, mi / tpu, one),
            ops::gemm(
                "generation_shared_ffn2_gemm",
                g,
                h,
                mi / tpu,
                shared_q,
                one,
                false,
            ),
        ];
        gen.push(ops::overlap("generation_moe_overlap", routed, shared));
    }
    gen.push(ops::gemm(
        "generation_logits_gemm",
        cx.mtp,
        vocab / tpu,
        h,
        "bfloat16",
        one,
        false,
    ));
    if vllm {
        gen.push(ops::all_reduce(
            "generation_tp_allreduce",
            2.0 * l * cx.mtp,
            h,
            tp,
            1,
        ));
    }
    ctx.push(ops::p2p("context_p2p", (cx.pp - 1) as f64, h, cx.pp, 1));
    gen.push(ops::p2p(
        "generation_p2p",
        (cx.pp - 1) as f64 * cx.mtp,
        h,
        cx.pp,
        1,
    ));
    Ok((ctx, gen))
}
