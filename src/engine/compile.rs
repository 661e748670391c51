//! Op-graph compiler: (model, parallel layout, quant modes, nextn, backend) →
//! the `EngineSpec` the vendor engine consumes, equal (as parsed JSON) to what
//! the reference builds for the same request, plus the per-GPU weight bytes of
//! the reference memory model.
//!
//! Families: dense LLAMA (Llama 3.x, Qwen2/3 dense), MOE (Qwen3-MoE, Mixtral,
//! gpt-oss with its banded attention), DEEPSEEK (MLA + shared expert). Both MoE
//! regimes: the fused dispatch/MoE graph and, when the caller selected an
//! all-to-all backend per phase (`moe_comm`), the large-EP graph.

mod ops;

use crate::domain::{Backend, DbMode, GemmQuant, Parallel, Quant};
use crate::exp::Family;
use crate::model::ModelArch;
use aiconfigurator_core::engine::spec::EngineSpec;
use ops::{A2a, Attn, MoeShape, Tok};
use serde_json::{json, Value};
use std::path::Path;

/// Schema versions the vendor crate expects (`ENGINE_SPEC_SCHEMA_VERSION`, `EngineConfig`).
const ENGINE_SPEC_SCHEMA: u32 = 15;
const ENGINE_CONFIG_SCHEMA: u32 = 1;

/// Attention kernel-lane precedence for the top-level attention ops. The
/// reference derives it from the measured tables (framework default lane, then
/// lanes ranked by data density); callers that have it pass it through.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LaneOrders {
    pub context: Vec<String>,
    pub generation: Vec<String>,
}

/// All-to-all backend per phase for the large-EP regime (`trtllm_deepep_ht`,
/// `deepep_ll`, `nvlink_two_sided`, ...). `None` for a phase keeps it fused.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MoeCommBackends {
    pub context: Option<String>,
    pub generation: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CompileRequest<'a> {
    pub model: &'a ModelArch,
    pub system: &'a str,
    pub backend: Backend,
    pub backend_version: &'a str,
    pub parallel: Parallel,
    /// Fully resolved quant modes (checkpoint inference and system rules already applied).
    pub quant: Quant,
    pub nextn: u32,
    pub database_mode: DbMode,
    pub systems_path: Option<&'a Path>,
    pub attention_backend: Option<&'a str>,
    pub is_blackwell: bool,
    pub gpus_per_node: u32,
    /// Large-EP regime per phase, as selected by the resolver from data coverage.
    pub moe_comm: Option<&'a MoeCommBackends>,
    pub lane_orders: Option<&'a LaneOrders>,
    /// Shared-layer source policy; `None` = the engine default for the mode
    /// (on for SILICON/HYBRID, off otherwise).
    pub enable_shared_layer: Option<bool>,
    pub enable_eplb: bool,
    pub wideep_num_slots: Option<u32>,
    /// Whether the GEMM quant mode was set by the user (checkpoint exclusions
    /// then do not downgrade the shared expert to bf16).
    pub gemm_quant_explicit: bool,
}

impl<'a> CompileRequest<'a> {
    /// A request with the reference defaults for everything but the essentials.
    pub fn new(
        model: &'a ModelArch,
        system: &'a str,
        backend: Backend,
        backend_version: &'a str,
        parallel: Parallel,
        quant: Quant,
    ) -> Self {
        CompileRequest {
            model,
            system,
            backend,
            backend_version,
            parallel,
            quant,
            nextn: 0,
            database_mode: DbMode::Silicon,
            systems_path: None,
            attention_backend: None,
            is_blackwell: false,
            gpus_per_node: 8,
            moe_comm: None,
            lane_orders: None,
            enable_shared_layer: None,
            enable_eplb: false,
            wideep_num_slots: None,
            gemm_quant_explicit: true,
        }
    }
}

pub struct CompiledGraph {
    pub spec: EngineSpec,
    /// The spec as JSON (what the golden tests compare).
    pub spec_json: Value,
    /// Per-GPU weight bytes: Σ context-op weights / pp (reference memory model).
    pub weight_bytes: f64,
}

