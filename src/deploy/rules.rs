//! Sizing rules shared by more than one backend.

/// `v` rounded up to a multiple of `step`.
pub fn round_up(v: u32, step: u32) -> u32 {
    v.div_ceil(step) * step
}

/// CUDA-graph batch sizes of a generating worker: a ladder 1..16 step 1,
/// 16..32 step 4, 32..64 step 8, 64..128 step 16, 128..256 step 32,
/// 256..512 step 64 (each segment inclusive, so its ends repeat), then every
/// batch within ±8 of the worker's own batch. The order and the repeats are
/// the reference's, which the engines accept.
pub fn cuda_graph_ladder(bs: u32) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for (from, to, step) in [
        (1, 16, 1),
        (16, 32, 4),
        (32, 64, 8),
        (64, 128, 16),
        (128, 256, 32),
        (256, 512, 64),
    ] {
        out.extend((from..=to).step_by(step));
    }
    let low = if bs <= 8 { 1 } else { bs - 8 };
    out.extend(low..=bs + 8);
    out
}

/// vLLM and SGLang size the running batch generously: at least 512
/// sequences, twice the row's batch above that (the row's batch is a
/// planning point, not a hard cap).
pub fn generous_max_batch(bs: u32) -> u32 {
    if bs < 512 {
        512
    } else {
        bs * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_up_to_page() {
        assert_eq!(round_up(4500, 32), 4512);
        assert_eq!(round_up(32, 32), 32);
    }

    #[test]
    fn cuda_graph_ladder_then_window_around_batch() {
        let l = cuda_graph_ladder(216);
        assert_eq!(&l[..3], &[1, 2, 3]);
        assert_eq!(l.len(), 41 + 17);
        assert_eq!(&l[41..43], &[208, 209]);
        assert_eq!(l.last(), Some(&224));
        // Small batches start the window at 1.
        let s = cuda_graph_ladder(5);
        assert_eq!(&s[41..], &(1..=13).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn generous_max_batch_floor_512() {
        assert_eq!(generous_max_batch(116), 512);
        assert_eq!(generous_max_batch(600), 1200);
    }
}
