//! The keys each section of an experiment accepts, the indices of the worker
//! list keys, and the ranges values must lie in.

/// The six V1 list keys of a worker config, in `Parallel` order (cp has no key).
pub const LIST_KEYS: [&str; 6] = [
    "num_gpu_per_worker",
    "tp_list",
    "pp_list",
    "dp_list",
    "moe_tp_list",
    "moe_ep_list",
];
pub const NUM_GPU: usize = 0;
pub const TP: usize = 1;
pub const DP: usize = 3;
pub const MOE_TP: usize = 4;
pub const MOE_EP: usize = 5;

const QUANT_KEYS: [&str; 5] = [
    "gemm_quant_mode",
    "moe_quant_mode",
    "kvcache_quant_mode",
    "fmha_quant_mode",
    "comm_quant_mode",
];

pub const EXP_KEYS: &[&str] = &[
    "mode",
    "serving_mode",
    "model_path",
    "total_gpus",
    "system_name",
    "decode_system_name",
    "backend_name",
    "backend_version",
    "database_mode",
    "isl",
    "osl",
    "prefix",
    "ttft",
    "tpot",
    "enable_wideep",
    "profiles",
    "config",
    "nextn",
    "nextn_accept_rates",
    "moe_backend",
    "attention_backend",
];
pub(super) const CONFIG_KEYS: &[&str] = &[
    "nextn",
    "nextn_accept_rates",
    "moe_backend",
    "attention_backend",
    "worker_config",
    "prefill_worker_config",
    "decode_worker_config",
    "replica_config",
    "advanced_tuning_config",
];
pub(super) const REPLICA_KEYS: &[&str] = &[
    "num_gpu_per_replica",
    "max_gpu_per_replica",
    "max_prefill_worker",
    "max_decode_worker",
];
pub(super) const TUNING_KEYS: &[&str] = &[
    "prefill_latency_correction_scale",
    "decode_latency_correction_scale",
    "prefill_max_batch_size",
    "decode_max_batch_size",
];
/// Keys the reference knows but xpyd cannot honour: naming them gives a better message.
pub(super) const UNSUPPORTED_KEYS: &[&str] = &[
    "request_latency",
    "free_gpu_memory_fraction",
    "max_seq_len",
    "enable_chunked_prefill",
    "enable_eplb",
    "wideep_num_slots",
    "engine_step_backend",
    "forward_model",
    "cp_list",
];

pub const PROFILES: &[&str] = &["fp8", "fp8_static", "bfloat16", "nvfp4", "mxfp4"];

pub(super) fn worker_keys() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = QUANT_KEYS.to_vec();
    v.extend(LIST_KEYS);
    v.push("enable_wideep");
    v
}

// Ranges. Generous, but small enough that products of list values cannot overflow
// and nothing downstream allocates absurd amounts.
pub const MAX_GPUS: u32 = 65_536;
pub const MAX_PARALLEL: u32 = 4_096;
pub(super) const MAX_SEQ: u32 = 10_000_000;
pub(super) const MAX_MS: f64 = 1.0e7;
pub(super) const MAX_LIST_LEN: usize = 256;
pub(super) const MAX_NEXTN: u32 = 16;