/// Why a request has no op graph. The messages answer "why not this layout?".
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("every parallel size must be at least 1 (got {0})")]
    InvalidParallel(Parallel),
    #[error("{heads} attention heads do not split evenly over tp={tp}")]
    HeadsNotDivisible { heads: u32, tp: u32 },
    #[error("MoE width mismatch: tp·dp·cp = {attn} but moe_tp·moe_ep = {moe}; they must be equal")]
    MoeWidth { attn: u32, moe: u32 },
    #[error("moe_ep={ep} exceeds the model's {experts} experts")]
    EpExceedsExperts { ep: u32, experts: u32 },
    #[error(
        "fp8_block MoE needs the per-GPU expert width to be a multiple of the {block}-wide weight \
         block: moe_intermediate {inter} / moe_tp {moe_tp} = {per_gpu}"
    )]
    Fp8BlockAlignment {
        inter: u32,
        moe_tp: u32,
        per_gpu: u32,
        block: u32,
    },
    #[error("context parallelism (cp={cp}) is only modeled on sglang, not {backend}")]
    CpBackend { cp: u32, backend: Backend },
    #[error("sglang context parallelism needs tp=1 and dp=1 (got tp={tp}, dp={dp}, cp={cp})")]
    CpWithTpDp { tp: u32, dp: u32, cp: u32 },
    #[error(
        "cross-node EP (moe_ep={ep} > {gpn} GPUs per node) requires pure expert parallelism \
         (moe_tp=1); got moe_tp={moe_tp}"
    )]
    CrossNodeEpNeedsPureEp { ep: u32, gpn: u32, moe_tp: u32 },
    #[error("cross-node EP (moe_ep={ep} > {gpn} GPUs per node) requires DeepEP all-to-all data, which this request does not have")]
    CrossNodeEpNeedsA2a { ep: u32, gpn: u32 },
    #[error("large-EP TRT-LLM (wideEP) {0}")]
    WideEp(String),
    #[error("unknown MoE all-to-all backend '{0}'")]
    UnknownCommBackend(String),
    #[error("no all-to-all wire dtype for backend {backend} with MoE quant {quant} ({phase} {comm_phase})")]
    CommDtype {
        backend: String,
        quant: String,
        phase: &'static str,
        comm_phase: &'static str,
    },
    #[error("the vendor engine rejected the compiled spec: {0}")]
    Spec(String),
}

fn mtp_scale(nextn: u32, layers: u32) -> f64 {
    if nextn == 0 {
        1.0
    } else {
        (nextn as f64 + layers as f64) / layers as f64
    }
}

/// Collapsed dtype names the engine identity carries (`weight_dtype`, ...).
fn gemm_dtype(q: &str) -> Value {
    match q {
        "bfloat16" | "fp8" | "fp8_static" | "fp8_block" | "nvfp4" | "w4a16_nvfp4" => json!(q),
        "fp8_ootb" => json!("fp8"),
        "int8_wo" | "sq" | "int8" => json!("int8"),
        "int4_wo" | "w4afp8" | "w4a16_mxfp4" | "w4a8_mxfp4_mxfp8" => json!("int4"),
        "float16" | "half" => json!("float16"),
        _ => Value::Null,
    }
}

