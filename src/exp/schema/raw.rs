//! The typed raw experiment: every value as written, with its position, before
//! any default is applied.

use crate::domain::{
    Backend, CommQuant, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant, ServingMode,
};
use crate::exp::yaml::Pos;

/// A parsed value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Sp<T> {
    pub v: T,
    pub pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Patch,
    Replace,
}

#[derive(Clone, Debug, Default)]
pub struct RawWorker {
    pub pos: Pos,
    pub gemm: Option<Sp<GemmQuant>>,
    pub moe: Option<Sp<MoeQuant>>,
    pub kvcache: Option<Sp<KvQuant>>,
    pub fmha: Option<Sp<FmhaQuant>>,
    pub comm: Option<Sp<CommQuant>>,
    pub lists: [Option<Sp<Vec<u32>>>; 6],
    pub enable_wideep: Option<Sp<bool>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawReplica {
    pub pos: Pos,
    pub num_gpu_per_replica: Option<Sp<Vec<u32>>>,
    pub max_gpu_per_replica: Option<Sp<u32>>,
    pub max_prefill_worker: Option<Sp<u32>>,
    pub max_decode_worker: Option<Sp<u32>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawTuning {
    pub pos: Pos,
    pub prefill_latency_correction_scale: Option<Sp<f64>>,
    pub decode_latency_correction_scale: Option<Sp<f64>>,
    pub prefill_max_batch_size: Option<Sp<u32>>,
    pub decode_max_batch_size: Option<Sp<u32>>,
}

/// One experiment as written, before defaults.
#[derive(Clone, Debug)]
pub struct RawExp {
    pub name: String,
    /// Position of the experiment's name key.
    pub pos: Pos,
    pub mode: Sp<Mode>,
    pub serving_mode: Sp<ServingMode>,
    pub model_path: Sp<String>,
    pub total_gpus: Sp<u32>,
    pub system_name: Sp<String>,
    pub decode_system_name: Option<Sp<String>>,
    pub backend_name: Option<Sp<Backend>>,
    pub backend_version: Option<Sp<String>>,
    pub database_mode: Option<Sp<DbMode>>,
    pub isl: Option<Sp<u32>>,
    pub osl: Option<Sp<u32>>,
    pub prefix: Option<Sp<u32>>,
    pub ttft: Option<Sp<f64>>,
    pub tpot: Option<Sp<f64>>,
    pub enable_wideep: Option<Sp<bool>>,
    /// The one profile that applies (a second one is an error).
    pub profile: Option<Sp<String>>,
    pub nextn: Option<Sp<u32>>,
    pub nextn_accept_rates: Option<Sp<Vec<f64>>>,
    pub moe_backend: Option<Sp<String>>,
    pub attention_backend: Option<Sp<String>>,
    pub worker: Option<RawWorker>,
    pub prefill: Option<RawWorker>,
    pub decode: Option<RawWorker>,
    pub replica: Option<RawReplica>,
    pub tuning: Option<RawTuning>,
}
