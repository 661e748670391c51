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
    use Phase::{Context as Ctx, Generation as Gen};
    // (system, comm backend, MoE quant, comm step, phase) → wire dtype.
    #[rustfmt::skip]
    let cases = [
        ("h200_sxm", "trtllm_deepep_ht", "fp8_block", "dispatch", Ctx, Some("bfloat16")),
        ("h200_sxm", "trtllm_deepep_ll", "fp8_block", "combine",  Gen, Some("fp8")),
        // Hopper has no fp4 low-latency combine; Blackwell does.
        ("h200_sxm", "trtllm_deepep_ll", "nvfp4",     "combine",  Gen, None),
        ("gb200",    "trtllm_deepep_ll", "nvfp4",     "combine",  Gen, Some("fp4")),
        ("h200_sxm", "nvlink_two_sided", "nvfp4",     "combine",  Gen, Some("fp4")),
        ("h200_sxm", "nvlink_two_sided", "nvfp4",     "combine",  Ctx, Some("nvfp4")),
        ("h200_sxm", "deepep_ht",        "w4afp8",    "dispatch", Ctx, Some("default")),
        ("h200_sxm", "nvlink_one_sided", "w4afp8",    "dispatch", Ctx, Some("w4afp8")),
        ("h200_sxm", "trtllm_deepep_ht", "w4afp8",    "dispatch", Ctx, None),
    ];
    for (system, comm, quant, step, phase, want) in cases {
        assert_eq!(
            communication_dtype(system, comm, quant, step, phase),
            want,
            "{system} {comm} {quant} {step} {phase:?}"
        );
    }
}

#[test]
fn node1_rows_stand_in_for_deepep_only() {
    let pairs: BTreeSet<(u32, u32)> = [(8, 1)].into_iter().collect();
    // (framework, comm backend, ep, nodes, gpus per node) → covered by an EP8 single-node row.
    #[rustfmt::skip]
    let cases = [
        (Backend::Sglang, "deepep_ht",        32, 4, 4, true),
        // trtllm needs a full-node row: EP8 on one node is not one when nodes hold 4.
        (Backend::Trtllm, "trtllm_deepep_ht", 32, 8, 4, false),
        (Backend::Trtllm, "trtllm_deepep_ht", 32, 4, 8, true),
        (Backend::Trtllm, "nvlink_two_sided", 32, 4, 8, false),
        (Backend::Trtllm, "trtllm_deepep_ht",  4, 1, 8, false),
    ];
    for (framework, comm, ep, nodes, gpn, want) in cases {
        assert_eq!(
            a2a_covers(&pairs, framework, comm, ep, nodes, gpn),
            want,
            "{framework} {comm} ep{ep} over {nodes} node(s) of {gpn}"
        );
    }
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
    let both = MoeCommBackends {
        context: Some("trtllm_deepep_ht".into()),
        generation: Some("trtllm_deepep_ll".into()),
    };
    // (role, layout) → Ok(chosen backends) or Err (an error is expected).
    #[rustfmt::skip]
    let cases: [(WorkerRole, Parallel, Result<Option<MoeCommBackends>, ()>); 6] = [
        (WorkerRole::Agg,     par(1, 8, 1, 8),    Ok(Some(both.clone()))),
        // Attention TP without DP stays fused on trtllm.
        (WorkerRole::Agg,     par(8, 1, 1, 8),    Ok(None)),
        // Cross-node EP whose context is not covered is an error, intra-node falls back.
        (WorkerRole::Decode,  par(1, 32, 1, 32),  Err(())),
        (WorkerRole::Agg,     par(2, 16, 2, 16),  Err(())),
        (WorkerRole::Agg,     par(1, 4, 1, 4),    Ok(None)),
        // A prefill worker still records generation's backend when covered.
        (WorkerRole::Prefill, par(1, 16, 1, 16),  Ok(Some(both))),
    ];
    for (role, p, want) in cases {
        let got = resolve_moe_comm(&c, role, &p, &CX).map_err(|_| ());
        assert_eq!(got, want, "{role:?} {p}");
    }
    assert_eq!(
        covered_eps(&c, WorkerRole::Agg),
        [8, 16].into_iter().collect()
    );
    assert_eq!(large_ep_eps(&c, WorkerRole::Agg, 8), vec![16]);
    assert_eq!(large_ep_eps(&c, WorkerRole::Prefill, 8), vec![16]);
}
