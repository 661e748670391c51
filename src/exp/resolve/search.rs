//! One role's search space: the parallel lists the user wrote, else the
//! defaults (patch) or `[1]` (replace), with the dense-model and GPU-budget
//! checks.

use super::defaults::Lists;
use super::{Ctx, Kind};
use crate::domain::Backend;
use crate::exp::catalog::ModelFacts;
use crate::exp::diag::Diag;
use crate::exp::schema::{Mode, RawWorker, DP, LIST_KEYS, MOE_EP, MOE_TP, NUM_GPU, TP};
use crate::exp::task::SearchSpace;
use crate::exp::yaml::clip;

#[allow(clippy::too_many_arguments)]
pub(super) fn resolve_search(
    cx: &Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    mode: Mode,
    model: &ModelFacts,
    backend: Backend,
    total: u32,
    defaults: Lists,
) -> Option<SearchSpace> {
    let exp = cx.exp();
    let base = format!("config.{}", kind.config_key());
    let user = |i: usize| w.and_then(|w| w.lists[i].as_ref());
    let mut ok = true;

    if !model.is_moe {
        for i in [DP, MOE_TP, MOE_EP] {
            if let Some(l) = user(i) {
                // The reference ignores these lists for dense models; so does
                // xpyd (they are fixed at 1 below), and says so.
                if l.v.iter().any(|&v| v != 1) {
                    d.warn(
                        exp,
                        &format!("{base}.{}", LIST_KEYS[i]),
                        l.pos,
                        format!(
                            "ignored: {} is a dense model (attention DP and MoE parallelism apply to MoE models); searched as [1]",
                            clip(&model.id)
                        ),
                        Some("remove it or use [1]".into()),
                    );
                }
            }
        }
    }

    let (defs, cp_def) = defaults;
    let mut lists: [Vec<u32>; 6] = Default::default();
    for i in 0..6 {
        lists[i] = match (user(i), mode) {
            (Some(l), _) => l.v.clone(),
            (None, Mode::Patch) => defs[i].clone(),
            (None, Mode::Replace) => {
                let required = i == NUM_GPU || i == TP || (model.is_moe && i == MOE_EP);
                if required {
                    d.err(
                        exp,
                        &format!("{base}.{}", LIST_KEYS[i]),
                        w.map_or(cx.raw.pos, |w| w.pos),
                        "mode: replace requires this list (only what you define is searched)",
                        Some("add it, or use mode: patch to start from the defaults".into()),
                    );
                    ok = false;
                }
                vec![1]
            }
        };
    }
    let cp = if mode == Mode::Replace {
        vec![1]
    } else {
        cp_def
    };

    // Workers larger than the whole budget can never be placed.
    let num_gpu: Vec<u32> = lists[NUM_GPU]
        .iter()
        .copied()
        .filter(|&n| n <= total)
        .collect();
    if let Some(l) = user(NUM_GPU) {
        let dropped: Vec<String> =
            l.v.iter()
                .filter(|&&n| n > total)
                .map(u32::to_string)
                .collect();
        if num_gpu.is_empty() {
            d.err(
                exp,
                &format!("{base}.num_gpu_per_worker"),
                l.pos,
                format!("every value exceeds total_gpus ({total})"),
                Some("lower num_gpu_per_worker or raise total_gpus".into()),
            );
            ok = false;
        } else if !dropped.is_empty() {
            d.warn(
                exp,
                &format!("{base}.num_gpu_per_worker"),
                l.pos,
                format!(
                    "values above total_gpus ({total}) are not searched: {}",
                    dropped.join(", ")
                ),
                None,
            );
        }
    }
    lists[NUM_GPU] = num_gpu;
    if !ok {
        return None;
    }
    if !model.is_moe {
        for i in [DP, MOE_TP, MOE_EP] {
            lists[i] = vec![1];
        }
    }
    let [num_gpu, tp, pp, dp, moe_tp, moe_ep] = lists;
    let _ = backend;
    Some(SearchSpace {
        num_gpu,
        tp,
        pp,
        dp,
        moe_tp,
        moe_ep,
        cp,
    })
}
