//! The resolved experiment: every default applied, every name checked. This is
//! what the loader hands to the search; nothing downstream reads raw YAML.

use crate::domain::{Backend, DbMode, FmhaQuant, KvQuant, Parallel, Quant, ServingMode};
use serde::Serialize;

/// Candidate lists for one worker role (agg worker, prefill or decode).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchSpace {
    pub num_gpu: Vec<u32>,
    pub tp: Vec<u32>,
    pub pp: Vec<u32>,
    pub dp: Vec<u32>,
    pub moe_tp: Vec<u32>,
    pub moe_ep: Vec<u32>,
    pub cp: Vec<u32>,
}

/// Everything that defines one worker role's engine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Role {
    /// Model id or local path exactly as the user wrote it.
    pub model: String,
    /// Canonical system name (`gb200_sxm` is normalised to `gb200`).
    pub system: String,
    pub backend: Backend,
    pub backend_version: String,
    pub quant: Quant,
    pub search: SearchSpace,
    /// Large-EP (wide EP) regime requested (`enable_wideep`).
    pub enable_wideep: bool,
    /// Which quant modes the user wrote (worker config or profile); the
    /// others were inferred and may follow per-layout rules.
    pub explicit: QuantExplicit,
    /// HF architecture of the model (e.g. `DeepseekV3ForCausalLM`).
    pub architecture: String,
    /// EP sizes whose large-EP (wide EP) data covers this role: a layout with
    /// pure expert parallelism at one of these sizes runs the large-EP graph.
    pub large_ep_sizes: Vec<u32>,
}

/// Whether each quant mode of a role was written by the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QuantExplicit {
    pub gemm: bool,
    pub kvcache: bool,
    pub fmha: bool,
}

impl Role {
    /// Whether layout `p` runs the large-EP (wide EP) graph: pure expert
    /// parallelism (moe_tp 1, EP > 1) at a covered EP size; TRT-LLM also needs
    /// attention DP.
    pub fn is_large_ep_layout(&self, p: &Parallel) -> bool {
        p.moe_tp == 1
            && p.moe_ep > 1
            && (self.backend != Backend::Trtllm || p.dp > 1)
            && self.large_ep_sizes.contains(&p.moe_ep)
    }

    /// The quant modes layout `p` actually runs with. SGLang's wide-EP MLA
    /// kernels for DeepSeek-V3/R1 are measured with fp8_block attention and an
    /// fp8 KV cache only, so a large-EP layout switches both unless the user
    /// wrote them (the reference applies the same rule per layout).
    pub fn layout_quant(&self, p: &Parallel) -> Quant {
        let mut q = self.quant;
        if self.backend == Backend::Sglang
            && self.architecture == "DeepseekV3ForCausalLM"
            && self.is_large_ep_layout(p)
        {
            if !self.explicit.fmha {
                q.fmha = FmhaQuant::Fp8Block;
            }
            if !self.explicit.kvcache {
                q.kvcache = KvQuant::Fp8;
            }
        }
        q
    }
}

/// Limits on how prefill and decode workers combine into an xPyD replica.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicaConfig {
    /// Allowed GPU counts per replica, already capped by `max_gpu_per_replica` and `total_gpus`.
    pub num_gpu_per_replica: Vec<u32>,
    pub max_gpu_per_replica: u32,
    pub max_prefill_workers: u32,
    pub max_decode_workers: u32,
}

/// The `advanced_tuning_config` knobs plus the fixed rate-matching constants.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tuning {
    pub prefill_latency_correction: f64,
    pub decode_latency_correction: f64,
    pub prefill_max_batch_size: u32,
    pub decode_max_batch_size: u32,
    pub rate_match_prefill_degradation: f64,
    pub rate_match_decode_degradation: f64,
    pub autoscale_ttft_correction_factor: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            prefill_latency_correction: 1.1,
            decode_latency_correction: 1.08,
            prefill_max_batch_size: 1,
            decode_max_batch_size: 512,
            rate_match_prefill_degradation: 0.9,
            rate_match_decode_degradation: 0.92,
            autoscale_ttft_correction_factor: 1.8,
        }
    }
}

/// Roles of an experiment: one pool, or a prefill and a decode pool.
// One value per experiment: boxing the larger variant would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Roles {
    Agg {
        worker: Role,
    },
    Disagg {
        prefill: Role,
        decode: Role,
        replica: ReplicaConfig,
    },
}

/// One fully resolved experiment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    pub name: String,
    pub serving_mode: ServingMode,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub ttft: f64,
    pub tpot: f64,
    pub total_gpus: u32,
    pub database_mode: DbMode,
    /// MTP draft tokens (0 = off).
    pub nextn: u32,
    /// The accept rates per draft position in use (the file's or the
    /// defaults), kept so a pinned file can name them exactly; empty when
    /// `nextn` is 0.
    pub nextn_accept_rates: Vec<f64>,
    /// Expected accepted draft tokens per step, Σ_{i<nextn} Π_{j≤i} p_j.
    pub nextn_accepted: f64,
    pub moe_backend: Option<String>,
    pub attention_backend: Option<String>,
    pub roles: Roles,
    pub tuning: Tuning,
    /// Non-fatal notes the loader wants the user to see (e.g. inferred fallbacks).
    pub notes: Vec<String>,
}

impl Task {
    /// The prefill-side (or only) role.
    pub fn first_role(&self) -> &Role {
        match &self.roles {
            Roles::Agg { worker } => worker,
            Roles::Disagg { prefill, .. } => prefill,
        }
    }
}
