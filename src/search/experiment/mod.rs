//! One experiment end to end: enumerate layouts, sweep them in parallel,
//! pool the candidates, pick, and explain every layout that did not make it.
//!
//! This file holds the entry point [`run_experiment`] and what both runners
//! share; the agg runner is in [`agg_run`], the disagg pool sweep and
//! matching in [`disagg_run`], row and detail builders in [`rows`] and
//! [`detail`], and the factory interface in [`worker`].

mod agg_run;
mod detail;
mod disagg_run;
mod point;
mod rows;
mod worker;

pub use point::{
    price_agg_point, price_disagg_point, price_static_point, FixedPool, PointError, PricedPoint,
    StaticPhases,
};
pub use worker::{BuiltWorker, RoleKind, WorkerFactory};

use crate::domain::Parallel;
use crate::engine::memory::Fit;
use crate::exp::{Roles, Task};
use crate::report::{
    ExperimentReport, Rejection, ResolvedRole, ResolvedSettings, RoleLists, Row, Status,
};
use crate::search::control::{CancelToken, Progress};
use crate::search::pick;
use rayon::prelude::*;
use std::time::Instant;

fn fit_reason(b: u32, fit: Fit, capacity_gib: f64) -> String {
    match fit {
        Fit::Oom { over_gib } => {
            format!("out of memory at batch {b}: needs {:.1} GiB more than the {capacity_gib:.0} GiB GPU", over_gib)
        }
        Fit::KvOom { over_gib } => {
            format!("KV cache over the backend's KV budget by {over_gib:.1} GiB at batch {b}")
        }
        Fit::Fits => String::new(),
    }
}

struct Ctx<'a> {
    task: &'a Task,
    factory: &'a dyn WorkerFactory,
    cancel: &'a CancelToken,
    progress: &'a (dyn Fn(Progress) + Sync),
}

/// Run one experiment. `top_n` rows go to `top`; with `keep_feasible` every pooled row is returned.
pub fn run_experiment(
    task: &Task,
    factory: &dyn WorkerFactory,
    top_n: usize,
    keep_feasible: bool,
    cancel: &CancelToken,
    progress: &(dyn Fn(Progress) + Sync),
) -> ExperimentReport {
    let listing = Listing {
        top_n,
        keep_feasible,
        details: true,
    };
    run_experiment_with(task, factory, listing, cancel, progress)
}

/// Which rows an experiment's report lists, and whether they carry details.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    pub top_n: usize,
    pub keep_feasible: bool,
    /// Per-op details of the Pareto and top rows (extra engine passes;
    /// a sweep, which compares best rows only, goes without).
    pub details: bool,
}

/// [`run_experiment`] with the listing spelled out.
pub fn run_experiment_with(
    task: &Task,
    factory: &dyn WorkerFactory,
    listing: Listing,
    cancel: &CancelToken,
    progress: &(dyn Fn(Progress) + Sync),
) -> ExperimentReport {
    let Listing {
        top_n,
        keep_feasible,
        details,
    } = listing;
    let start = Instant::now();
    let ctx = Ctx {
        task,
        factory,
        cancel,
        progress,
    };
    let (rows, rejected, failure, evaluations, workers) = match &task.roles {
        Roles::Agg { worker } => agg_run::run_agg(&ctx, worker),
        Roles::Disagg {
            prefill,
            decode,
            replica,
        } => disagg_run::run_disagg(&ctx, prefill, decode, replica),
    };
    let mut report = base_report(task);
    report.resolved = Some(resolved_settings(task, factory));
    report.rejected = rejected;
    report.engine_evaluations = evaluations;
    if rows.is_empty() {
        report.status = Status::NoResult;
        report.error = Some(failure.unwrap_or_else(|| "no configuration produced a result".into()));
    } else {
        report.pareto = pick::pareto_front(&rows);
        report.top = pick::top_n(&rows, task.tpot, top_n.max(1));
        // Details cost extra engine passes: only for the rows people look at.
        let mut shown: Vec<&mut Row> = report
            .pareto
            .iter_mut()
            .chain(report.top.iter_mut())
            .collect();
        if details {
            shown.par_iter_mut().for_each(|r| {
                r.detail = detail::detail_for(task, r, &workers);
            });
        }
        report.best = report.top.first().cloned();
        report.status = Status::Ok;
        if keep_feasible {
            report.feasible = rows;
        }
    }
    report.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    report
}

fn base_report(task: &Task) -> ExperimentReport {
    let first = task.first_role();
    let decode_system = match &task.roles {
        Roles::Disagg { decode, .. } => Some(decode.system.clone()),
        Roles::Agg { .. } => None,
    };
    ExperimentReport {
        name: task.name.clone(),
        serving_mode: task.serving_mode.name().into(),
        model: first.model.clone(),
        system: first.system.clone(),
        decode_system,
        backend: first.backend.name().into(),
        backend_version: first.backend_version.clone(),
        database_mode: task.database_mode.name().into(),
        isl: task.isl,
        osl: task.osl,
        prefix: task.prefix,
        ttft: task.ttft,
        tpot: task.tpot,
        total_gpus: task.total_gpus,
        ..Default::default()
    }
}

/// The settings a pinned file must repeat that no row column carries.
fn resolved_settings(task: &Task, factory: &dyn WorkerFactory) -> ResolvedSettings {
    let role = |name: &str, kind: RoleKind, r: &crate::exp::Role| ResolvedRole {
        role: name.into(),
        is_moe: factory.is_moe(task, kind),
        gemm_explicit: r.explicit.gemm,
        search: RoleLists {
            num_gpu_per_worker: r.search.num_gpu.clone(),
            tp_list: r.search.tp.clone(),
            pp_list: r.search.pp.clone(),
            dp_list: r.search.dp.clone(),
            moe_tp_list: r.search.moe_tp.clone(),
            moe_ep_list: r.search.moe_ep.clone(),
        },
    };
    let roles = match &task.roles {
        Roles::Agg { worker } => vec![role("worker", RoleKind::Agg, worker)],
        Roles::Disagg {
            prefill, decode, ..
        } => vec![
            role("prefill", RoleKind::Prefill, prefill),
            role("decode", RoleKind::Decode, decode),
        ],
    };
    ResolvedSettings {
        database_mode: task.database_mode.name().into(),
        nextn: task.nextn,
        nextn_accept_rates: task.nextn_accept_rates.clone(),
        moe_backend: task.moe_backend.clone(),
        attention_backend: task.attention_backend.clone(),
        prefill_latency_correction_scale: task.tuning.prefill_latency_correction,
        decode_latency_correction_scale: task.tuning.decode_latency_correction,
        roles,
    }
}

fn progress_fraction(done: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    }
}

type Workers = Vec<(RoleKind, Parallel, BuiltWorker)>;
type Outcome = (Vec<Row>, Vec<Rejection>, Option<String>, u64, Workers);

#[cfg(test)]
mod tests;
