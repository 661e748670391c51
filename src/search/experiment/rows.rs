//! Report rows from search points: one per agg point, one per matched xPyD
//! combination (with a [`WorkerRow`] for each pool).

use super::detail::gib;
use crate::exp::{Role, Task};
use crate::report::{AggExtra, Detail, Row, SchedulerNumbers, WorkerRow};
use crate::search::agg::AggPoint;
use crate::search::disagg::{DisaggRow, WorkerPoint};
use crate::search::pick;

pub(super) fn agg_row(task: &Task, role: &Role, pt: &AggPoint) -> Row {
    let g = pt.parallel.gpus();
    let replicas = pick::replicas(g, task.total_gpus);
    let nctx = pt.ctx_tokens.div_ceil(task.isl.max(1));
    let (num_ctx, num_gen) = if pt.bs == 1 {
        (1, 1)
    } else {
        (nctx, pt.bs.saturating_sub(nctx))
    };
    let q = role.layout_quant(&pt.parallel);
    Row {
        tokens_per_s_per_gpu: pt.tokens_s_gpu,
        tokens_per_s_per_gpu_cluster: pick::cluster_tokens_per_gpu(
            pt.tokens_s_gpu,
            g,
            task.total_gpus,
        ),
        tokens_per_s_per_user: pt.tokens_s_user,
        ttft_ms: pt.ttft,
        tpot_ms: pt.tpot,
        request_latency_ms: pt.request_latency,
        request_rate: pt.request_rate * replicas as f64,
        concurrency: pt.concurrency * replicas as f64,
        num_total_gpus: g,
        replicas,
        total_gpus_used: replicas * g,
        memory_gib: crate::numeric::round_half_even(pt.memory.total, 3),
        sla_met: pt.raw_tpot <= task.tpot,
        seq_per_s: pt.seq_s,
        seq_per_s_per_gpu: pt.seq_s_gpu,
        tokens_per_s: pt.tokens_s,
        parallel: Some(pt.parallel.to_string()),
        bs: Some(pt.bs),
        gpus_per_worker: Some(g),
        ctx_tokens: Some(pt.ctx_tokens),
        agg: Some(AggExtra {
            layout: pt.parallel,
            global_bs: pt.global_bs,
            balance_score: crate::numeric::round_half_even(
                task.isl as f64 * pt.bs as f64
                    / pt.ctx_tokens as f64
                    / (1.0
                        + (task.osl.saturating_sub(1)) as f64
                            / (1.0
                                + if task.nextn > 0 {
                                    task.nextn_accepted
                                } else {
                                    0.0
                                })),
                3,
            ),
            num_ctx_reqs: num_ctx,
            num_gen_reqs: num_gen,
            num_tokens: if pt.bs > 1 {
                num_gen + pt.ctx_tokens
            } else {
                pt.ctx_tokens
            },
            gen_tokens: num_gen,
            gemm: q.gemm.name().into(),
            kvcache: q.kvcache.name().into(),
            fmha: q.fmha.name().into(),
            moe: q.moe.name().into(),
            comm: q.comm.name().into(),
            system: role.system.clone(),
            backend: role.backend.name().into(),
            version: role.backend_version.clone(),
        }),
        prefill: None,
        decode: None,
        detail: Some(Detail {
            steps: Vec::new(),
            memory: vec![gib(&pt.memory, "agg", 0.0)],
            scheduler: Some(SchedulerNumbers {
                num_mix_steps: pt.num_mix_steps,
                num_genonly_steps: pt.num_genonly_steps,
                mix_step_ms: pt.mix_step_ms,
                genonly_step_ms: pt.genonly_step_ms,
                mix_context_tokens: pt.ctx_tokens,
                mix_decode_requests: pt.mix_decode_requests,
                ttft_queue_factor: pt.queue_factor,
            }),
            sol_full: Vec::new(),
            timing: None,
        }),
    }
}

fn worker_row(role: &Role, w: &WorkerPoint, workers: u32, latency: f64) -> WorkerRow {
    let q = role.layout_quant(&w.parallel);
    WorkerRow {
        parallel: w.parallel.to_string(),
        layout: w.parallel,
        workers,
        gpus_per_worker: w.gpus,
        bs: w.bs,
        global_bs: w.global_bs,
        memory_gib: crate::numeric::round_half_even(w.memory.total, 3),
        seq_per_s_per_worker: w.seq_s,
        latency_ms: latency,
        gemm: q.gemm.name().into(),
        kvcache: q.kvcache.name().into(),
        fmha: q.fmha.name().into(),
        moe: q.moe.name().into(),
        comm: q.comm.name().into(),
        system: role.system.clone(),
        backend: role.backend.name().into(),
        version: role.backend_version.clone(),
    }
}

pub(super) fn disagg_row(
    task: &Task,
    prole: &Role,
    drole: &Role,
    m: &DisaggRow,
    detail: Detail,
) -> Row {
    let g = m.num_total_gpus;
    let replicas = pick::replicas(g, task.total_gpus);
    let pw = worker_row(prole, &m.prefill, m.prefill_workers, m.ttft);
    let dw = worker_row(drole, &m.decode, m.decode_workers, m.tpot);
    Row {
        tokens_per_s_per_gpu: m.tokens_s_gpu,
        tokens_per_s_per_gpu_cluster: pick::cluster_tokens_per_gpu(
            m.tokens_s_gpu,
            g,
            task.total_gpus,
        ),
        tokens_per_s_per_user: m.tokens_s_user,
        ttft_ms: m.ttft,
        tpot_ms: m.tpot,
        request_latency_ms: m.request_latency,
        request_rate: m.request_rate * replicas as f64,
        concurrency: m.concurrency * replicas as f64,
        num_total_gpus: g,
        replicas,
        total_gpus_used: replicas * g,
        memory_gib: pw.memory_gib.max(dw.memory_gib),
        sla_met: m.tpot <= task.tpot,
        seq_per_s: m.seq_s,
        seq_per_s_per_gpu: m.seq_s_gpu,
        tokens_per_s: m.tokens_s,
        parallel: None,
        bs: None,
        gpus_per_worker: None,
        ctx_tokens: None,
        agg: None,
        prefill: Some(pw),
        decode: Some(dw),
        detail: Some(detail),
    }
}
