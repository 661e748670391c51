//! Per-role resolution: for each worker role the serving mode uses, its quant
//! modes, large-EP coverage, search space and enumerated layouts; then the
//! roles paired for the serving mode (disagg with its replica sizing).

use super::attention::{regimes, settle_attention};
use super::backends::role_wideep;
use super::defaults::{agg_defaults, disagg_role_defaults};
use super::explain::explain_no_layout;
use super::large_ep::ep_coverage;
use super::quant::{resolve_quant, ResolvedQuant};
use super::replica::resolve_replica;
use super::search::resolve_search;
use super::{Ctx, Kind, Targets};
use crate::domain::{Backend, DbMode, Parallel, ServingMode};
use crate::exp::diag::Diag;
use crate::exp::parallel::enumerate;
use crate::exp::schema::{Mode, RawExp, RawWorker};
use crate::exp::task::{Role, Roles};

/// A resolved role, its enumerated layouts, and whether some layout resolves large EP.
pub(super) type ResolvedRole = (Role, Vec<Parallel>, bool);

/// The worker config of each role the serving mode uses.
pub(super) fn role_workers(raw: &RawExp) -> Vec<(Kind, &Option<RawWorker>)> {
    match raw.serving_mode.v {
        ServingMode::Agg => vec![(Kind::Agg, &raw.worker)],
        ServingMode::Disagg => vec![(Kind::Prefill, &raw.prefill), (Kind::Decode, &raw.decode)],
    }
}

/// Quant modes first: large-EP coverage is keyed on the role's MoE quant mode.
fn role_quants(
    cx: &mut Ctx,
    d: &mut Diag,
    on: &Targets,
    kinds: &[(Kind, &Option<RawWorker>)],
    backend: Backend,
    db: DbMode,
) -> Vec<Option<ResolvedQuant>> {
    let mode = cx.raw.mode.v;
    let mut quants: Vec<Option<ResolvedQuant>> = Vec::new();
    for (kind, w) in kinds.iter() {
        let (sys, ver) = on.role(*kind);
        quants.push(if mode == Mode::Replace && w.is_none() {
            None
        } else {
            resolve_quant(cx, d, *kind, w.as_ref(), sys, backend, ver, &on.model, db)
        });
    }
    quants
}

/// Roles: quant, search lists, layouts. A role with a problem is left out
/// (its problems are in `d`).
pub(super) fn resolve_roles(
    cx: &mut Ctx,
    d: &mut Diag,
    on: &Targets,
    kinds: &[(Kind, &Option<RawWorker>)],
    backend: Backend,
    db: DbMode,
    moe_backend: Option<&str>,
) -> Vec<ResolvedRole> {
    let raw = cx.raw;
    let exp = Some(raw.name.as_str());
    let serving = raw.serving_mode.v;
    let mode = raw.mode.v;
    let total = raw.total_gpus.v;
    let model = &on.model;
    let mut roles: Vec<ResolvedRole> = Vec::new();
    let quants = role_quants(cx, d, on, kinds, backend, db);
    let plain: Vec<_> = quants.iter().map(|q| q.map(|q| q.quant)).collect();
    let coverage = ep_coverage(cx, on, kinds, &plain, backend);
    let disagg_defaults = if serving == ServingMode::Disagg && model.is_moe {
        Some([
            coverage.first().map(|c| c.1.clone()).unwrap_or_default(),
            coverage.get(1).map(|c| c.1.clone()).unwrap_or_default(),
        ])
    } else {
        None
    };
    for (i, (kind, w)) in kinds.iter().enumerate() {
        let (sys, ver) = on.role(*kind);
        if mode == Mode::Replace && w.is_none() {
            d.err(
                exp,
                &format!("config.{}", kind.config_key()),
                raw.pos,
                "mode: replace requires this worker config (only what you define is searched)",
                Some("add it, or use mode: patch to start from the defaults".into()),
            );
            continue;
        }
        let quant = quants.get(i).copied().flatten();
        let (covered, eps) = coverage.get(i).cloned().unwrap_or_default();
        let defaults = match serving {
            ServingMode::Agg => agg_defaults(model, backend, &sys.name, moe_backend, &eps),
            ServingMode::Disagg => {
                let [pe, de] = disagg_defaults.clone().unwrap_or_default();
                let (p, dd) = disagg_role_defaults(
                    model,
                    backend,
                    &on.psys.name,
                    &on.dsys.name,
                    moe_backend,
                    [&pe, &de],
                );
                if i == 0 {
                    p
                } else {
                    dd
                }
            }
        };
        let Some(search) = resolve_search(
            cx,
            d,
            *kind,
            w.as_ref(),
            mode,
            model,
            backend,
            total,
            defaults,
        ) else {
            continue;
        };
        let tuples = enumerate(&search, model.is_moe, backend, moe_backend);
        if tuples.is_empty() {
            explain_no_layout(
                cx,
                d,
                *kind,
                w.as_ref(),
                &search,
                model.is_moe,
                backend,
                moe_backend,
            );
        }
        let Some(mut rq) = quant else { continue };
        let mut role = Role {
            model: raw.model_path.v.clone(),
            system: sys.name.clone(),
            backend,
            backend_version: ver.clone(),
            quant: rq.quant,
            search,
            enable_wideep: role_wideep(raw, w).is_some_and(|f| f.v),
            explicit: rq.explicit,
            architecture: model.architecture.clone(),
            large_ep_sizes: covered,
        };
        let reach = regimes(&tuples, |t| role.is_large_ep_layout(t));
        // The reference widens the replica budget only when the multi-node
        // ladder exists and some enumerated layout actually resolves large EP.
        let large = !eps.is_empty() && reach.large_ep;
        let before = d.errors.len();
        settle_attention(cx, d, *kind, &mut rq, model, sys, backend, ver, db, reach);
        if d.errors.len() > before {
            continue;
        }
        role.quant = rq.quant;
        roles.push((role, tuples, large));
    }
    roles
}

/// The resolved roles as the serving mode pairs them; disagg also sizes the replica.
pub(super) fn assemble_roles(
    cx: &Ctx,
    d: &mut Diag,
    mut roles: Vec<ResolvedRole>,
) -> Option<Roles> {
    let total = cx.raw.total_gpus.v;
    Some(match cx.raw.serving_mode.v {
        ServingMode::Agg => {
            let (worker, _, _) = roles.pop()?;
            Roles::Agg { worker }
        }
        ServingMode::Disagg => {
            let (decode, dt, dl) = roles.pop()?;
            let (prefill, pt, pl) = roles.pop()?;
            let replica = resolve_replica(cx, d, total, pl || dl, &pt, &dt)?;
            Roles::Disagg {
                prefill,
                decode,
                replica,
            }
        }
    })
}
