//! The diagnostic for a role whose search space yields no parallel layout:
//! which constraint rules every combination out.

use super::{Ctx, Kind};
use crate::domain::Backend;
use crate::exp::diag::Diag;
use crate::exp::schema::RawWorker;
use crate::exp::task::SearchSpace;

/// Say which constraint leaves a role with no parallel layout.
#[allow(clippy::too_many_arguments)]
pub(super) fn explain_no_layout(
    cx: &Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    s: &SearchSpace,
    is_moe: bool,
    backend: Backend,
    moe_backend: Option<&str>,
) {
    let base = format!("config.{}", kind.config_key());
    let pos = w.map_or(cx.raw.pos, |w| w.pos);
    let fmt = |v: &[u32]| {
        format!(
            "[{}]",
            v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        )
    };
    let cp: &[u32] = if backend == Backend::Sglang {
        &s.cp
    } else {
        &[1]
    };
    let prod =
        |a: u32, b: u32, c: u32, e: u32| u64::from(a) * u64::from(b) * u64::from(c) * u64::from(e);
    let in_gpu = |n: u64| s.num_gpu.iter().any(|&g| u64::from(g) == n);
    let msg = if !is_moe {
        format!(
            "no parallel layout: no tp×pp product is in num_gpu_per_worker {} (tp_list {}, pp_list {})",
            fmt(&s.num_gpu),
            fmt(&s.tp),
            fmt(&s.pp)
        )
    } else {
        let mut gpu_ok = false;
        let mut width_ok = false;
        for &tp in &s.tp {
            for &pp in &s.pp {
                for &dp in &s.dp {
                    for &c in cp {
                        if in_gpu(prod(tp, pp, dp, c)) {
                            gpu_ok = true;
                            let w = prod(tp, dp, c, 1);
                            if s.moe_tp.iter().any(|&a| {
                                s.moe_ep.iter().any(|&b| u64::from(a) * u64::from(b) == w)
                            }) {
                                width_ok = true;
                            }
                        }
                    }
                }
            }
        }
        if !gpu_ok {
            format!(
                "no parallel layout: no tp×pp×dp product is in num_gpu_per_worker {} (tp_list {}, pp_list {}, dp_list {})",
                fmt(&s.num_gpu),
                fmt(&s.tp),
                fmt(&s.pp),
                fmt(&s.dp)
            )
        } else if !width_ok {
            format!(
                "no parallel layout: tp×dp never equals moe_tp×moe_ep for a worker size in num_gpu_per_worker (tp_list {}, dp_list {}, moe_tp_list {}, moe_ep_list {})",
                fmt(&s.tp),
                fmt(&s.dp),
                fmt(&s.moe_tp),
                fmt(&s.moe_ep)
            )
        } else {
            let rule = match backend {
                Backend::Trtllm => "trtllm cannot combine attention tp > 1 with dp > 1",
                Backend::Vllm => "vllm cannot combine moe_tp > 1 with moe_ep > 1",
                Backend::Sglang if moe_backend == Some("megamoe") => "megamoe needs moe_tp 1",
                Backend::Sglang => "the sglang layout rules reject every combination",
            };
            format!("no parallel layout: every combination is rejected because {rule}")
        }
    };
    d.err(cx.exp(), &base, pos, msg, None);
}
