//! Unit tests of the registry rules and regime resolution.

use super::*;
use crate::domain::{Backend, Parallel};
use crate::engine::compile::MoeCommBackends;
use std::collections::BTreeSet;

fn cov(entries: &[(Phase, &str, &[u32])]) -> PhaseCoverage {
    let mut c = PhaseCoverage::new();
    for (ph, b, eps) in entries {
        c.entry(*ph)
            .or_default()
            .insert(b.to_string(), eps.iter().copied().collect());
    }
    c
}

fn par(tp: u32, dp: u32, moe_tp: u32, moe_ep: u32) -> Parallel {
    Parallel {
        tp,
        pp: 1,
        dp,
        moe_tp,
        moe_ep,
        cp: 1,
    }
}

const CX: ResolveContext = ResolveContext {
    model: "m",
    system: "h200_sxm",
    backend: Backend::Trtllm,
    version: "v",
    gpus_per_node: 8,
};

#[test]
fn wire_dtypes_follow_serving() {
    let d = |b, q, s, p| communication_dtype("h200_sxm", b, q, s, p);
    assert_eq!(
        d("trtllm_deepep_ht", "fp8_block", "dispatch", Phase::Context),
        Some("bfloat16")
    );
    assert_eq!(
        d(
            "trtllm_deepep_ll",
            "fp8_block",
            "combine",
            Phase::Generation
        ),
        Some("fp8")
    );
    assert_eq!(
        d("trtllm_deepep_ll", "nvfp4", "combine", Phase::Generation),
        None
    );
    assert_eq!(
        communication_dtype(
            "gb200",
            "trtllm_deepep_ll",
            "nvfp4",
            "combine",
            Phase::Generation
        ),
        Some("fp4")
    );
    assert_eq!(
        d("nvlink_two_sided", "nvfp4", "combine", Phase::Generation),
        Some("fp4")
    );
    assert_eq!(
        d("nvlink_two_sided", "nvfp4", "combine", Phase::Context),
        Some("nvfp4")
    );
    assert_eq!(
        d("deepep_ht", "w4afp8", "dispatch", Phase::Context),
        Some("default")
    );
    assert_eq!(
        d("nvlink_one_sided", "w4afp8", "dispatch", Phase::Context),
        Some("w4afp8")
    );
    assert_eq!(
        d("trtllm_deepep_ht", "w4afp8", "dispatch", Phase::Context),
        None
    );
}

#[test]
fn node1_rows_stand_in_for_deepep_only() {
    let pairs: BTreeSet<(u32, u32)> = [(8, 1)].into_iter().collect();
    assert!(a2a_covers(&pairs, Backend::Sglang, "deepep_ht", 32, 4, 4));
    assert!(!a2a_covers(
        &pairs,
        Backend::Trtllm,
        "trtllm_deepep_ht",
        32,
        8,
        4
    ));
    assert!(a2a_covers(
        &pairs,
        Backend::Trtllm,
        "trtllm_deepep_ht",
        32,
        4,
        8
    ));
    assert!(!a2a_covers(
        &pairs,
        Backend::Trtllm,
        "nvlink_two_sided",
        32,
        4,
        8
    ));
    assert!(!a2a_covers(
        &pairs,
        Backend::Trtllm,
        "trtllm_deepep_ht",
        4,
        1,
        8
    ));
}

#[test]
fn registry_order_breaks_ties_and_trtllm_needs_dp() {
    let c = cov(&[
        (Phase::Context, "nvlink_one_sided", &[8, 16]),
        (Phase::Context, "nvlink_two_sided", &[16]),
        (Phase::Generation, "nvlink_one_sided", &[8, 16]),
    ]);
    let s = select_comm_backends(&c, Backend::Trtllm, 16, 16);
    assert_eq!(s.get(&Phase::Context), Some(&"nvlink_two_sided"));
    assert_eq!(s.get(&Phase::Generation), Some(&"nvlink_one_sided"));
    assert!(select_comm_backends(&c, Backend::Trtllm, 1, 16).is_empty());
}

#[test]
fn resolution_rules() {
    let c = cov(&[
        (Phase::Context, "trtllm_deepep_ht", &[8, 16]),
        (Phase::Generation, "trtllm_deepep_ll", &[8, 16, 32]),
    ]);
    let r = resolve_moe_comm(&c, WorkerRole::Agg, &par(1, 8, 1, 8), &CX).unwrap();
    assert_eq!(
        r,
        Some(MoeCommBackends {
            context: Some("trtllm_deepep_ht".into()),
            generation: Some("trtllm_deepep_ll".into()),
        })
    );
    // Attention TP without DP stays fused on trtllm.
    assert_eq!(
        resolve_moe_comm(&c, WorkerRole::Agg, &par(8, 1, 1, 8), &CX).unwrap(),
        None
    );
    // Cross-node EP whose context is not covered is an error, intra-node falls back.
    assert!(resolve_moe_comm(&c, WorkerRole::Decode, &par(1, 32, 1, 32), &CX).is_err());
    assert!(resolve_moe_comm(&c, WorkerRole::Agg, &par(2, 16, 2, 16), &CX).is_err());
    assert_eq!(
        resolve_moe_comm(&c, WorkerRole::Agg, &par(1, 4, 1, 4), &CX).unwrap(),
        None
    );
    // A prefill worker still records generation's backend when covered.
    let r = resolve_moe_comm(&c, WorkerRole::Prefill, &par(1, 16, 1, 16), &CX).unwrap();
    assert_eq!(
        r.and_then(|m| m.generation),
        Some("trtllm_deepep_ll".into())
    );
    assert_eq!(
        covered_eps(&c, WorkerRole::Agg),
        [8, 16].into_iter().collect()
    );
    assert_eq!(large_ep_eps(&c, WorkerRole::Agg, 8), vec![16]);
    assert_eq!(large_ep_eps(&c, WorkerRole::Prefill, 8), vec![16]);
}
