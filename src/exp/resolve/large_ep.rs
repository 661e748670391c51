//! Large expert parallelism: the EP sizes the data covers for each role (the
//! multi-node ladder is the part wider than a node). Whether a layout uses
//! one is `Role::is_large_ep_layout`.

use super::{Ctx, Kind, Targets};
use crate::domain::{Backend, DbMode, MoeQuant, Quant};
use crate::exp::catalog::{ModelFacts, SystemFacts};
use crate::exp::schema::RawWorker;

/// Per role: every covered EP size, and the multi-node ladder (wider than a node).
pub(super) fn ep_coverage(
    cx: &Ctx,
    on: &Targets,
    kinds: &[(Kind, &Option<RawWorker>)],
    quants: &[Option<Quant>],
    backend: Backend,
) -> Vec<(Vec<u32>, Vec<u32>)> {
    kinds
        .iter()
        .zip(quants)
        .map(|((kind, _), q)| {
            let (sys, ver) = on.role(*kind);
            let all = match q {
                Some(q) => large_ep(
                    cx,
                    &on.model,
                    sys,
                    backend,
                    ver,
                    q.moe,
                    kind.runs_generation(),
                ),
                None => Vec::new(),
            };
            let ladder = all
                .iter()
                .copied()
                .filter(|&ep| sys.gpus_per_node > 0 && ep > sys.gpus_per_node)
                .collect();
            (all, ladder)
        })
        .collect()
}

fn large_ep(
    cx: &Ctx,
    model: &ModelFacts,
    sys: &SystemFacts,
    backend: Backend,
    ver: &str,
    moe_quant: MoeQuant,
    runs_generation: bool,
) -> Vec<u32> {
    if !model.is_moe {
        return Vec::new();
    }
    let mode = cx
        .raw
        .database_mode
        .as_ref()
        .map_or(DbMode::Silicon, |s| s.v);
    let mut v = cx.cat.large_ep_sizes(
        model,
        &sys.name,
        backend,
        ver,
        moe_quant,
        runs_generation,
        mode,
    );
    v.sort_unstable();
    v.dedup();
    v
}
