//! Graph builder for the MOE family (Qwen3-MoE, Mixtral, gpt-oss with its
//! banded attention), and the MoE block shared with DeepSeek: the fused
//! dispatch/MoE chain or, when the phase has an all-to-all backend, the
//! large-EP chain.

use super::cx::Cx;
use super::dtype::{comm_dtype, comm_phases};
use super::ops::{self, A2a, Tok};
use super::CompileError;
use crate::domain::Backend;
use crate::exp::Family;
use serde_json::Value;

/// Workload-distribution strings (`power_law_<alpha>`) the MoE tables are keyed by.
struct Workloads {
    context: &'static str,
    generation: &'static str,
}

pub(super) fn moe_family(cx: &Cx) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
    let m = cx.m;
    let req = cx.req;
    let (tp, cp, h) = (cx.tp, cx.cp, cx.h);
    let (l, g) = (cx.layers, cx.layers * cx.mtp);
    let large_ep = cx.is_large_ep();
    let trtllm_eplb = large_ep && req.backend == Backend::Trtllm && req.enable_eplb;
    let gen_wl = if trtllm_eplb {
        "power_law_1.2_eplb"
    } else {
        "power_law_1.2"
    };
    let ctx_wl = if large_ep && req.backend != Backend::Trtllm && req.enable_eplb {
        "power_law_0.6"
    } else {
        gen_wl
    };
    let wl = Workloads {
        context: ctx_wl,
        generation: gen_wl,
    };
    let split = Tok::split(cp);
    let one = Tok::ONE;
    let mut ctx = Vec::new();
    let mut gen = Vec::new();
    // gpt-oss: half the layers banded (window), half global; the banded op comes first.
    let attn_div = if m.is_gpt_oss() { 2.0 } else { 1.0 };
    if m.is_gpt_oss() {
        let window = cx.attn(m.sliding_window.unwrap_or(128));
        ctx.push(ops::context_attention(
            "context_attention",
            l / attn_div,
            &window,
            cp,
        ));
        gen.push(ops::generation_attention(
            "generation_attention",
            g / attn_div,
            &window,
        ));
    }
    let sglang_large_ep = large_ep && req.backend == Backend::Sglang;
    let vocab = if sglang_large_ep {
        m.vocab
    } else {
        m.vocab / tp
    } as u64;
    let attn = cx.attn(0);
    ctx.extend([
        ops::embedding("context_embedding", 1.0, vocab, h, cp),
        ops::elementwise("context_add_norm_1", l, 2 * h, 2 * h, split),
        ops::gemm("context_qkv_gemm", l, cx.qkv_n(), h, cx.gemm, split, false),
        ops::context_attention("context_attention", l / attn_div, &attn, cp),
    ]);
    ctx.extend(cx.cp_comm_ops());
    ctx.extend([
        ops::gemm("context_proj_gemm", l, h, cx.proj_k(), cx.gemm, split, true),
        ops::elementwise("context_add_norm_2", l, 2 * h, 2 * h, split),
    ]);
    ctx.extend(moe_block(cx, "context", l, wl.context, 0, None)?);
    gen.extend([
        ops::embedding("generation_embedding", cx.mtp, vocab, h, 1),
        ops::elementwise("generation_add_norm_1", g, 2 * h, 2 * h, one),
        ops::gemm("generation_qkv_gemm", g, cx.qkv_n(), h, cx.gemm, one, false),
        ops::generation_attention("generation_attention", l / attn_div * cx.mtp, &attn),
        ops::gemm(
            "generation_proj_gemm",
            g,
            h,
            cx.proj_k(),
            cx.gemm,
            one,
            true,
        ),
        ops::elementwise("generation_add_norm_2", g, 2 * h, 2 * h, one),
    ]);
    gen.extend(moe_block(cx, "generation", g, wl.generation, 0, None)?);
    gen.push(ops::gemm(
        "generation_logits_gemm",
        cx.mtp,
        (m.vocab / tp) as u64,
        h,
        "bfloat16",
        one,
        false,
    ));
    if sglang_large_ep {
        // The replicated embedding needs no all-reduce, and this graph never modeled P2P.
        return Ok((ctx, gen));
    }
    ctx.push(ops::all_reduce("context_embedding_ar", 1.0, h, tp, cp));
    gen.push(ops::all_reduce("generation_embedding_ar", cx.mtp, h, tp, 1));
    ctx.push(ops::p2p("context_p2p", (cx.pp - 1) as f64, h, cx.pp, cp));
    gen.push(ops::p2p(
        "generation_p2p",
        (cx.pp - 1) as f64 * cx.mtp,
        h,
        cx.pp,
        1,
    ));
    Ok((ctx, gen))
}

