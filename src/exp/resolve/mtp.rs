//! Multi-token prediction (`nextn`): the accept rates per draft position and
//! the expected accepted draft tokens per step they fold into.

use super::Ctx;
use crate::exp::diag::Diag;
use crate::exp::schema::Mode;

/// Default MTP accept rates per draft position (reference V1 default).
pub const DEFAULT_ACCEPT_RATES: [f64; 5] = [0.85, 0.3, 0.0, 0.0, 0.0];

/// Expected accepted draft tokens per step: Σ_{i<nextn} Π_{j≤i} p_j (missing positions are 0).
pub fn fold_accept_rates(nextn: u32, rates: &[f64]) -> f64 {
    let mut expectation = 0.0;
    let mut prob = 1.0;
    for i in 0..nextn as usize {
        prob *= rates.get(i).copied().unwrap_or(0.0);
        expectation += prob;
    }
    expectation
}

/// `nextn`, the accept rates in use (the file's, else the defaults; empty when
/// nextn is 0 or the rates are missing in `mode: replace`) and the expected
/// accepted draft tokens per step they fold into.
pub(super) fn resolve_mtp(cx: &mut Ctx, d: &mut Diag) -> (u32, Vec<f64>, f64) {
    let raw = cx.raw;
    let exp = Some(raw.name.as_str());
    let mode = raw.mode.v;
    let nextn = raw.nextn.as_ref().map_or(0, |s| s.v);
    let mut nextn_accepted = 0.0;
    let mut accept_rates = Vec::new();
    if nextn > 0 {
        let rates: Option<Vec<f64>> = match (&raw.nextn_accept_rates, mode) {
            (Some(r), _) => {
                if r.v.len() < nextn as usize {
                    d.warn(
                    exp,
                    "config.nextn_accept_rates",
                    r.pos,
                    format!(
                        "{} accept rate(s) for nextn={nextn}: the missing draft positions count as never accepted",
                        r.v.len()
                    ),
                    None,
                );
                }
                Some(r.v.clone())
            }
            (None, Mode::Replace) => {
                let pos = raw.nextn.as_ref().map_or(raw.pos, |s| s.pos);
                d.err(
                    exp,
                    "config.nextn_accept_rates",
                    pos,
                    format!("mode: replace requires nextn_accept_rates when nextn is {nextn}"),
                    Some("e.g. nextn_accept_rates: [0.85, 0.3, 0, 0, 0]".into()),
                );
                None
            }
            (None, Mode::Patch) => {
                cx.notes.push(format!(
                "nextn={nextn} without nextn_accept_rates: using the default rates {DEFAULT_ACCEPT_RATES:?}"
            ));
                Some(DEFAULT_ACCEPT_RATES.to_vec())
            }
        };
        if let Some(r) = rates {
            nextn_accepted = fold_accept_rates(nextn, &r);
            accept_rates = r;
        }
    } else if let Some(r) = &raw.nextn_accept_rates {
        d.warn(
            exp,
            "config.nextn_accept_rates",
            r.pos,
            "has no effect while nextn is 0",
            Some("set config.nextn to model speculative decoding".into()),
        );
    }
    (nextn, accept_rates, nextn_accepted)
}
