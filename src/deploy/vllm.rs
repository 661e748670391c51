//! vLLM: the worker flags of `python3 -m dynamo.vllm`, computed by the
//! reference generator's rules (vLLM has no engine-config file in a bundle).

use super::plan::{Plan, Role, RolePlan};
use super::rules;

/// vLLM folds the MoE layout into one tp: moe_tp · moe_ep over the
/// attention-DP ranks (dp ranks are separate engine processes).
pub fn tensor_parallel_size(r: &RolePlan, is_moe: bool) -> u32 {
    if is_moe {
        (r.layout.moe_tp * r.layout.moe_ep / r.layout.dp.max(1)).max(1)
    } else {
        r.layout.tp
    }
}

/// `--max-num-seqs`: prefill runs the row's batch (1 by default);
/// generation gets the generous floor of 512.
pub fn max_num_seqs(role: Role, bs: u32) -> u32 {
    match role {
        Role::Prefill => bs.max(1),
        _ => rules::generous_max_batch(bs),
    }
}

/// `--max-num-batched-tokens`: a prompt plus 1500 for prefill, one token per
/// sequence for decode, both for agg.
pub fn max_num_batched_tokens(role: Role, max_seqs: u32, isl: u32) -> u32 {
    match role {
        Role::Prefill => isl + 1500,
        Role::Decode => max_seqs,
        Role::Agg => max_seqs + isl + 1500,
    }
}

/// `--max-model-len` (agg only): a whole sequence plus 1500.
pub fn max_model_len(isl: u32, osl: u32) -> u32 {
    isl + osl + 1500
}

/// vLLM reads `bfloat16` literally; the model's own dtype is `auto`.
pub fn kv_cache_dtype(kvcache: &str) -> String {
    match kvcache {
        "bfloat16" | "" => "auto".into(),
        other => other.into(),
    }
}

/// vLLM releases before 0.12 have no `--max-num-batched-tokens` in the
/// reference's flag set for them.
fn has_batched_tokens_flag(version: &str) -> bool {
    let mut it = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (major, minor) >= (0, 12)
}

/// Dynamo before 1.0 names the role with a boolean flag.
fn role_args(role: Role, dynamo_version: &str) -> Vec<String> {
    let legacy = dynamo_version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m < 1);
    let mut a = match (role, legacy) {
        (Role::Agg, _) => return vec![],
        (_, true) => vec![format!("--is-{}-worker", role.name())],
        (_, false) => vec!["--disaggregation-mode".into(), role.name().into()],
    };
    a.push("--kv-transfer-config".into());
    a.push(r#"{"kv_connector":"NixlConnector","kv_role":"kv_both"}"#.into());
    a
}

/// The engine flags of one worker role, without model and served name.
pub fn engine_flags(
    plan: &Plan,
    r: &RolePlan,
    vllm_version: &str,
    dynamo_version: &str,
) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut kv = |k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    kv(
        "--tensor-parallel-size",
        tensor_parallel_size(r, plan.is_moe).to_string(),
    );
    kv("--pipeline-parallel-size", r.layout.pp.to_string());
    kv("--data-parallel-size", r.layout.dp.to_string());
    if r.layout.moe_ep > 1 {
        a.push("--enable-expert-parallel".into());
    }
    let seqs = max_num_seqs(r.role, r.bs);
    a.push("--kv-cache-dtype".into());
    a.push(kv_cache_dtype(&r.kvcache));
    if r.role == Role::Agg {
        a.push("--max-model-len".into());
        a.push(max_model_len(plan.isl, plan.osl).to_string());
    }
    a.push("--max-num-seqs".into());
    a.push(seqs.to_string());
    if has_batched_tokens_flag(vllm_version) {
        a.push("--max-num-batched-tokens".into());
        a.push(max_num_batched_tokens(r.role, seqs, plan.isl).to_string());
    }
    if plan.nextn > 0 {
        a.push("--speculative-config".into());
        a.push(format!(
            r#"{{"method": "mtp", "num_speculative_tokens": {}}}"#,
            plan.nextn
        ));
    }
    a.extend(role_args(r.role, dynamo_version));
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::tests::{layout, plan_of, role};
    use crate::deploy::plan::Backend;

    #[test]
    fn moe_tensor_parallel_size_divides_by_dp() {
        let r = role(Role::Decode, layout(1, 4, 1, 4), 116, 3);
        assert_eq!(tensor_parallel_size(&r, true), 1);
        let r = role(Role::Agg, layout(4, 1, 1, 4), 64, 1);
        assert_eq!(tensor_parallel_size(&r, true), 4);
    }

    #[test]
    fn max_num_seqs_floor_512_for_generation() {
        assert_eq!(max_num_seqs(Role::Decode, 116), 512);
        assert_eq!(max_num_seqs(Role::Prefill, 1), 1);
    }

    #[test]
    fn max_num_batched_tokens_by_role() {
        assert_eq!(max_num_batched_tokens(Role::Prefill, 1, 2000), 3500);
        assert_eq!(max_num_batched_tokens(Role::Decode, 512, 2000), 512);
        assert_eq!(max_num_batched_tokens(Role::Agg, 512, 2000), 4012);
        assert_eq!(max_model_len(2000, 800), 4300);
    }

    #[test]
    fn kv_cache_dtype_bf16_is_auto() {
        assert_eq!(kv_cache_dtype("bfloat16"), "auto");
        assert_eq!(kv_cache_dtype("fp8"), "fp8");
    }

    #[test]
    fn old_releases_use_legacy_role_flags_and_no_token_budget() {
        let p = plan_of(
            Backend::Vllm,
            false,
            vec![role(Role::Prefill, layout(1, 1, 1, 1), 1, 3)],
        );
        let f = engine_flags(&p, &p.roles[0], "0.11.0", "0.7.1");
        assert!(f.contains(&"--is-prefill-worker".to_string()));
        assert!(!f.contains(&"--max-num-batched-tokens".to_string()));
        let f = engine_flags(&p, &p.roles[0], "0.24.0", "1.3.0");
        assert!(f
            .windows(2)
            .any(|w| w[0] == "--disaggregation-mode" && w[1] == "prefill"));
        assert!(f.contains(&"--max-num-batched-tokens".to_string()));
    }

    #[test]
    fn expert_parallel_only_with_ep() {
        let p = plan_of(
            Backend::Vllm,
            true,
            vec![role(Role::Decode, layout(1, 4, 1, 4), 116, 3)],
        );
        assert!(engine_flags(&p, &p.roles[0], "0.24.0", "1.3.0")
            .contains(&"--enable-expert-parallel".to_string()));
    }
}