fn moe_dtype(q: &str) -> Value {
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
fn comm_phases(backend: &str) -> Option<&'static [&'static str]> {
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
fn comm_dtype(
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

/// Shared state of one compilation.
struct Cx<'r, 'a> {
    req: &'r CompileRequest<'a>,
    m: &'a ModelArch,
    be: &'static str,
    tp: u32,
    pp: u32,
    cp: u32,
    h: u64,
    layers: f64,
    mtp: f64,
    gemm: &'static str,
    moe_q: &'static str,
    kv: &'static str,
    fmha: &'static str,
}

impl Cx<'_, '_> {
    fn moe_shape(&self) -> MoeShape<'static> {
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

    fn comm_backend(&self, phase: &str) -> Option<&str> {
        let c = self.req.moe_comm?;
        match phase {
            "context" => c.context.as_deref(),
            _ => c.generation.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }

    fn is_large_ep(&self) -> bool {
        self.comm_backend("context").is_some() || self.comm_backend("generation").is_some()
    }

    /// The sglang context-parallel KV all-gather next to the attention op.
    fn cp_comm_ops(&self) -> Vec<Value> {
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
    fn attn(&self, window: u32) -> Attn<'static> {
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

    fn qkv_n(&self) -> u64 {
        let m = self.m;
        let nkv_g = m.num_kv_heads.div_ceil(self.tp) as u64;
        (m.num_heads as u64 * m.head_dim as u64) / self.tp as u64 + m.head_dim as u64 * nkv_g * 2
    }

    fn proj_k(&self) -> u64 {
        (self.m.num_heads as u64 * self.m.head_dim as u64) / self.tp as u64
    }
}

pub fn compile(req: &CompileRequest) -> Result<CompiledGraph, CompileError> {
    let m = req.model;
    let p = req.parallel;
    validate(req)?;
    let cx = Cx {
        req,
        m,
        be: req.backend.name(),
        tp: p.tp,
        pp: p.pp,
        cp: p.cp,
        h: m.hidden as u64,
        layers: m.num_layers as f64,
        mtp: mtp_scale(req.nextn, m.num_layers),
        gemm: req.quant.gemm.name(),
        moe_q: req.quant.moe.name(),
        kv: req.quant.kvcache.name(),
        fmha: req.quant.fmha.name(),
    };
    let (mut ctx, mut gen) = match m.family {
        Family::Llama => llama(&cx),
        Family::Moe => moe_family(&cx)?,
        Family::Deepseek => deepseek(&cx)?,
    };
    if let Some(lanes) = req.lane_orders {
        set_lanes(&mut ctx, "ContextAttention", &lanes.context);
        set_lanes(&mut gen, "GenerationAttention", &lanes.generation);
    }
    let spec_json = json!({
        "schema_version": ENGINE_SPEC_SCHEMA,
        "engine": engine_config(req),
        "context_ops": ctx,
        "generation_ops": gen,
    });
    let spec: EngineSpec =
        serde_json::from_value(spec_json.clone()).map_err(|e| CompileError::Spec(e.to_string()))?;
    let weights: f64 = spec.context_ops.iter().map(|op| op.weight_bytes()).sum();
    Ok(CompiledGraph {
        weight_bytes: weights / p.pp.max(1) as f64,
        spec,
        spec_json,
    })
}

/// Only top-level attention ops carry a resolved lane order (ops nested in
/// fallbacks keep the constructor default), as in the reference.
fn set_lanes(list: &mut [Value], kind: &str, lanes: &[String]) {
    if lanes.is_empty() {
        return;
    }
    for op in list.iter_mut() {
        if let Some(body) = op.get_mut(kind).and_then(Value::as_object_mut) {
            body.insert("lane_order".into(), json!(lanes));
        }
    }
}

fn engine_config(req: &CompileRequest) -> Value {
    let p = req.parallel;
    let shared = req.enable_shared_layer.unwrap_or(matches!(
        req.database_mode,
        DbMode::Silicon | DbMode::Hybrid
    ));
    let mut e = json!({
        "schema_version": ENGINE_CONFIG_SCHEMA,
        "model_name": req.model.id,
        "system_name": req.system,
        "systems_path": req.systems_path.map(|s| s.to_string_lossy().into_owned()),
        "backend": req.backend.name(),
        "backend_version": req.backend_version,
        "kv_block_size": null,
        "tp_size": p.tp, "pp_size": p.pp, "attention_dp_size": p.dp,
        "moe_tp_size": p.moe_tp, "moe_ep_size": p.moe_ep, "cp_size": p.cp,
        "weight_dtype": gemm_dtype(req.quant.gemm.name()),
        "moe_dtype": moe_dtype(req.quant.moe.name()),
        "activation_dtype": gemm_dtype(req.quant.fmha.name()),
        "kv_cache_dtype": gemm_dtype(req.quant.kvcache.name()),
        "enable_shared_layer": shared,
        "strict_provenance": false,
        "database_mode": req.database_mode.name(),
        "transfer_policy": null,
        "tolerate_dirless_version": false,
        "extra": {},
    });
    if req.nextn > 0 {
        e["nextn"] = json!(req.nextn);
    }
    e
}

fn validate(req: &CompileRequest) -> Result<(), CompileError> {
    let m = req.model;
    let p = req.parallel;
    if [p.tp, p.pp, p.dp, p.moe_tp, p.moe_ep, p.cp].contains(&0) {
        return Err(CompileError::InvalidParallel(p));
    }
    if p.cp > 1 {
        if req.backend != Backend::Sglang {
            return Err(CompileError::CpBackend {
                cp: p.cp,
                backend: req.backend,
            });
        }
        if p.tp != 1 || p.dp != 1 {
            return Err(CompileError::CpWithTpDp {
                tp: p.tp,
                dp: p.dp,
                cp: p.cp,
            });
        }
    }
    if !m.num_heads.is_multiple_of(p.tp) {
        return Err(CompileError::HeadsNotDivisible {
            heads: m.num_heads,
            tp: p.tp,
        });
    }
    if m.family == Family::Llama {
        return Ok(());
    }
    let attn = p.tp * p.dp * p.cp;
    let moe = p.moe_tp * p.moe_ep;
    if attn != moe {
        return Err(CompileError::MoeWidth { attn, moe });
    }
    if m.num_experts < p.moe_ep {
        return Err(CompileError::EpExceedsExperts {
            ep: p.moe_ep,
            experts: m.num_experts,
        });
    }
    // The reference checks the block alignment for the MOE family only.
    if m.family == Family::Moe && req.quant.moe == crate::domain::MoeQuant::Fp8Block {
        let block = m.weight_block_size();
        let per_gpu = m.moe_intermediate / p.moe_tp;
        if !per_gpu.is_multiple_of(block) {
            return Err(CompileError::Fp8BlockAlignment {
                inter: m.moe_intermediate,
                moe_tp: p.moe_tp,
                per_gpu,
                block,
            });
        }
    }
    let has_comm = req
        .moe_comm
        .is_some_and(|c| c.context.is_some() || c.generation.is_some());
    if p.moe_ep > req.gpus_per_node {
        if p.moe_tp != 1 {
            return Err(CompileError::CrossNodeEpNeedsPureEp {
                ep: p.moe_ep,
                gpn: req.gpus_per_node,
                moe_tp: p.moe_tp,
            });
        }
        if !has_comm {
            return Err(CompileError::CrossNodeEpNeedsA2a {
                ep: p.moe_ep,
                gpn: req.gpus_per_node,
            });
        }
    }
    Ok(())
}

fn llama(cx: &Cx) -> (Vec<Value>, Vec<Value>) {
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

/// Workload-distribution strings (`power_law_<alpha>`) the MoE tables are keyed by.
struct Workloads {
    context: &'static str,
    generation: &'static str,
}

fn moe_family(cx: &Cx) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
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
fn moe_block(
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

fn deepseek(cx: &Cx) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
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
