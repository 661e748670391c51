//! End-to-end runs of both runners on a closed-form fake engine.

use super::*;
use crate::domain::{Backend, DbMode, Quant, ServingMode};
use crate::engine::memory::{KvLayout, WorkerMemory};
use crate::exp::{Family, ReplicaConfig, Role, SearchSpace, Tuning};
use crate::numeric::GIB;
use crate::search::pricer::{PriceError, Pricer};
use std::sync::Mutex;

/// Closed-form step costs that scale like a real GPU: weights read once per
/// step, per-token compute, tp divides both.
struct Linear {
    tp: f64,
}
impl Pricer for Linear {
    fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError> {
        Ok((20.0 + 0.02 * ctx as f64 + 0.05 * gen as f64) / self.tp)
    }
    fn genonly_step(&self, b: u32) -> Result<f64, PriceError> {
        Ok((20.0 + 0.05 * b as f64) / self.tp)
    }
    fn static_ctx(&self, b: u32) -> Result<f64, PriceError> {
        Ok((20.0 + 0.02 * 4000.0 * b as f64) / self.tp)
    }
    fn static_gen(&self, b: u32) -> Result<f64, PriceError> {
        Ok(999.0 * (20.0 + 0.05 * b as f64) / self.tp)
    }
}

struct Fake;
impl WorkerFactory for Fake {
    fn build(&self, _task: &Task, _role: RoleKind, p: Parallel) -> Result<BuiltWorker, String> {
        if p.tp == 8 {
            return Err("64 heads do not divide... (test refusal)".into());
        }
        Ok(BuiltWorker {
            pricer: Box::new(Linear { tp: p.tp as f64 }),
            memory: WorkerMemory {
                backend: Backend::Trtllm,
                family: Family::Llama,
                tp: p.tp,
                pp: 1,
                dp: 1,
                moe_ep: 1,
                nextn: 0,
                weight_bytes: 60.0 * GIB / p.tp as f64,
                act_width: 8192.0,
                hidden: 5120.0,
                num_experts: 0,
                topk: 0,
                kv: KvLayout::Gqa {
                    kv_heads: 8,
                    head_dim: 128,
                    layers: 64,
                },
                kv_bytes_per_elem: 2.0,
                nccl_mem: [0.0; 4],
                other_mem: 3.5 * GIB,
                capacity_bytes: 80.0 * GIB,
                backend_version: "x".into(),
                kv_fraction: None,
            },
            num_layers: 64,
        })
    }
    fn is_moe(&self, _: &Task, _: RoleKind) -> bool {
        false
    }
}

