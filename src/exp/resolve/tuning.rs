//! `advanced_tuning_config`: the user's values over the [`Tuning`] defaults.

use crate::exp::schema::RawExp;
use crate::exp::task::Tuning;

pub(super) fn resolve_tuning(raw: &RawExp) -> Tuning {
    let mut t = Tuning::default();
    if let Some(r) = &raw.tuning {
        if let Some(v) = &r.prefill_latency_correction_scale {
            t.prefill_latency_correction = v.v;
        }
        if let Some(v) = &r.decode_latency_correction_scale {
            t.decode_latency_correction = v.v;
        }
        if let Some(v) = &r.prefill_max_batch_size {
            t.prefill_max_batch_size = v.v;
        }
        if let Some(v) = &r.decode_max_batch_size {
            t.decode_max_batch_size = v.v;
        }
    }
    t
}
