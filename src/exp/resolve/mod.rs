//! Stage 2 of loading: raw experiment → [`Task`], applying the reference's
//! defaults (patch) or only what the user wrote (replace), and checking names,
//! versions, quant modes and parallel lists against the [`Catalog`].
//!
//! # What `mode: replace` means
//! `patch` merges the experiment with every default the reference applies.
//! `replace` switches off the defaults **of the search space and of
//! quantization**, so the search explores exactly what the file lists:
//! - every worker config the serving mode uses must be present
//!   (`worker_config` for agg; `prefill_worker_config` and
//!   `decode_worker_config` for disagg);
//! - in each, `num_gpu_per_worker` and `tp_list` are required, and for MoE
//!   models also `moe_ep_list`; any other parallel list left out is fixed at
//!   `[1]` (that dimension is not searched; context parallelism is never
//!   swept); no per-family default lists, no gb200/gb300 16-GPU lists and no
//!   large-EP ladder are added;
//! - `gemm_quant_mode`, `kvcache_quant_mode`, `fmha_quant_mode` and, for MoE
//!   models, `moe_quant_mode` are required unless a profile supplies them;
//!   nothing is inferred from the checkpoint and there is no bf16 fallback
//!   (`comm_quant_mode` defaults to `half`, its only practical value);
//! - with `nextn > 0`, `nextn_accept_rates` is required (no default rates).
//!
//! Both modes keep: the workload/SLA defaults (isl, osl, prefix, ttft, tpot),
//! backend/version/database defaults, `replica_config` and
//! `advanced_tuning_config` defaults, clamping GPU counts to `total_gpus`, and
//! hardware rules that describe what actually runs (nvfp4 → nvfp4_wo on
//! pre-Blackwell GPUs).
//!
//! # Where each step lives
//! - `mod.rs`: [`resolve`], the order of the steps; the workload and GPU
//!   budget checks; the systems, versions and model an experiment runs on;
//! - `system.rs`, `model.rs`: catalog look-ups of systems, versions, the model;
//! - `mtp.rs`: `nextn` and its accept rates;
//! - `backends.rs`: `moe_backend`, `attention_backend`, `enable_wideep`;
//! - `roles.rs`: each worker role, then the roles paired for the serving mode;
//! - `quant.rs`: a role's quant modes;
//! - `large_ep.rs`: the EP sizes the data covers, the multi-node ladder;
//! - `defaults.rs`: the default parallel lists (`mode: patch`);
//! - `search.rs`: a role's search space from the user's lists and defaults;
//! - `explain.rs`: why a search space yields no parallel layout;
//! - `replica.rs`: disagg replica sizing;
//! - `tuning.rs`: `advanced_tuning_config`.

mod attention;
mod backends;
mod defaults;
mod explain;
mod large_ep;
mod model;
mod mtp;
mod quant;
mod replica;
mod roles;
mod search;
mod system;
#[cfg(test)]
mod tests;
mod tuning;

pub use mtp::{fold_accept_rates, DEFAULT_ACCEPT_RATES};
pub use replica::default_replica_sizes;
pub use system::canonical_system;

use super::catalog::{Catalog, ModelFacts, SystemFacts};
use super::diag::Diag;
use super::schema::RawExp;
use super::task::{Roles, Task};
use crate::domain::{Backend, DbMode, ServingMode};
use backends::{check_attention_backend, check_moe_backend, warn_wideep};
use model::load_model;
use mtp::resolve_mtp;
use roles::{assemble_roles, resolve_roles, role_workers};
use system::{lookup_system, resolve_version};
use tuning::resolve_tuning;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Agg,
    Prefill,
    Decode,
}

impl Kind {
    fn runs_context(self) -> bool {
        self != Kind::Decode
    }
    fn runs_generation(self) -> bool {
        self != Kind::Prefill
    }
    fn config_key(self) -> &'static str {
        match self {
            Kind::Agg => "worker_config",
            Kind::Prefill => "prefill_worker_config",
            Kind::Decode => "decode_worker_config",
        }
    }
}

struct Ctx<'a> {
    raw: &'a RawExp,
    cat: &'a dyn Catalog,
    notes: Vec<String>,
}

impl Ctx<'_> {
    fn exp(&self) -> Option<&str> {
        Some(self.raw.name.as_str())
    }
}

/// What an experiment runs on, once every look-up succeeded: the prefill (or
/// agg) system and the decode system, their backend versions, and the model.
struct Targets {
    psys: SystemFacts,
    dsys: SystemFacts,
    pver: String,
    dver: String,
    model: ModelFacts,
}

impl Targets {
    /// The system and backend version a role runs on.
    fn role(&self, kind: Kind) -> (&SystemFacts, &String) {
        if kind == Kind::Decode {
            (&self.dsys, &self.dver)
        } else {
            (&self.psys, &self.pver)
        }
    }
}

/// Workload and SLA, defaults applied.
struct Workload {
    isl: u32,
    osl: u32,
    prefix: u32,
    ttft: f64,
    tpot: f64,
}

