//! Parallel-layout enumeration: the candidate lists crossed in the
//! reference's loop order, filtered by the divisibility and backend rules.

use crate::domain::Backend;
use crate::exp::SearchSpace;

/// Every layout the lists allow, in evaluation order (one implementation, shared with the loader).
pub use crate::exp::enumerate;

/// Why the lists produce no layout at all, for the loader and "why not" views.
pub fn explain_empty(space: &SearchSpace, is_moe: bool, backend: Backend) -> String {
    let mut gpu_products = Vec::new();
    for &tp in &space.tp {
        for &pp in &space.pp {
            for &dp in if is_moe { &space.dp[..] } else { &[1][..] } {
                gpu_products.push(tp * pp * dp);
            }
        }
    }
    gpu_products.sort_unstable();
    gpu_products.dedup();
    if !gpu_products.iter().any(|g| space.num_gpu.contains(g)) {
        return format!(
            "no tp·pp{} product {:?} is in num_gpu_per_worker {:?}",
            if is_moe { "·dp" } else { "" },
            gpu_products,
            space.num_gpu
        );
    }
    if is_moe {
        return format!(
            "no layout has tp·dp equal to moe_tp·moe_ep (tp {:?}, dp {:?}, moe_tp {:?}, moe_ep {:?}){}",
            space.tp,
            space.dp,
            space.moe_tp,
            space.moe_ep,
            match backend {
                Backend::Trtllm => "; note trtllm does not combine tp > 1 with dp > 1",
                Backend::Vllm => "; note vllm does not combine moe_tp > 1 with moe_ep > 1",
                Backend::Sglang => "",
            }
        );
    }
    "no layout satisfies the lists".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(
        num_gpu: &[u32],
        tp: &[u32],
        dp: &[u32],
        moe_tp: &[u32],
        moe_ep: &[u32],
    ) -> SearchSpace {
        SearchSpace {
            num_gpu: num_gpu.to_vec(),
            tp: tp.to_vec(),
            pp: vec![1],
            dp: dp.to_vec(),
            moe_tp: moe_tp.to_vec(),
            moe_ep: moe_ep.to_vec(),
            cp: vec![1],
        }
    }

    #[test]
    fn dense_ignores_moe_lists_and_keeps_order() {
        let s = space(&[1, 2, 4, 8], &[1, 2, 4, 8], &[1, 2], &[1, 2], &[1, 2]);
        let v = enumerate(&s, false, Backend::Trtllm, None);
        let labels: Vec<String> = v.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            labels,
            [
                "tp1pp1dp1etp1ep1",
                "tp2pp1dp1etp1ep1",
                "tp4pp1dp1etp1ep1",
                "tp8pp1dp1etp1ep1"
            ]
        );
    }

    #[test]
    fn moe_rules_per_backend() {
        let x = [1, 2, 4, 8];
        let s = space(&[8], &x, &x, &x, &x);
        let trt = enumerate(&s, true, Backend::Trtllm, None);
        assert!(trt
            .iter()
            .all(|p| !(p.dp > 1 && p.tp > 1) && p.tp * p.dp == p.moe_tp * p.moe_ep));
        assert!(trt.iter().any(|p| p.to_string() == "tp1pp1dp8etp1ep8"));
        let vllm = enumerate(&s, true, Backend::Vllm, None);
        assert!(vllm.iter().all(|p| !(p.moe_tp > 1 && p.moe_ep > 1)));
        let sgl = enumerate(&s, true, Backend::Sglang, None);
        assert!(sgl.len() > trt.len());
        // DeepSeek seed example restriction: 8 GPUs, tp 1, ep 8.
        let ds = space(&[8], &[1], &[1, 2, 4, 8], &[1], &[8]);
        let v = enumerate(&ds, true, Backend::Trtllm, None);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].to_string(), "tp1pp1dp8etp1ep8");
    }

    #[test]
    fn explains_empty_products() {
        let s = space(&[16], &[1, 2], &[1], &[1], &[1]);
        assert!(enumerate(&s, false, Backend::Trtllm, None).is_empty());
        assert!(explain_empty(&s, false, Backend::Trtllm).contains("num_gpu_per_worker [16]"));
    }
}
