//! The default parallel lists of the search space (`mode: patch`): per serving
//! mode, model class, backend and system, widened by the large-EP ladder
//! where the data covers it, and the context-parallel default.

use crate::domain::Backend;
use crate::exp::catalog::{Family, ModelFacts};
use crate::exp::schema::{DP, MOE_EP, NUM_GPU};

/// Default lists in `LIST_KEYS` order plus cp.
pub(super) type Lists = ([Vec<u32>; 6], Vec<u32>);

const X4: [u32; 4] = [1, 2, 4, 8];
const X5: [u32; 5] = [1, 2, 4, 8, 16];

fn is_gb(system: &str) -> bool {
    matches!(system, "gb200" | "gb300")
}

/// Context parallelism is swept only where the model class supports it (sglang).
fn cp_default(model: &ModelFacts, backend: Backend) -> Vec<u32> {
    match (backend, model.family) {
        (Backend::Sglang, Family::Llama | Family::Moe | Family::Deepseek) => X4.to_vec(),
        _ => vec![1],
    }
}

fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

pub(super) fn agg_defaults(
    model: &ModelFacts,
    backend: Backend,
    system: &str,
    moe_backend: Option<&str>,
    eps: &[u32],
) -> Lists {
    let cp = cp_default(model, backend);
    if !model.is_moe {
        let wide: Vec<u32> = if is_gb(system) {
            X5.to_vec()
        } else {
            X4.to_vec()
        };
        return ([wide.clone(), wide, vec![1], vec![1], vec![1], vec![1]], cp);
    }
    let x = X5.to_vec();
    let moe_tp = if backend == Backend::Sglang && moe_backend == Some("deepep_moe") {
        vec![1]
    } else {
        x.clone()
    };
    let fused = [x.clone(), x.clone(), vec![1], x.clone(), moe_tp, x];
    if eps.is_empty() {
        return (fused, cp);
    }
    let ladder: [Vec<u32>; 6] = match backend {
        Backend::Trtllm => [
            vec![2, 4, 8, 16, 32, 64],
            X4.to_vec(),
            vec![1],
            vec![2, 4, 8, 16, 32, 64],
            vec![1],
            vec![2, 4, 8, 16, 32, 64],
        ],
        Backend::Sglang => [
            vec![8, 16, 32, 64],
            X4.to_vec(),
            vec![1],
            vec![1, 2, 4, 8, 16, 32, 64],
            vec![1],
            vec![8, 16, 32, 64],
        ],
        Backend::Vllm => [
            eps.to_vec(),
            vec![1],
            vec![1],
            eps.to_vec(),
            vec![1],
            eps.to_vec(),
        ],
    };
    let merged = std::array::from_fn(|i| union(&fused[i], &ladder[i]));
    (merged, cp)
}

/// The reference's disagg list builder for (prefill, decode), without cp.
fn disagg_lists(
    backend: Backend,
    is_moe: bool,
    psys: &str,
    dsys: &str,
    wide: bool,
    moe_backend: Option<&str>,
) -> ([Vec<u32>; 6], [Vec<u32>; 6]) {
    let one = || vec![1u32];
    if !is_moe {
        let role = |sys: &str| {
            let x: Vec<u32> = if is_gb(sys) { X5.to_vec() } else { X4.to_vec() };
            [x.clone(), x, one(), one(), one(), one()]
        };
        return (role(psys), role(dsys));
    }
    let x = X5.to_vec();
    let fused = [x.clone(), x.clone(), one(), x.clone(), x.clone(), x.clone()];
    match backend {
        Backend::Trtllm => {
            let p = if wide {
                [
                    vec![4, 8, 16, 32],
                    X4.to_vec(),
                    one(),
                    vec![4, 8, 16, 32],
                    one(),
                    vec![4, 8, 16, 32],
                ]
            } else {
                fused.clone()
            };
            let d = if wide {
                [
                    vec![4, 8, 16, 32, 64],
                    X4.to_vec(),
                    one(),
                    vec![4, 8, 16, 32, 64],
                    one(),
                    vec![4, 8, 16, 32, 64],
                ]
            } else {
                fused
            };
            (p, d)
        }
        Backend::Sglang => {
            if wide {
                (
                    [
                        vec![8, 16, 32],
                        X4.to_vec(),
                        one(),
                        vec![1, 2, 4, 8, 16, 32],
                        one(),
                        vec![8, 16, 32],
                    ],
                    [
                        vec![8, 16, 32, 64],
                        X4.to_vec(),
                        one(),
                        vec![1, 2, 4, 8, 16, 32, 64],
                        one(),
                        vec![8, 16, 32, 64],
                    ],
                )
            } else if moe_backend == Some("deepep_moe") {
                let r = [x.clone(), x.clone(), one(), x.clone(), one(), x];
                (r.clone(), r)
            } else {
                (fused.clone(), fused)
            }
        }
        Backend::Vllm => (fused.clone(), fused),
    }
}

pub(super) fn disagg_role_defaults(
    model: &ModelFacts,
    backend: Backend,
    psys: &str,
    dsys: &str,
    moe_backend: Option<&str>,
    eps: [&Vec<u32>; 2],
) -> (Lists, Lists) {
    let (mut p, mut d) = disagg_lists(backend, model.is_moe, psys, dsys, false, moe_backend);
    if model.is_moe && (!eps[0].is_empty() || !eps[1].is_empty()) {
        let (wp, wd) = disagg_lists(backend, true, psys, dsys, true, moe_backend);
        for (lists, wide, e) in [(&mut p, wp, eps[0]), (&mut d, wd, eps[1])] {
            if e.is_empty() {
                continue;
            }
            for i in 0..6 {
                lists[i] = union(&lists[i], &wide[i]);
            }
            if backend == Backend::Vllm {
                for i in [NUM_GPU, DP, MOE_EP] {
                    lists[i] = union(&lists[i], e);
                }
            }
        }
    }
    ((p, cp_default(model, backend)), (d, vec![1]))
}
