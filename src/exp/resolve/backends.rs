//! The MoE communication and attention backends an experiment names, and the
//! deprecated `enable_wideep` flag (which implies `deepep_moe`).

use super::{Ctx, Kind};
use crate::domain::Backend;
use crate::exp::diag::Diag;
use crate::exp::schema::{RawExp, RawWorker, Sp};
use crate::exp::suggest::did_you_mean;
use crate::exp::yaml::clip;

const MOE_BACKENDS: &[&str] = &["deepep_moe", "megamoe"];
const ATTENTION_BACKENDS: &[&str] = &[
    "fa3",
    "triton",
    "trtllm_mha",
    "flashinfer",
    "fla",
    "default",
];

/// `moe_backend`: checked against the known names; `None` when unset or wrong.
pub(super) fn check_moe_backend(cx: &Ctx, d: &mut Diag, backend: Backend) -> Option<String> {
    let exp = cx.exp();
    let raw = cx.raw;
    let mut moe_backend = None;
    if let Some(m) = &raw.moe_backend {
        match m.v.as_str() {
        "deepep_moe" => {
            if backend != Backend::Sglang {
                d.warn(
                    exp,
                    "config.moe_backend",
                    m.pos,
                    "deepep_moe has an effect only with backend_name: sglang",
                    None,
                );
            }
            moe_backend = Some(m.v.clone());
        }
        "megamoe" => d.err(
            exp,
            "config.moe_backend",
            m.pos,
            "megamoe is supported only for DeepSeek-V4 models on Blackwell, which xpyd does not model",
            None,
        ),
        other => {
            let hint = match did_you_mean(other, MOE_BACKENDS.iter().copied()) {
                Some(h) => format!("{h} allowed: {}, or null", MOE_BACKENDS.join(", ")),
                None => format!("allowed: {}, or null", MOE_BACKENDS.join(", ")),
            };
            d.err(
                exp,
                "config.moe_backend",
                m.pos,
                format!("unknown moe_backend '{}'", clip(other)),
                Some(hint),
            )
        }
    }
    }
    moe_backend
}

/// `attention_backend`: checked against the known names; `None` when unset or wrong.
pub(super) fn check_attention_backend(cx: &Ctx, d: &mut Diag) -> Option<String> {
    let exp = cx.exp();
    let raw = cx.raw;
    let mut attention_backend = None;
    if let Some(a) = &raw.attention_backend {
        if ATTENTION_BACKENDS.contains(&a.v.as_str()) {
            attention_backend = Some(a.v.clone());
        } else {
            let hint = match did_you_mean(&a.v, ATTENTION_BACKENDS.iter().copied()) {
                Some(h) => format!("{h} allowed: {}", ATTENTION_BACKENDS.join(", ")),
                None => format!("allowed: {}", ATTENTION_BACKENDS.join(", ")),
            };
            d.err(
                exp,
                "config.attention_backend",
                a.pos,
                format!("unknown attention_backend '{}'", clip(&a.v)),
                Some(hint),
            );
        }
    }
    attention_backend
}

/// A role's `enable_wideep`: its worker config's, else the experiment's.
pub(super) fn role_wideep(raw: &RawExp, w: &Option<RawWorker>) -> Option<Sp<bool>> {
    w.as_ref()
        .and_then(|w| w.enable_wideep.clone())
        .or_else(|| raw.enable_wideep.clone())
}

/// enable_wideep: deprecated flag; on sglang it selects the EP-only MoE lists.
/// Warns once; true when some role turns it on.
pub(super) fn warn_wideep(cx: &Ctx, d: &mut Diag, kinds: &[(Kind, &Option<RawWorker>)]) -> bool {
    let mut any_wide = false;
    for (_, w) in kinds {
        if let Some(f) = role_wideep(cx.raw, w) {
            if f.v && !any_wide {
                any_wide = true;
                d.warn(
                    cx.exp(),
                    "enable_wideep",
                    f.pos,
                    "enable_wideep is deprecated: large expert parallelism is explored from data coverage",
                    Some("restrict EP sizes with moe_ep_list instead".into()),
                );
            }
        }
    }
    any_wide
}
