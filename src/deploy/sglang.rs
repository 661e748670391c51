//! SGLang: the worker flags of `python3 -m dynamo.sglang`, computed by the
//! reference generator's rules (SGLang has no engine-config file in a bundle).

use super::hardware::Hardware;
use super::plan::{Plan, Role, RolePlan};
use super::rules;

/// SGLang's tp spans the MoE layout: moe_tp · moe_ep (dense: the row's tp).
pub fn tensor_parallel_size(r: &RolePlan, is_moe: bool) -> u32 {
    if is_moe {
        r.layout.moe_tp * r.layout.moe_ep
    } else {
        r.layout.tp
    }
}

/// `--max-running-requests`: prefill runs the row's batch; generation gets
/// the generous floor of 512.
pub fn max_running_requests(role: Role, bs: u32) -> u32 {
    match role {
        Role::Prefill => bs.max(1),
        _ => rules::generous_max_batch(bs),
    }
}

/// `--max-prefill-tokens`: one prompt plus 1500, for every role.
pub fn max_prefill_tokens(isl: u32) -> u32 {
    isl + 1500
}

/// SGLang spells fp8 KV as `fp8_e4m3` and reads `bfloat16` literally (`auto` is the model's).
pub fn kv_cache_dtype(kvcache: &str) -> String {
    match kvcache {
        "fp8" => "fp8_e4m3".into(),
        "bfloat16" | "" => "auto".into(),
        other => other.into(),
    }
}

/// Attention data parallelism: a MoE worker with dp > 1.
pub fn enable_dp_attention(r: &RolePlan, is_moe: bool) -> bool {
    is_moe && r.layout.dp > 1
}

/// The engine flags of one worker role, without model, served name and host.
pub fn engine_flags(plan: &Plan, r: &RolePlan, hw: &Hardware) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let kv = |a: &mut Vec<String>, k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    kv(
        &mut a,
        "--tensor-parallel-size",
        tensor_parallel_size(r, plan.is_moe).to_string(),
    );
    kv(&mut a, "--pipeline-parallel-size", r.layout.pp.to_string());
    kv(&mut a, "--data-parallel-size", r.layout.dp.to_string());
    kv(&mut a, "--kv-cache-dtype", kv_cache_dtype(&r.kvcache));
    kv(
        &mut a,
        "--max-running-requests",
        max_running_requests(r.role, r.bs).to_string(),
    );
    kv(
        &mut a,
        "--max-prefill-tokens",
        max_prefill_tokens(plan.isl).to_string(),
    );
    if r.role == Role::Agg {
        // Agg mixes prefill chunks into decode batches.
        a.push("--enable-mixed-chunk".into());
    }
    if enable_dp_attention(r, plan.is_moe) {
        a.push("--enable-dp-attention".into());
    }
    kv(
        &mut a,
        "--expert-parallel-size",
        r.layout.moe_ep.to_string(),
    );
    if r.role != Role::Agg {
        kv(&mut a, "--disaggregation-transfer-backend", "nixl".into());
    }
    if r.role.generates() {
        a.push("--cuda-graph-bs".into());
        a.extend(rules::cuda_graph_ladder(r.bs).iter().map(u32::to_string));
    }
    if plan.nextn > 0 {
        // The (steps, topk, draft tokens) triple must be given whole: chain MTP.
        kv(&mut a, "--speculative-algorithm", "NEXTN".into());
        kv(&mut a, "--speculative-num-steps", plan.nextn.to_string());
        kv(&mut a, "--speculative-eagle-topk", "1".into());
        kv(
            &mut a,
            "--speculative-num-draft-tokens",
            (plan.nextn + 1).to_string(),
        );
    }
    if let Some(runner) = hw.sglang_moe_runner.filter(|_| plan.is_moe) {
        kv(&mut a, "--moe-runner-backend", runner.into());
    }
    if r.role != Role::Agg {
        kv(&mut a, "--disaggregation-mode", r.role.name().into());
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
    fn moe_tensor_parallel_size_is_moe_tp_times_ep() {
        let r = role(Role::Agg, layout(1, 8, 1, 8), 24, 1);
        assert_eq!(tensor_parallel_size(&r, true), 8);
        assert!(enable_dp_attention(&r, true));
    }

    #[test]
    fn max_running_requests_floor_512() {
        assert_eq!(max_running_requests(Role::Agg, 64), 512);
        assert_eq!(max_running_requests(Role::Prefill, 1), 1);
        assert_eq!(max_prefill_tokens(4000), 5500);
    }

    #[test]
    fn kv_cache_dtype_fp8_is_e4m3() {
        assert_eq!(kv_cache_dtype("fp8"), "fp8_e4m3");
        assert_eq!(kv_cache_dtype("bfloat16"), "auto");
    }

    #[test]
    fn mtp_triple_and_blackwell_moe_runner() {
        let mut p = plan_of(
            Backend::Sglang,
            true,
            vec![role(Role::Decode, layout(1, 16, 1, 16), 52, 1)],
        );
        p.nextn = 2;
        let f = engine_flags(&p, &p.roles[0], &hardware::for_system("b200_sxm"));
        let s = f.join(" ");
        assert!(s.contains("--speculative-num-steps 2 --speculative-eagle-topk 1 --speculative-num-draft-tokens 3"), "{s}");
        assert!(s.contains("--moe-runner-backend deepep_moe"), "{s}");
        assert!(s.ends_with("--disaggregation-mode decode"), "{s}");
        assert!(s.contains("--cuda-graph-bs 1 2 3"), "{s}");
    }
}