/// One MoE block through the generic builder: the fused router/dispatch/MoE/
/// dispatch chain, or the large-EP all-to-all chain when the phase has a comm
/// backend. `shared` > 0 adds that many shared experts (large-EP DeepSeek).
pub(super) fn moe_block(
    cx: &Cx,
    phase: &'static str,
    sf: f64,
    workload: &str,
    shared: u32,
    shared_quant: Option<&str>,
) -> Result<Vec<Value>, CompileError> {
    let is_ctx = phase == "context";
    let tok = if is_ctx { Tok::split(cx.cp) } else { Tok::ONE };
    let shape = cx.moe_shape();
    let router = ops::gemm(
        &format!("{phase}_router_gemm"),
        sf,
        cx.m.num_experts as u64,
        cx.h,
        "bfloat16",
        tok,
        false,
    );
    let Some(comm) = cx.comm_backend(phase) else {
        let attn_cp = if is_ctx { cx.cp } else { 1 };
        return Ok(vec![
            router,
            ops::moe_dispatch(
                &format!("{phase}_moe_pre_dispatch"),
                sf,
                &shape,
                true,
                attn_cp,
                true,
            ),
            ops::moe(&format!("{phase}_moe"), sf, &shape, workload),
            ops::moe_dispatch(
                &format!("{phase}_moe_post_dispatch"),
                sf,
                &shape,
                false,
                attn_cp,
                true,
            ),
        ]);
    };
    let req = cx.req;
    let phases =
        comm_phases(comm).ok_or_else(|| CompileError::UnknownCommBackend(comm.to_string()))?;
    let deepep = comm.starts_with("deepep");
    let p = req.parallel;
    let a2a = A2a {
        comm_backend: comm,
        hidden: cx.h,
        topk: cx.m.topk,
        experts: cx.m.num_experts,
        moe_ep: p.moe_ep,
        node_num: (p.moe_ep * p.moe_tp).div_ceil(req.gpus_per_node.max(1)),
        // The SM budget only keys DeepEP normal-mode rows (reference default 20 SMs).
        sms: if comm == "deepep_ht" { 20 } else { 0 },
        attention_tp: if deepep && is_ctx { cx.tp * cx.cp } else { 1 },
    };
    let mut routed = vec![router];
    for cp_phase in &phases[..phases.len() - 1] {
        let dtype = comm_dtype(req.system, comm, cx.moe_q, phase, "dispatch")?;
        routed.push(ops::moe_all_to_all(
            &format!("{phase}_moe_{cp_phase}"),
            sf,
            cp_phase,
            dtype,
            &a2a,
        ));
    }
    routed.push(ops::moe_expert_compute(
        &format!("{phase}_moe"),
        sf,
        &shape,
        workload,
        phase,
        req.wideep_num_slots.unwrap_or(cx.m.num_experts),
        req.enable_eplb && deepep,
    ));
    let dtype = comm_dtype(req.system, comm, cx.moe_q, phase, "combine")?;
    routed.push(ops::moe_all_to_all(
        &format!("{phase}_moe_combine"),
        sf,
        "combine",
        dtype,
        &a2a,
    ));

    let mut shared_ops = Vec::new();
    if shared > 0 {
        // Large EP replicates the whole shared expert on every rank (no ÷tp).
        let si = (shared * cx.m.moe_intermediate) as u64;
        let q = shared_quant.unwrap_or(cx.gemm);
        let trt = req.backend == Backend::Trtllm;
        let names = if trt {
            ["shared_gate_up_gemm", "shared_act_gate", "shared_ffn2_gemm"]
        } else {
            ["gate_ffn1_gemm", "act_gate", "ffn2_gemm"]
        };
        let stok = if !trt && is_ctx {
            Tok {
                seq_split: cx.cp,
                scale_num_tokens: cx.tp,
            }
        } else {
            Tok::ONE
        };
        shared_ops = vec![
            ops::gemm(
                &format!("{phase}_{}", names[0]),
                sf,
                2 * si,
                cx.h,
                q,
                stok,
                false,
            ),
            ops::elementwise(&format!("{phase}_{}", names[1]), sf, 2 * si, si, stok),
            ops::gemm(
                &format!("{phase}_{}", names[2]),
                sf,
                cx.h,
                si,
                q,
                stok,
                false,
            ),
        ];
    }
    if req.backend == Backend::Trtllm && !shared_ops.is_empty() {
        let reduce_add = ops::elementwise(
            &format!("{phase}_moe_reduce_add"),
            sf,
            2 * cx.h,
            cx.h,
            Tok::ONE,
        );
        if !is_ctx {
            return Ok(vec![
                ops::overlap(&format!("{phase}_moe_overlap"), routed, shared_ops),
                reduce_add,
            ]);
        }
        let mut out = vec![routed.remove(0)];
        out.extend(shared_ops);
        out.extend(routed);
        out.push(reduce_add);
        return Ok(out);
    }
    let router = routed.remove(0);
    let mut out = Vec::new();
    // DeepSeek on sglang DeepEP never wired a router GEMM.
    if !(cx.m.family == Family::Deepseek && req.backend == Backend::Sglang && deepep) {
        out.push(router);
    }
    out.extend(shared_ops);
    out.extend(routed);
    Ok(out)
}