fn role() -> Role {
    Role {
        model: "m".into(),
        system: "s".into(),
        backend: Backend::Trtllm,
        backend_version: "x".into(),
        quant: Quant::default(),
        search: SearchSpace {
            num_gpu: vec![1, 2, 4, 8],
            tp: vec![1, 2, 4, 8],
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
    }
}

fn task(mode: ServingMode) -> Task {
    let roles = match mode {
        ServingMode::Agg => Roles::Agg { worker: role() },
        ServingMode::Disagg => Roles::Disagg {
            prefill: role(),
            decode: role(),
            replica: ReplicaConfig {
                num_gpu_per_replica: vec![1, 2, 4, 8, 16],
                max_gpu_per_replica: 16,
                max_prefill_workers: 32,
                max_decode_workers: 32,
            },
        },
    };
    Task {
        name: "t".into(),
        serving_mode: mode,
        isl: 4000,
        osl: 1000,
        prefix: 0,
        ttft: 1000.0,
        tpot: 50.0,
        total_gpus: 16,
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

fn check_invariants(r: &ExperimentReport, total: u32) {
    assert_eq!(r.status, Status::Ok, "{:?}", r.error);
    for row in r.pareto.iter().chain(&r.top) {
        assert!(row.replicas * row.num_total_gpus <= total);
        assert!(row.ttft_ms > 0.0 && row.ttft_ms.is_finite());
        assert!(row.tpot_ms > 0.0 && row.tpot_ms.is_finite());
        if let (Some(p), Some(d)) = (&row.prefill, &row.decode) {
            assert_eq!(
                row.num_total_gpus,
                p.workers * p.gpus_per_worker + d.workers * d.gpus_per_worker
            );
        }
    }
    let best = r.best.as_ref().expect("best");
    assert!(best.sla_met && best.tpot_ms <= r.tpot);
    for w in r.pareto.windows(2) {
        assert!(w[0].tokens_per_s_per_user <= w[1].tokens_per_s_per_user);
        assert!(w[0].tokens_per_s_per_gpu_cluster > w[1].tokens_per_s_per_gpu_cluster);
    }
    assert!(r
        .rejected
        .iter()
        .any(|x| x.parallel.starts_with("tp8") && x.reason.contains("test refusal")));
}

#[test]
fn agg_and_disagg_end_to_end_on_a_fake_engine() {
    let cancel = CancelToken::new();
    let partials = Mutex::new(0);
    let progress = |p: Progress| {
        if let Progress::Partial { .. } = p {
            *partials.lock().unwrap() += 1;
        }
    };
    let agg = run_experiment(&task(ServingMode::Agg), &Fake, 5, false, &cancel, &progress);
    check_invariants(&agg, 16);
    assert!(agg.top.len() <= 3, "one row per layout");
    assert!(*partials.lock().unwrap() >= 1);
    assert!(agg
        .best
        .as_ref()
        .and_then(|b| b.detail.as_ref())
        .and_then(|d| d.scheduler.as_ref())
        .is_some());
    // Disagg streams the front of the decode layouts matched so far.
    let streamed = Mutex::new(Vec::new());
    let on_disagg = |p: Progress| {
        if let Progress::Partial {
            pareto,
            done_fraction,
            ..
        } = p
        {
            streamed.lock().unwrap().push((pareto, done_fraction));
        }
    };
    let dis = run_experiment(
        &task(ServingMode::Disagg),
        &Fake,
        5,
        false,
        &cancel,
        &on_disagg,
    );
    check_invariants(&dis, 16);
    // Shown rows spell out how TTFT and TPOT follow from the step latencies.
    for r in &dis.top {
        let t = r
            .detail
            .as_ref()
            .and_then(|d| d.timing.as_ref())
            .expect("timing");
        let ttft = t.prefill_engine_ms * t.prefill_correction * t.ttft_autoscale;
        assert!((ttft - r.ttft_ms).abs() < 0.01, "{ttft} vs {}", r.ttft_ms);
        let step = t.decode_engine_pass_ms / t.decode_steps as f64 * t.decode_correction;
        assert!((step - t.decode_step_ms).abs() < 1e-9);
        let tpot = step / t.tokens_per_step;
        assert!((tpot - r.tpot_ms).abs() < 0.01, "{tpot} vs {}", r.tpot_ms);
    }
    let streamed = streamed.into_inner().unwrap();
    assert!(!streamed.is_empty(), "no partial disagg front");
    let best = dis.best.as_ref().unwrap().tokens_per_s_per_gpu_cluster;
    for (front, frac) in &streamed {
        assert!(*frac > 0.0 && *frac < 1.0);
        assert!(!front.is_empty());
        // A partial front never beats the final one.
        for r in front.iter().filter(|r| r.sla_met) {
            assert!(r.tokens_per_s_per_gpu_cluster <= best + 1e-9);
        }
    }
}

#[test]
fn impossible_sla_falls_back_to_closest() {
    let mut t = task(ServingMode::Agg);
    t.tpot = 0.5;
    let r = run_experiment(&t, &Fake, 5, false, &CancelToken::new(), &|_| {});
    assert_eq!(r.status, Status::Ok);
    assert!(r.top.iter().all(|x| !x.sla_met));
    assert!(r.top.windows(2).all(|w| w[0].tpot_ms <= w[1].tpot_ms));
}

#[test]
fn nothing_fits_reports_why() {
    let mut t = task(ServingMode::Agg);
    t.ttft = 1.0;
    let r = run_experiment(&t, &Fake, 5, false, &CancelToken::new(), &|_| {});
    assert_eq!(r.status, Status::NoResult);
    assert!(
        r.error.as_deref().unwrap_or("").contains("TTFT"),
        "{:?}",
        r.error
    );
    assert!(r.rejected.iter().any(|x| x.parallel == "tp1pp1dp1etp1ep1"));
}
