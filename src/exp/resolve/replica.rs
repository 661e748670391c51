//! Disagg replica sizing: the allowed replica sizes and caps, and the check
//! that some xPyD combination of the enumerated workers fits one of them.

use super::Ctx;
use crate::domain::Parallel;
use crate::exp::diag::Diag;
use crate::exp::task::ReplicaConfig;

/// Bitset of GPU counts `x·p + y·d` (≤ `cap`) reachable with 1 ≤ x ≤ `max_p` prefill
/// workers of one size in `psz` and 1 ≤ y ≤ `max_d` decode workers of one size in `dsz`.
pub(super) fn replica_sums(psz: &[u32], max_p: u32, dsz: &[u32], max_d: u32, cap: u32) -> Vec<u64> {
    let words = cap as usize / 64 + 1;
    let multiples = |sizes: &[u32], most: u32| {
        let mut bits = vec![0u64; words];
        for &g in sizes {
            for k in 1..=u64::from(most) {
                let s = k * u64::from(g);
                if s > u64::from(cap) {
                    break;
                }
                bits[s as usize / 64] |= 1 << (s % 64);
            }
        }
        bits
    };
    let pbits = multiples(psz, max_p);
    let dbits = multiples(dsz, max_d);
    let mut reach = vec![0u64; words];
    // Shift-or the decode sums by every prefill sum: O(#prefill sums × cap/64).
    for a in 1..=cap as usize {
        if pbits[a / 64] >> (a % 64) & 1 == 0 {
            continue;
        }
        let (ws, bs) = (a / 64, (a % 64) as u32);
        for i in (ws..words).rev() {
            let lo = dbits[i - ws] << bs;
            let hi = if bs > 0 && i > ws {
                dbits[i - ws - 1] >> (64 - bs)
            } else {
                0
            };
            reach[i] |= lo | hi;
        }
    }
    reach
}

/// Default allowed replica sizes: 1, 2, 4, 8, then 16..=128 in steps of 8.
pub fn default_replica_sizes() -> Vec<u32> {
    let mut v = vec![1, 2, 4, 8];
    v.extend((16..=128).step_by(8));
    v
}

pub(super) fn resolve_replica(
    cx: &Ctx,
    d: &mut Diag,
    total: u32,
    large_ep: bool,
    prefill: &[Parallel],
    decode: &[Parallel],
) -> Option<ReplicaConfig> {
    let exp = cx.exp();
    let r = cx.raw.replica.as_ref();
    let user_list = r.and_then(|r| r.num_gpu_per_replica.as_ref());
    let user_max = r.and_then(|r| r.max_gpu_per_replica.as_ref());
    // With large-EP layouts the reference widens the cap to 512 and allows every size.
    let default_max = if large_ep { 512 } else { 128 };
    let max = match user_max.map(|m| m.v) {
        // 0 = no cap (documented in the seed); the budget still applies.
        Some(0) => total,
        Some(m) => m.min(total),
        None => default_max.min(total),
    };
    let sizes: Vec<u32> = match user_list {
        Some(l) => l.v.iter().copied().filter(|&n| n <= max).collect(),
        None if large_ep => (1..=max).collect(),
        None => default_replica_sizes()
            .into_iter()
            .filter(|&n| n <= max)
            .collect(),
    };
    let max_p = r
        .and_then(|r| r.max_prefill_worker.as_ref())
        .map_or(32, |v| v.v);
    let max_d = r
        .and_then(|r| r.max_decode_worker.as_ref())
        .map_or(32, |v| v.v);
    let pos = r.map_or(cx.raw.pos, |r| r.pos);

    if sizes.is_empty() {
        let at = user_list.map_or(pos, |l| l.pos);
        d.err(
            exp,
            "config.replica_config.num_gpu_per_replica",
            at,
            format!("no replica size is within the cap of {max} GPUs (max_gpu_per_replica and total_gpus)"),
            None,
        );
        return None;
    }

    // Is there any xPyD (x ≤ max_p prefill workers, y ≤ max_d decode workers,
    // each pool homogeneous) whose GPU count is an allowed replica size?
    let mut psz: Vec<u32> = prefill.iter().map(Parallel::gpus).collect();
    let mut dsz: Vec<u32> = decode.iter().map(Parallel::gpus).collect();
    psz.sort_unstable();
    psz.dedup();
    dsz.sort_unstable();
    dsz.dedup();
    if psz.is_empty() || dsz.is_empty() {
        // Already reported as "no parallel layout".
        return None;
    }
    let reach = replica_sums(&psz, max_p, &dsz, max_d, max);
    let feasible = sizes.iter().any(|&n| {
        reach
            .get(n as usize / 64)
            .is_some_and(|w| w >> (n % 64) & 1 == 1)
    });
    if !feasible {
        let smallest = u64::from(psz[0]) + u64::from(dsz[0]);
        let list = sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        d.err(
            exp,
            "config.replica_config",
            pos,
            format!(
                "no xPyD replica fits: the smallest prefill+decode pair needs {smallest} GPUs, allowed replica sizes are [{list}] (cap {max}, at most {max_p} prefill and {max_d} decode workers)"
            ),
            Some("raise max_gpu_per_replica or num_gpu_per_replica, or allow smaller workers".into()),
        );
        return None;
    }
    Some(ReplicaConfig {
        num_gpu_per_replica: sizes,
        max_gpu_per_replica: max,
        max_prefill_workers: max_p,
        max_decode_workers: max_d,
    })
}
