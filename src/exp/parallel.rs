//! Parallel-layout enumeration over a role's candidate lists, with the
//! reference's tuple filter (loop order tp → pp → dp → moe_tp → moe_ep → cp).

use super::task::SearchSpace;
use crate::domain::{Backend, Parallel};

/// Every layout the search will evaluate for one role, in evaluation order.
pub fn enumerate(
    space: &SearchSpace,
    is_moe: bool,
    backend: Backend,
    moe_backend: Option<&str>,
) -> Vec<Parallel> {
    // Only sglang models context parallelism; elsewhere cp is 1.
    let ones = [1u32];
    let cp_list: &[u32] = if backend == Backend::Sglang {
        &space.cp
    } else {
        &ones
    };
    let has = |n: u64| space.num_gpu.iter().any(|&g| u64::from(g) == n);
    let mut out = Vec::new();
    for &tp in &space.tp {
        for &pp in &space.pp {
            if !is_moe {
                for &cp in cp_list {
                    if has(u64::from(tp) * u64::from(pp) * u64::from(cp)) {
                        out.push(Parallel {
                            tp,
                            pp,
                            dp: 1,
                            moe_tp: 1,
                            moe_ep: 1,
                            cp,
                        });
                    }
                }
                continue;
            }
            for &dp in &space.dp {
                for &moe_tp in &space.moe_tp {
                    for &moe_ep in &space.moe_ep {
                        for &cp in cp_list {
                            let (tp6, pp6, dp6, cp6) =
                                (u64::from(tp), u64::from(pp), u64::from(dp), u64::from(cp));
                            if !has(dp6 * tp6 * pp6 * cp6) {
                                continue;
                            }
                            if dp6 * tp6 * cp6 != u64::from(moe_tp) * u64::from(moe_ep) {
                                continue;
                            }
                            if !backend_allows(backend, moe_backend, tp, dp, moe_tp, moe_ep) {
                                continue;
                            }
                            out.push(Parallel {
                                tp,
                                pp,
                                dp,
                                moe_tp,
                                moe_ep,
                                cp,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Backend-specific MoE layout rules.
pub fn backend_allows(
    backend: Backend,
    moe_backend: Option<&str>,
    tp: u32,
    dp: u32,
    moe_tp: u32,
    moe_ep: u32,
) -> bool {
    match backend {
        // TRT-LLM has no attention TP combined with attention DP.
        Backend::Trtllm => !(dp > 1 && tp > 1),
        // vLLM cannot combine MoE TP and MoE EP.
        Backend::Vllm => !(moe_tp > 1 && moe_ep > 1),
        // SGLang MegaMoE is EP-only.
        Backend::Sglang => !(moe_backend == Some("megamoe") && moe_tp > 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(x: &[u32]) -> SearchSpace {
        SearchSpace {
            num_gpu: x.to_vec(),
            tp: x.to_vec(),
            pp: vec![1],
            dp: x.to_vec(),
            moe_tp: x.to_vec(),
            moe_ep: x.to_vec(),
            cp: vec![1],
        }
    }

    #[test]
    fn counts_match_reference() {
        // Qwen3-30B-A3B, total_gpus 64 (lists [1..16]): 29 tuples on trtllm and vllm (§2.2).
        let s = space(&[1, 2, 4, 8, 16]);
        assert_eq!(enumerate(&s, true, Backend::Trtllm, None).len(), 29);
        assert_eq!(enumerate(&s, true, Backend::Vllm, None).len(), 29);
        let dense = SearchSpace {
            num_gpu: vec![1, 2, 4, 8],
            tp: vec![1, 2, 4, 8],
            ..space(&[1])
        };
        assert_eq!(enumerate(&dense, false, Backend::Trtllm, None).len(), 4);
    }
}
