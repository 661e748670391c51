//! The result contract: what `xpyd run --format json` prints and what the TUI
//! draws. Field names are the public JSON contract; extra fields are allowed.

use serde::{Deserialize, Serialize};

/// One worker pool of a disaggregated row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub parallel: String,
    /// The same layout as numbers.
    pub layout: crate::domain::Parallel,
    pub workers: u32,
    pub gpus_per_worker: u32,
    /// Per-rank batch size.
    pub bs: u32,
    pub global_bs: u32,
    pub memory_gib: f64,
    pub seq_per_s_per_worker: f64,
    /// Prefill: TTFT of one worker (corrected); decode: TPOT.
    pub latency_ms: f64,
    pub gemm: String,
    pub kvcache: String,
    pub fmha: String,
    pub moe: String,
    pub comm: String,
    pub system: String,
    pub backend: String,
    pub version: String,
}

/// Agg-only facts of a row: the scheduler's bookkeeping and the worker identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggExtra {
    pub layout: crate::domain::Parallel,
    pub global_bs: u32,
    pub balance_score: f64,
    pub num_ctx_reqs: u32,
    pub num_gen_reqs: u32,
    pub num_tokens: u32,
    pub gen_tokens: u32,
    pub gemm: String,
    pub kvcache: String,
    pub fmha: String,
    pub moe: String,
    pub comm: String,
    pub system: String,
    pub backend: String,
    pub version: String,
}

/// One candidate configuration (agg worker or disagg xPyD replica).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub tokens_per_s_per_gpu: f64,
    pub tokens_per_s_per_gpu_cluster: f64,
    pub tokens_per_s_per_user: f64,
    pub ttft_ms: f64,
    pub tpot_ms: f64,
    pub request_latency_ms: f64,
    /// Requests/s of the whole cluster (one replica's rate × replicas).
    pub request_rate: f64,
    /// Concurrent requests of the whole cluster.
    pub concurrency: f64,
    /// GPUs in one replica (agg: one worker; disagg: one xPyD unit).
    pub num_total_gpus: u32,
    pub replicas: u32,
    pub total_gpus_used: u32,
    /// Agg: per-GPU memory of the worker; disagg: the larger of the two pools.
    pub memory_gib: f64,
    /// Whether the row meets the user's TPOT (and TTFT) target.
    pub sla_met: bool,
    /// Requests/s, tokens/s and requests/s/GPU of one replica (the reference's raw columns).
    pub seq_per_s: f64,
    pub seq_per_s_per_gpu: f64,
    pub tokens_per_s: f64,
    // --- agg only ---
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus_per_worker: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agg: Option<AggExtra>,
    // --- disagg only ---
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<WorkerRow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode: Option<WorkerRow>,
    /// Per-op and memory detail, present on best/top/pareto rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

/// Latency of one op inside one step, with where the number came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpCost {
    pub name: String,
    pub ms: f64,
    /// `silicon | empirical | sol | estimated | mixed`.
    pub source: String,
    /// SOL_FULL view only: the compute-bound and memory-bound parts of `ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub math_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_ms: Option<f64>,
}

/// One priced step (prefill pass, decode pass, mixed step, gen-only step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepBreakdown {
    pub label: String,
    pub total_ms: f64,
    pub ops: Vec<OpCost>,
}

/// Per-GPU memory of one worker, GiB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryBreakdown {
    pub role: String,
    pub weights: f64,
    pub activations: f64,
    pub kvcache: f64,
    pub nccl: f64,
    pub others: f64,
    pub total: f64,
    pub capacity: f64,
}

/// The agg scheduler's intermediate numbers for one (batch, ctx) point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchedulerNumbers {
    pub num_mix_steps: f64,
    pub num_genonly_steps: f64,
    pub mix_step_ms: f64,
    pub genonly_step_ms: f64,
    pub mix_context_tokens: u32,
    pub mix_decode_requests: u32,
    /// TTFT = mix_step · ⌈isl/ctx⌉ · queue factor (+ dispatch).
    pub ttft_queue_factor: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    pub steps: Vec<StepBreakdown>,
    pub memory: Vec<MemoryBreakdown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerNumbers>,
    /// SOL_FULL: the same steps at speed of light, split into compute and memory
    /// bounds (a per-configuration view; never an experiment mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sol_full: Vec<StepBreakdown>,
    /// How a disagg row's TTFT and TPOT follow from its step latencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<DisaggTiming>,
}

