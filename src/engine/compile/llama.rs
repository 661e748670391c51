//! Graph builder for the dense LLAMA family (Llama 3.x, Qwen2/3 dense).

use super::cx::Cx;
use super::ops::{self, Tok};
use serde_json::Value;

pub(super) fn llama(cx: &Cx) -> (Vec<Value>, Vec<Value>) {
    let m = cx.m;
    let (tp, cp, h) = (cx.tp, cx.cp, cx.h);
    let (l, g) = (cx.layers, cx.layers * cx.mtp);
    let vocab = (m.vocab / tp) as u64;
    let inter = m.intermediate as u64;
    let tpu = tp as u64;
    let split = Tok::split(cp);
    let attn = cx.attn(0);
    let mut ctx = vec![
        ops::embedding("context_embedding", 1.0, vocab, h, cp),
        ops::elementwise("context_add_norm_1", l, 2 * h, 2 * h, split),
        ops::gemm("context_qkv_gemm", l, cx.qkv_n(), h, cx.gemm, split, false),
        ops::context_attention("context_attention", l, &attn, cp),
    ];
    ctx.extend(cx.cp_comm_ops());
    ctx.extend([
        ops::gemm("context_proj_gemm", l, h, cx.proj_k(), cx.gemm, split, true),
        ops::elementwise("context_add_norm_2", l, 2 * h, 2 * h, split),
        ops::gemm(
            "context_gate_ffn1_gemm",
            l,
            2 * inter / tpu,
            h,
            cx.gemm,
            split,
            false,
        ),
        ops::elementwise("context_act_gate", l, 2 * inter / tpu, inter / tpu, split),
        ops::gemm("context_ffn2_gemm", l, h, inter / tpu, cx.gemm, split, true),
        ops::gemm(
            "context_logits_gemm",
            1.0,
            vocab,
            h,
            "bfloat16",
            split,
            false,
        ),
        ops::all_reduce("context_embedding_ar", 1.0, h, tp, cp),
        ops::all_reduce("context_ar_1", l, h, tp, cp),
        ops::all_reduce("context_ar_2", l, h, tp, cp),
        ops::p2p("context_p2p", (cx.pp - 1) as f64, h, cx.pp, cp),
    ]);
    let one = Tok::ONE;
    let gen = vec![
        ops::embedding("generation_embedding", cx.mtp, vocab, h, 1),
        ops::elementwise("generation_add_norm_1", g, 2 * h, 2 * h, one),
        ops::gemm("generation_qkv_gemm", g, cx.qkv_n(), h, cx.gemm, one, false),
        ops::generation_attention("generation_attention", g, &attn),
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
        ops::gemm(
            "generation_gate_ffn1_gemm",
            g,
            2 * inter / tpu,
            h,
            cx.gemm,
            one,
            false,
        ),
        ops::elementwise("generation_act_gate", g, 2 * inter / tpu, inter / tpu, one),
        ops::gemm(
            "generation_ffn2_gemm",
            g,
            h,
            inter / tpu,
            cx.gemm,
            one,
            true,
        ),
        ops::gemm(
            "generation_logits_gemm",
            cx.mtp,
            vocab,
            h,
            "bfloat16",
            one,
            false,
        ),
        ops::all_reduce("generation_embedding_ar", cx.mtp, h, tp, 1),
        ops::all_reduce("generation_ar_1", g, h, tp, 1),
        ops::all_reduce("generation_ar_2", g, h, tp, 1),
        ops::p2p("generation_p2p", (cx.pp - 1) as f64 * cx.mtp, h, cx.pp, 1),
    ];
    (ctx, gen)
}
