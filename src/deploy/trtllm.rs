//! TRT-LLM: the LLM-API engine configuration of each worker
//! (`agg_config.yaml`, `prefill_config.yaml`, `decode_config.yaml`) as a
//! typed struct, and the worker's command line.
//!
//! The rules are the reference generator's, one function each.

use super::hardware::Hardware;
use super::plan::{Plan, Role, RolePlan};
use super::rules;
use serde::Serialize;

/// KV-cache page size; the token budgets are rounded up to it because
/// TRT-LLM requires `max_num_tokens % tokens_per_block == 0`.
pub const TOKENS_PER_BLOCK: u32 = 32;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineConfig {
    pub backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moe_expert_parallel_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moe_tensor_parallel_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moe_config: Option<MoeConfig>,
    pub tensor_parallel_size: u32,
    pub pipeline_parallel_size: u32,
    pub enable_attention_dp: bool,
    pub enable_chunked_prefill: bool,
    pub max_batch_size: u32,
    pub max_num_tokens: u32,
    pub kv_cache_config: KvCacheConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_transceiver_config: Option<CacheTransceiverConfig>,
    pub cuda_graph_config: CudaGraphConfig,
    pub disable_overlap_scheduler: bool,
    pub print_iter_log: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speculative_config: Option<SpeculativeConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MoeConfig {
    pub backend: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KvCacheConfig {
    pub free_gpu_memory_fraction: f64,
    pub dtype: String,
    pub tokens_per_block: u32,
    pub enable_block_reuse: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheTransceiverConfig {
    pub backend: &'static str,
    pub max_tokens_in_buffer: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CudaGraphConfig {
    pub enable_padding: bool,
    pub batch_sizes: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeculativeConfig {
    pub decoding_type: &'static str,
    pub num_nextn_predict_layers: u32,
}

/// `max_batch_size`: the row's per-rank batch (a prefill worker takes one
/// request at a time when the row says nothing; generation defaults to 128).
pub fn max_batch_size(role: Role, bs: u32) -> u32 {
    match (role, bs) {
        (_, b) if b > 0 => b,
        (Role::Prefill, _) => 1,
        _ => 128,
    }
}

/// `max_num_tokens`: one prompt plus 500 tokens of slack for prefill, one
/// token per sequence for decode, both for agg; rounded up to a page.
pub fn max_num_tokens(role: Role, max_batch: u32, isl: u32) -> u32 {
    let raw = match role {
        Role::Prefill => isl + 500,
        Role::Decode => max_batch,
        Role::Agg => max_batch + isl + 500,
    };
    rules::round_up(raw, TOKENS_PER_BLOCK)
}

/// Disagg KV hand-over buffer: a whole sequence (isl + osl) plus 500 tokens, page-rounded.
pub fn cache_transceiver_tokens(isl: u32, osl: u32) -> u32 {
    rules::round_up(isl + osl + 500, TOKENS_PER_BLOCK)
}

/// CUDA graphs: generation captures the ladder and a window around its
/// batch with padding on; prefill keeps TRT-LLM's default power-of-two list.
pub fn cuda_graph(role: Role, bs: u32) -> CudaGraphConfig {
    if role.generates() {
        CudaGraphConfig {
            enable_padding: true,
            batch_sizes: rules::cuda_graph_ladder(bs),
        }
    } else {
        CudaGraphConfig {
            enable_padding: false,
            batch_sizes: vec![1, 2, 4, 8, 16, 32, 64, 128, 256],
        }
    }
}

/// The overlap scheduler only pays off while generating; prefill disables it.
pub fn disable_overlap_scheduler(role: Role) -> bool {
    role == Role::Prefill
}

/// TRT-LLM's MoE layout needs tp = moe_tp · moe_ep (the attention-DP ranks
/// are tp ranks too); dense models keep the row's tp.
pub fn tensor_parallel_size(r: &RolePlan, is_moe: bool) -> u32 {
    if is_moe {
        r.layout.moe_tp * r.layout.moe_ep
    } else {
        r.layout.tp
    }
}

/// Attention data parallelism: a MoE worker with dp > 1.
pub fn enable_attention_dp(r: &RolePlan, is_moe: bool) -> bool {
    is_moe && r.layout.dp > 1
}

/// TRT-LLM rejects the literal float16/bfloat16 KV dtypes: those mean `auto`.
pub fn kv_cache_dtype(kvcache: &str) -> String {
    match kvcache {
        "float16" | "bfloat16" | "" => "auto".into(),
        other => other.into(),
    }
}

/// The engine configuration of one worker role.
pub fn engine_config(plan: &Plan, r: &RolePlan, hw: &Hardware, kv_fraction: f64) -> EngineConfig {
    let batch = max_batch_size(r.role, r.bs);
    let moe = plan.is_moe;
    EngineConfig {
        backend: "pytorch",
        moe_expert_parallel_size: moe.then_some(r.layout.moe_ep),
        moe_tensor_parallel_size: moe.then_some(r.layout.moe_tp),
        moe_config: moe.then(|| MoeConfig {
            backend: hw.trtllm_moe_backend.to_string(),
        }),
        tensor_parallel_size: tensor_parallel_size(r, moe),
        pipeline_parallel_size: r.layout.pp,
        enable_attention_dp: enable_attention_dp(r, moe),
        enable_chunked_prefill: false,
        max_batch_size: batch,
        max_num_tokens: max_num_tokens(r.role, batch, plan.isl),
        kv_cache_config: KvCacheConfig {
            free_gpu_memory_fraction: kv_fraction,
            dtype: kv_cache_dtype(&r.kvcache),
            tokens_per_block: TOKENS_PER_BLOCK,
            // A shared prefix is worth reusing blocks for.
            enable_block_reuse: plan.prefix > 0,
        },
        cache_transceiver_config: plan.disagg().then(|| CacheTransceiverConfig {
            backend: "DEFAULT",
            max_tokens_in_buffer: cache_transceiver_tokens(plan.isl, plan.osl),
        }),
        cuda_graph_config: cuda_graph(r.role, r.bs),
        disable_overlap_scheduler: disable_overlap_scheduler(r.role),
        print_iter_log: false,
        // Disagg prefill carries it too: its KV layout must match decode's MTP layers.
        speculative_config: (plan.nextn > 0).then_some(SpeculativeConfig {
            decoding_type: "MTP",
            num_nextn_predict_layers: plan.nextn,
        }),
    }
}

/// Where the worker finds its engine config inside the container.
pub fn engine_config_path(role: Role) -> String {
    format!("/workspace/engine_configs/{}", role.config_file())
}

/// `python3 -m dynamo.trtllm` arguments of one worker.
pub fn worker_args(role: Role, model: &str, served: &str, router: bool) -> Vec<String> {
    let mut a = vec![
        "--model-path".to_string(),
        model.to_string(),
        "--served-model-name".to_string(),
        served.to_string(),
        "--extra-engine-args".to_string(),
        engine_config_path(role),
    ];
    if role != Role::Agg {
        a.push("--disaggregation-mode".into());
        a.push(role.name().into());
    }
    // KV-aware routing needs every worker to publish its KV events.
    if router {
        a.push("--publish-events-and-metrics".into());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::hardware;
    use crate::deploy::plan::tests::{layout, plan_of, role};
    use crate::deploy::plan::Backend;

    #[test]
    fn max_batch_size_is_the_rows_per_rank_batch() {
        assert_eq!(max_batch_size(Role::Decode, 216), 216);
        assert_eq!(max_batch_size(Role::Prefill, 0), 1);
        assert_eq!(max_batch_size(Role::Agg, 0), 128);
    }

    #[test]
    fn max_num_tokens_rounds_to_the_page() {
        assert_eq!(max_num_tokens(Role::Prefill, 1, 4000), 4512);
        assert_eq!(max_num_tokens(Role::Decode, 216, 4000), 224);
        assert_eq!(max_num_tokens(Role::Agg, 11, 4000), 4512);
        assert_eq!(max_num_tokens(Role::Prefill, 1, 3000), 3520);
    }

    #[test]
    fn cache_transceiver_holds_a_whole_sequence() {
        assert_eq!(cache_transceiver_tokens(4000, 1000), 5504);
        assert_eq!(cache_transceiver_tokens(3000, 800), 4320);
    }

    #[test]
    fn cuda_graph_prefill_keeps_defaults_generation_pads() {
        let p = cuda_graph(Role::Prefill, 1);
        assert!(!p.enable_padding);
        assert_eq!(p.batch_sizes.len(), 9);
        let d = cuda_graph(Role::Decode, 216);
        assert!(d.enable_padding);
        assert_eq!(d.batch_sizes.last(), Some(&224));
    }

    #[test]
    fn moe_tensor_parallel_size_is_moe_tp_times_ep() {
        let r = role(Role::Decode, layout(1, 16, 1, 16), 30, 1);
        assert_eq!(tensor_parallel_size(&r, true), 16);
        assert!(enable_attention_dp(&r, true));
        let dense = role(Role::Agg, layout(4, 1, 1, 1), 8, 1);
        assert_eq!(tensor_parallel_size(&dense, false), 4);
        assert!(!enable_attention_dp(&dense, false));
    }

    #[test]
    fn kv_cache_dtype_maps_bf16_to_auto() {
        assert_eq!(kv_cache_dtype("bfloat16"), "auto");
        assert_eq!(kv_cache_dtype("fp8"), "fp8");
    }

    #[test]
    fn mtp_and_moe_backend_reach_the_config() {
        let mut p = plan_of(
            Backend::Trtllm,
            true,
            vec![role(Role::Agg, layout(1, 16, 1, 16), 11, 1)],
        );
        p.nextn = 1;
        p.system = "b200_sxm".into();
        let hw = hardware::for_system(&p.system);
        let c = engine_config(&p, &p.roles[0], &hw, 0.8);
        assert_eq!(c.moe_config.map(|m| m.backend), Some("WIDEEP".into()));
        assert_eq!(
            c.speculative_config.map(|s| s.num_nextn_predict_layers),
            Some(1)
        );
        assert!(c.cache_transceiver_config.is_none());
        assert!(!c.disable_overlap_scheduler);
    }
}
