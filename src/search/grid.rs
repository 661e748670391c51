//! The fixed sweep grids: TPOT targets, agg and decode batch schedules, agg ctx tokens.

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
