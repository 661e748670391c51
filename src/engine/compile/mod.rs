//! Op-graph compiler: (model, parallel layout, quant modes, nextn, backend) →
//! the `EngineSpec` the vendor engine consumes, equal (as parsed JSON) to what
//! the reference builds for the same request, plus the per-GPU weight bytes of
//! the reference memory model.
//!
//! Families: dense LLAMA (Llama 3.x, Qwen2/3 dense), MOE (Qwen3-MoE, Mixtral,
//! gpt-oss with its banded attention), DEEPSEEK (MLA + shared expert). Both MoE
//! regimes: the fused dispatch/MoE graph and, when the caller selected an
//! all-to-all backend per phase (`moe_comm`), the large-EP graph.
//!
//! This file holds the request, the result and the error, and the entry
//! point [`compile`]; the builders live one family per file ([`llama`],
//! [`moe`], [`deepseek`]) over the shared state in [`cx`].

mod cx;
mod deepseek;
mod dtype;
mod llama;
mod moe;
mod ops;
mod validate;

use crate::domain::{Backend, DbMode, Parallel, Quant};
use crate::exp::Family;
use crate::model::ModelArch;
use aiconfigurator_core::engine::spec::EngineSpec;
use cx::Cx;
use dtype::{gemm_dtype, moe_dtype};
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

pub fn compile(req: &CompileRequest) -> Result<CompiledGraph, CompileError> {
    let m = req.model;
    let p = req.parallel;
    validate::validate(req)?;
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
        Family::Llama => llama::llama(&cx),
        Family::Moe => moe::moe_family(&cx)?,
        Family::Deepseek => deepseek::deepseek(&cx)?,
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
