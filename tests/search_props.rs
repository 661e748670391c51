//! Property tests of the search invariants over random workloads, search
//! spaces and step-cost models (a closed-form fake engine; no database).

use proptest::prelude::*;
use xpyd::domain::{Backend, DbMode, Parallel, Quant, ServingMode};
use xpyd::engine::memory::{KvLayout, WorkerMemory};
use xpyd::exp::{Family, ReplicaConfig, Role, Roles, SearchSpace, Task, Tuning};
use xpyd::numeric::GIB;
use xpyd::report::{ExperimentReport, Status};
use xpyd::run::CancelToken;
use xpyd::search::experiment::{run_experiment, BuiltWorker, RoleKind, WorkerFactory};
use xpyd::search::pricer::{PriceError, Pricer};

#[derive(Clone, Debug)]
struct Costs {
    fixed: f64,
    per_ctx: f64,
    per_gen: f64,
    weights_gib: f64,
}

struct Linear {
    c: Costs,
    tp: f64,
    isl: u32,
    osl: u32,
}

impl Pricer for Linear {
    fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError> {
        Ok((self.c.fixed + self.c.per_ctx * ctx as f64 + self.c.per_gen * gen as f64) / self.tp)
    }
    fn genonly_step(&self, b: u32) -> Result<f64, PriceError> {
        Ok((self.c.fixed + self.c.per_gen * b as f64) / self.tp)
    }
    fn static_ctx(&self, b: u32) -> Result<f64, PriceError> {
        Ok((self.c.fixed + self.c.per_ctx * (self.isl * b) as f64) / self.tp)
    }
    fn static_gen(&self, b: u32) -> Result<f64, PriceError> {
        Ok(
            (self.osl.saturating_sub(1)) as f64 * (self.c.fixed + self.c.per_gen * b as f64)
                / self.tp,
        )
    }
}

struct Fake(Costs);

impl WorkerFactory for Fake {
    fn build(&self, task: &Task, _role: RoleKind, p: Parallel) -> Result<BuiltWorker, String> {
        Ok(BuiltWorker {
            pricer: Box::new(Linear {
                c: self.0.clone(),
                tp: p.tp as f64,
                isl: task.isl,
                osl: task.osl,
            }),
            memory: WorkerMemory {
                backend: Backend::Trtllm,
                family: Family::Llama,
                tp: p.tp,
                pp: p.pp,
                dp: p.dp,
                moe_ep: p.moe_ep,
                nextn: 0,
                weight_bytes: self.0.weights_gib * GIB / p.tp as f64,
                act_width: 4096.0,
                hidden: 4096.0,
                num_experts: 0,
                topk: 0,
                kv: KvLayout::Gqa {
                    kv_heads: 8,
                    head_dim: 128,
                    layers: 32,
                },
                kv_bytes_per_elem: 2.0,
                nccl_mem: [0.0; 4],
                other_mem: 2.0 * GIB,
                capacity_bytes: 80.0 * GIB,
                backend_version: "x".into(),
                kv_fraction: None,
            },
            num_layers: 32,
        })
    }
    fn is_moe(&self, _: &Task, _: RoleKind) -> bool {
        false
    }
}

fn task(
    mode: ServingMode,
    isl: u32,
    osl: u32,
    ttft: f64,
    tpot: f64,
    total: u32,
    tps: Vec<u32>,
) -> Task {
    let role = Role {
        model: "m".into(),
        system: "s".into(),
        backend: Backend::Trtllm,
        backend_version: "x".into(),
        quant: Quant::default(),
        search: SearchSpace {
            num_gpu: vec![1, 2, 4, 8],
            tp: tps,
            pp: vec![1],
            dp: vec![1],
            moe_tp: vec![1],
            moe_ep: vec![1],
            cp: vec![1],
        },
        enable_wideep: false,
        explicit: Default::default(),
        architecture: "Qwen3ForCausalLM".into(),
        large_ep_sizes: Vec::new(),
    };
    let roles = match mode {
        ServingMode::Agg => Roles::Agg { worker: role },
        ServingMode::Disagg => Roles::Disagg {
            prefill: role.clone(),
            decode: role,
            replica: ReplicaConfig {
                num_gpu_per_replica: [1u32, 2, 4, 8, 16, 24, 32]
                    .into_iter()
                    .filter(|&g| g <= total)
                    .collect(),
                max_gpu_per_replica: total,
                max_prefill_workers: 32,
                max_decode_workers: 32,
            },
        },
    };
    Task {
        name: "p".into(),
        serving_mode: mode,
        isl,
        osl,
        prefix: 0,
        ttft,
        tpot,
        total_gpus: total,
        database_mode: DbMode::Sol,
        nextn: 0,
        nextn_accept_rates: Vec::new(),
        nextn_accepted: 0.0,
        moe_backend: None,
        attention_backend: None,
        roles,
        tuning: Tuning::default(),
        notes: Vec::new(),
    }
}

fn check(r: &ExperimentReport, total: u32) -> Result<(), TestCaseError> {
    if r.status != Status::Ok {
        prop_assert!(r.best.is_none() && r.error.is_some());
        return Ok(());
    }
    for row in r.pareto.iter().chain(&r.top) {
        prop_assert!(row.replicas * row.num_total_gpus <= total);
        prop_assert!(row.ttft_ms.is_finite() && row.ttft_ms > 0.0);
        prop_assert!(row.tpot_ms.is_finite() && row.tpot_ms > 0.0);
        if let (Some(p), Some(d)) = (&row.prefill, &row.decode) {
            prop_assert_eq!(
                row.num_total_gpus,
                p.workers * p.gpus_per_worker + d.workers * d.gpus_per_worker
            );
        }
    }
    for a in &r.pareto {
        for b in &r.pareto {
            let dominates = b.tokens_per_s_per_user >= a.tokens_per_s_per_user
                && b.tokens_per_s_per_gpu_cluster >= a.tokens_per_s_per_gpu_cluster
                && (b.tokens_per_s_per_user > a.tokens_per_s_per_user
                    || b.tokens_per_s_per_gpu_cluster > a.tokens_per_s_per_gpu_cluster);
            prop_assert!(!dominates, "front point dominated");
        }
    }
    let best = r
        .best
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("ok without best"))?;
    prop_assert!(
        best.sla_met == (best.tpot_ms <= r.tpot),
        "best flag inconsistent with its TPOT"
    );
    if best.sla_met {
        for t in &r.top {
            prop_assert!(
                t.tokens_per_s_per_gpu_cluster <= best.tokens_per_s_per_gpu_cluster + 1e-9
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn search_invariants_hold(
        disagg in any::<bool>(),
        isl in 100u32..9000,
        osl in 2u32..2000,
        ttft in 50.0f64..5000.0,
        tpot in 2.0f64..100.0,
        total in 1u32..40,
        tps in proptest::sample::subsequence(vec![1u32, 2, 4, 8], 1..=4),
        fixed in 1.0f64..40.0,
        per_ctx in 0.001f64..0.05,
        per_gen in 0.001f64..0.2,
        weights_gib in 1.0f64..120.0,
    ) {
        let total = if disagg { total.max(2) } else { total };
        let mode = if disagg { ServingMode::Disagg } else { ServingMode::Agg };
        let t = task(mode, isl, osl, ttft, tpot, total, tps);
        let f = Fake(Costs { fixed, per_ctx, per_gen, weights_gib });
        let r = run_experiment(&t, &f, 5, false, &CancelToken::new(), &|_| {});
        check(&r, total)?;
    }
}