/// One raw experiment → its [`Task`]; `None` when it has a problem (each
/// problem is reported in `d`).
pub fn resolve(raw: &RawExp, cat: &dyn Catalog, d: &mut Diag) -> Option<Task> {
    let before = d.errors.len();
    let mut cx = Ctx {
        raw,
        cat,
        notes: Vec::new(),
    };
    check_disagg_gpus(&cx, d);
    let workload = resolve_workload(&cx, d);
    let backend = raw.backend_name.as_ref().map_or(Backend::Trtllm, |s| s.v);
    let db = raw.database_mode.as_ref().map_or(DbMode::Silicon, |s| s.v);
    let targets = resolve_targets(&mut cx, d, backend);
    let (nextn, nextn_accept_rates, nextn_accepted) = resolve_mtp(&mut cx, d);
    // Backends for MoE communication and attention.
    let mut moe_backend = check_moe_backend(&cx, d, backend);
    let attention_backend = check_attention_backend(&cx, d);

    // Nothing below can be checked without the system, version and model.
    let targets = targets?;
    warn_context_window(&cx, d, &workload, &targets.model);

    let kinds = role_workers(raw);
    if warn_wideep(&cx, d, &kinds) && moe_backend.is_none() {
        moe_backend = Some("deepep_moe".to_string());
    }
    let roles = resolve_roles(
        &mut cx,
        d,
        &targets,
        &kinds,
        backend,
        db,
        moe_backend.as_deref(),
    );
    if d.errors.len() > before || roles.len() != kinds.len() {
        return None;
    }

    // The tuning block only shapes disagg rate matching (agg ignores it, with a warning).
    let tuning = match raw.serving_mode.v {
        ServingMode::Disagg => resolve_tuning(raw),
        ServingMode::Agg => Default::default(),
    };
    let roles = assemble_roles(&cx, d, roles)?;
    if d.errors.len() > before {
        return None;
    }
    if pver_is_empty(&roles) {
        cx.notes.push(
            "no measured database for this system and backend: the search uses built-in SOL estimates"
                .to_string(),
        );
    }
    Some(Task {
        name: raw.name.clone(),
        serving_mode: raw.serving_mode.v,
        isl: workload.isl,
        osl: workload.osl,
        prefix: workload.prefix,
        ttft: workload.ttft,
        tpot: workload.tpot,
        total_gpus: raw.total_gpus.v,
        database_mode: db,
        nextn,
        nextn_accept_rates,
        nextn_accepted,
        moe_backend,
        attention_backend,
        roles,
        tuning,
        notes: cx.notes,
    })
}

fn check_disagg_gpus(cx: &Ctx, d: &mut Diag) {
    let raw = cx.raw;
    let total = raw.total_gpus.v;
    if raw.serving_mode.v == ServingMode::Disagg && total < 2 {
        d.err(
            cx.exp(),
            "total_gpus",
            raw.total_gpus.pos,
            format!(
                "disagg needs at least 2 GPUs (one prefill and one decode worker), got {total}"
            ),
            None,
        );
    }
}

fn resolve_workload(cx: &Ctx, d: &mut Diag) -> Workload {
    let raw = cx.raw;
    let exp = cx.exp();
    let isl = raw.isl.as_ref().map_or(4000, |s| s.v);
    let osl = raw.osl.as_ref().map_or(1000, |s| s.v);
    let prefix = raw.prefix.as_ref().map_or(0, |s| s.v);
    if let Some(p) = &raw.prefix {
        if prefix >= isl {
            d.err(
                exp,
                "prefix",
                p.pos,
                format!("prefix ({prefix}) must be smaller than isl ({isl})"),
                Some("the prefix is the cached part of the input".into()),
            );
        }
    }
    let ttft = raw.ttft.as_ref().map_or(1000.0, |s| s.v);
    let tpot = raw.tpot.as_ref().map_or(50.0, |s| s.v);
    Workload {
        isl,
        osl,
        prefix,
        ttft,
        tpot,
    }
}

/// A workload longer than the model's context window still runs (the
/// reference prices it as well), but no real server would accept it as is.
fn warn_context_window(cx: &Ctx, d: &mut Diag, w: &Workload, model: &ModelFacts) {
    let total = u64::from(w.isl) + u64::from(w.osl);
    if model.max_position == 0 || total <= model.max_position {
        return;
    }
    let raw = cx.raw;
    let (key, pos) = match (&raw.isl, &raw.osl) {
        (Some(i), _) => ("isl", i.pos),
        (None, Some(o)) => ("osl", o.pos),
        (None, None) => ("", raw.pos),
    };
    d.warn(
        cx.exp(),
        key,
        pos,
        format!(
            "isl + osl = {total} tokens exceeds {}'s context window (max_position_embeddings {}); the estimate still runs, but a server would reject or truncate such requests",
            model.id, model.max_position
        ),
        Some("shorten isl or osl".into()),
    );
}

/// Systems, versions and the model; `None` unless every one was found (each
/// problem is reported).
fn resolve_targets(cx: &mut Ctx, d: &mut Diag, backend: Backend) -> Option<Targets> {
    let raw = cx.raw;
    let serving = raw.serving_mode.v;
    let psys = lookup_system(cx, d, "system_name", &raw.system_name);
    let dsys = match (&raw.decode_system_name, serving) {
        (Some(ds), ServingMode::Disagg) => lookup_system(cx, d, "decode_system_name", ds),
        _ => psys.clone(),
    };
    let pver = psys
        .as_ref()
        .and_then(|s| resolve_version(cx, d, s, backend));
    let dver = match (serving, &dsys, &psys) {
        // One system: one answer (and one error, not two).
        (ServingMode::Disagg, Some(ds), Some(ps)) if ds.name != ps.name => {
            resolve_version(cx, d, ds, backend)
        }
        _ => pver.clone(),
    };
    let model = load_model(cx, d);
    Some(Targets {
        psys: psys?,
        dsys: dsys?,
        pver: pver?,
        dver: dver?,
        model: model?,
    })
}

fn pver_is_empty(roles: &Roles) -> bool {
    match roles {
        Roles::Agg { worker } => worker.backend_version.is_empty(),
        Roles::Disagg {
            prefill, decode, ..
        } => prefill.backend_version.is_empty() || decode.backend_version.is_empty(),
    }
}