/// The arithmetic from engine latencies to a disagg row's TTFT and TPOT,
/// every factor named so the numbers can be checked by hand:
/// TTFT = prefill engine pass × prefill correction × TTFT autoscale factor;
/// TPOT = decode engine pass ÷ decode steps × decode correction ÷ MTP tokens per step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DisaggTiming {
    /// The engine's static context pass of the prefill batch (ms).
    pub prefill_engine_ms: f64,
    /// `prefill_latency_correction_scale`.
    pub prefill_correction: f64,
    /// prefill_engine_ms × prefill_correction: one prefill worker's TTFT.
    pub prefill_step_ms: f64,
    /// The TTFT correction for autoscaling queues applied in rate matching.
    pub ttft_autoscale: f64,
    /// The engine's static generation pass of the decode batch (ms, all steps).
    pub decode_engine_pass_ms: f64,
    /// Decode steps in that pass (osl − 1).
    pub decode_steps: u32,
    /// `decode_latency_correction_scale`.
    pub decode_correction: f64,
    /// decode_engine_pass_ms ÷ decode_steps × decode_correction: one decode step.
    pub decode_step_ms: f64,
    /// Output tokens per decode step (1 + accepted MTP tokens; 1 without MTP).
    pub tokens_per_step: f64,
}

/// A candidate that was not kept, and why ("why not tp2?").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// `agg`, `prefill`, `decode` or `xpyd`.
    pub role: String,
    pub parallel: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    #[default]
    NoResult,
    Error,
}

/// A located, non-fatal problem in the file: a key that is valid but has no
/// effect where it stands, a value that is clipped, a workload beyond the
/// model's context window. The experiment still runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The experiment it concerns, if any.
    pub experiment: Option<String>,
    /// Dotted key path, e.g. `config.advanced_tuning_config`.
    pub key_path: String,
    /// 1-based; 0 when the warning has no position.
    pub line: usize,
    pub col: usize,
    /// What is ignored (or changed) and why.
    pub message: String,
    /// The whole warning as printed: `file:line:col: experiment '…': key '…': …`.
    pub text: String,
}

/// Results of one experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub name: String,
    pub serving_mode: String,
    pub model: String,
    pub system: String,
    pub decode_system: Option<String>,
    pub backend: String,
    pub backend_version: String,
    pub database_mode: String,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub ttft: f64,
    pub tpot: f64,
    pub total_gpus: u32,
    pub status: Status,
    pub error: Option<String>,
    pub elapsed_ms: f64,
    pub best: Option<Row>,
    pub top: Vec<Row>,
    pub pareto: Vec<Row>,
    pub rejected: Vec<Rejection>,
    /// Every feasible row (all TPOT targets pooled); only filled on request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feasible: Vec<Row>,
    /// Number of engine step evaluations this experiment needed.
    #[serde(default)]
    pub engine_evaluations: u64,
    /// This experiment's warnings (also listed in the file's).
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The resolved settings that decide the rows but are not columns of
    /// them; a pinned exp YAML (`crate::deploy`) needs them. Absent in
    /// reports written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ResolvedSettings>,
}

/// What decided an experiment's rows beyond the row's own columns (layout,
/// batch, workers, quant modes) and the report's workload fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSettings {
    /// The mode as the file names it (`SILICON`, `HYBRID`, …), even when the
    /// report's `database_mode` says it ran on built-in estimates.
    pub database_mode: String,
    pub nextn: u32,
    /// The accept rates in use: the file's, else the defaults.
    #[serde(default)]
    pub nextn_accept_rates: Vec<f64>,
    #[serde(default)]
    pub moe_backend: Option<String>,
    #[serde(default)]
    pub attention_backend: Option<String>,
    /// Disagg latency corrections (`advanced_tuning_config`).
    pub prefill_latency_correction_scale: f64,
    pub decode_latency_correction_scale: f64,
    /// Per role (agg: `worker`; disagg: `prefill`, `decode`).
    pub roles: Vec<ResolvedRole>,
}

/// Facts of one worker role a pinned file needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedRole {
    /// `worker`, `prefill` or `decode`.
    pub role: String,
    /// A MoE model: the MoE quant mode and lists apply.
    pub is_moe: bool,
    /// The gemm quant mode was written (worker config or profile). An
    /// inferred one is not the same input: the engine keeps the layers a
    /// checkpoint leaves unquantized in bfloat16 only while gemm is inferred.
    pub gemm_explicit: bool,
    /// The parallel lists the search enumerated for this role (defaults
    /// filled in, workers above the GPU budget dropped, MoE lists `[1]` for
    /// dense models): what the explorer's knobs show and toggle.
    #[serde(default)]
    pub search: RoleLists,
}

/// A role's searched parallel lists, named as the exp file names them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLists {
    pub num_gpu_per_worker: Vec<u32>,
    pub tp_list: Vec<u32>,
    pub pp_list: Vec<u32>,
    pub dp_list: Vec<u32>,
    pub moe_tp_list: Vec<u32>,
    pub moe_ep_list: Vec<u32>,
}

/// Which latency data a run used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// `measured` (the vendor database) or `builtin` (SOL from built-in specs).
    pub kind: String,
    /// Where it was found (flag, env, python package, cache) and the path.
    pub source: String,
    pub path: Option<String>,
}

/// Results of one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub file: String,
    pub experiments: Vec<ExperimentReport>,
    pub best_experiment: Option<String>,
    pub database: DatabaseInfo,
    /// Every warning of the file, experiments' included, in file order.
    #[serde(default)]
    pub warnings: Vec<Warning>,
}
