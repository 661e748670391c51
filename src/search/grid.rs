//! The fixed sweep grids: TPOT targets, agg and decode batch schedules, agg ctx tokens.

/// `a // b` on floats as Python (and numpy) compute it: from the exact
/// remainder, then snapped to the nearest integer. It can differ from
/// `(a / b).floor()` when the rounded quotient lands on an integer the exact
/// one is just below (352 // 1.1733333333333333 is 299, the rounded 352 / it
/// is 300.0); the sweep's dedup keys and the scheduler's request counts must
/// follow the reference's arithmetic.
pub fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b; // fmod: exact
    let mut div = (a - m) / b;
    if m != 0.0 && (b < 0.0) != (m < 0.0) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0_f64.copysign(a / b);
    }
    let f = div.floor();
    if div - f > 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// TPOT targets (ms) the sweep uses instead of the user's target so the
/// Pareto front covers every latency: 1..19, then 20..295 in steps of 5.
pub fn tpot_grid() -> Vec<f64> {
    (1..20).chain((20..300).step_by(5)).map(f64::from).collect()
}

/// Agg batch sizes up to `max`.
pub fn agg_batches(max: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (1..16).collect();
    v.extend((16..32).step_by(4));
    v.extend((32..64).step_by(8));
    v.extend((64..256).step_by(16));
    v.extend((256..512).step_by(32));
    v.extend([512, 768, 1024]);
    v.retain(|&b| b <= max);
    v
}

/// Decode-worker batch sizes up to `max` (a larger max is appended as is).
pub fn decode_batches(max: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (1..16).collect();
    v.extend((16..32).step_by(2));
    v.extend((32..128).step_by(4));
    v.extend((128..512).step_by(8));
    v.push(512);
    if max > 512 {
        v.push(max);
    } else {
        v.retain(|&b| b <= max);
    }
    v
}

/// Context-token budgets per mixed step (chunked prefill off: multiples of isl).
pub fn agg_ctx_tokens(isl: u32) -> Vec<u32> {
    let isl = isl.max(1) as u64;
    let max_normal: u64 = 8192;
    let max_ctx = max_normal.max(isl * 2);
    let stride = 512u64.max(max_normal / 16);
    let stride_large = 1024u64.max(stride).max(max_ctx / 8);
    let stride = isl.max(stride);
    let stride_large = stride_large.div_ceil(isl) * isl;
    let mut out = Vec::new();
    let mut c = 0u64;
    loop {
        c += if c < max_normal { stride } else { stride_large };
        if c > max_ctx {
            break;
        }
        out.push(c);
    }
    for m in 1..=2 {
        if !out.contains(&(isl * m)) {
            out.push(isl * m);
        }
    }
    out.sort_unstable();
    out.into_iter()
        .map(|v| v.min(u32::MAX as u64) as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn floor_division_is_pythons() {
        use super::py_floordiv;
        // Expected values printed by CPython.
        let cases = [
            (320.0, 1.0666666666666667, 300.0),
            (352.0, 1.1733333333333333, 299.0),
            (1.0, 0.1, 9.0),
            (7.0, 0.7, 10.0),
            (-7.0, 2.0, -4.0),
            (7.0, -2.0, -4.0),
            (0.5, 2.0, 0.0),
            (5.5, 0.5, 11.0),
            (1e16, 3.0, 3333333333333333.0),
        ];
        for (a, b, want) in cases {
            assert_eq!(py_floordiv(a, b), want, "{a} // {b}");
        }
        assert!(py_floordiv(-0.5, 2.0) == -1.0);
    }

    use super::*;

    #[test]
    fn grid_sizes_match_reference() {
        assert_eq!(tpot_grid().len(), 75);
        assert_eq!(agg_batches(512).len(), 44);
        assert_eq!(decode_batches(512).len(), 96);
        assert_eq!(decode_batches(256).last(), Some(&256));
        assert_eq!(decode_batches(1024).last(), Some(&1024));
    }

    #[test]
    fn ctx_lists() {
        assert_eq!(agg_ctx_tokens(4000), vec![4000, 8000]);
        assert_eq!(agg_ctx_tokens(2000), vec![2000, 4000, 6000, 8000]);
        assert_eq!(
            agg_ctx_tokens(1000),
            vec![1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]
        );
        assert_eq!(agg_ctx_tokens(8000), vec![8000, 16000]);
    }
}
