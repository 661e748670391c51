//! Disaggregated serving: separate prefill and decode worker pools, priced
//! statically, then rate-matched into xPyD replicas under each TPOT target.

use super::grid;
use super::pricer::{PriceError, Pricer};
use crate::domain::{Backend, Parallel};
use crate::engine::memory::{Fit, Footprint, MtpScaling, StepShape, WorkerMemory};
use crate::numeric::round_half_even;
use crate::search::control::CancelToken;
use std::collections::{BTreeMap, HashMap};

fn r3(x: f64) -> f64 {
    round_half_even(x, 3)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Prefill,
    Decode,
}

/// Inputs of a worker sweep that do not change across layouts.
#[derive(Clone, Debug)]
pub struct WorkerWorkload {
    pub phase: Phase,
    pub backend: Backend,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    /// Flat latency correction (prefill 1.1, decode 1.08 by default).
    pub correction: f64,
    /// Batches to try (prefill: 1..=max; decode: the decode schedule).
    pub batches: Vec<u32>,
    /// 1 + expected accepted drafts (decode MTP projection).
    pub progress: f64,
}

/// One priced worker at one batch size; rounded like the reference's static rows.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerPoint {
    pub parallel: Parallel,
    pub bs: u32,
    pub global_bs: u32,
    pub gpus: u32,
    /// Prefill: corrected TTFT; decode: 0.
    pub ttft: f64,
    /// Decode: corrected (and MTP-projected) TPOT; prefill: 0.
    pub tpot: f64,
    pub seq_s: f64,
    pub seq_s_gpu: f64,
    pub tokens_s_user: f64,
    pub concurrency: f64,
    pub memory: Footprint,
    /// Corrected phase latency (ms): whole prefill, or whole decode.
    pub phase_ms: f64,
}

#[derive(Clone, Debug, Default)]
pub struct WorkerOutcome {
    pub points: Vec<WorkerPoint>,
    pub first_oom: Option<(u32, Fit)>,
    pub price_errors: Vec<PriceError>,
    pub evaluations: u64,
}

/// Price one worker layout over its batch list; an OOM ends the list.
pub fn sweep_worker(
    pricer: &dyn Pricer,
    mem: &WorkerMemory,
    w: &WorkerWorkload,
    p: Parallel,
    cancel: &CancelToken,
) -> WorkerOutcome {
    let mut out = WorkerOutcome::default();
    for &b in &w.batches {
        if cancel.is_cancelled() {
            break;
        }
        // Memory first: it does not depend on the latency, and the first
        // batch that does not fit ends the list without being priced.
        let fp = match w.phase {
            Phase::Prefill => mem.footprint(&StepShape {
                batch: b,
                num_tokens: 0,
                isl: w.isl,
                osl: 1,
                prefix: w.prefix,
                max_seq_len: None,
                mtp: MtpScaling::Share { decode_tokens: 0 },
            }),
            Phase::Decode => mem.footprint(&StepShape {
                batch: b,
                num_tokens: b as u64,
                isl: w.isl,
                osl: w.osl,
                prefix: w.prefix,
                max_seq_len: None,
                mtp: MtpScaling::Full,
            }),
        };
        let fit = mem.check(&fp, true);
        if fit != Fit::Fits {
            out.first_oom = Some((b, fit));
            break;
        }
        out.evaluations += 1;
        let raw = match w.phase {
            Phase::Prefill => pricer.static_ctx(b),
            Phase::Decode => pricer.static_gen(b),
        };
        let raw = match raw {
            Ok(v) => v,
            Err(e) => {
                out.price_errors.push(e);
                continue;
            }
        };
        let phase_ms = raw * w.correction;
        let global_bs = b * p.dp;
        let pp = p.pp as f64;
        let per_gpu = (p.tp * p.pp * p.dp) as f64;
        let point = match w.phase {
            Phase::Prefill => {
                let ttft = phase_ms;
                let seq_s = if ttft > 0.0 {
                    global_bs as f64 / ttft * 1000.0 * pp
                } else {
                    0.0
                };
                WorkerPoint {
                    parallel: p,
                    bs: b,
                    global_bs,
                    gpus: p.gpus(),
                    ttft: r3(ttft),
                    tpot: 0.0,
                    seq_s: r3(seq_s),
                    seq_s_gpu: r3(seq_s / per_gpu),
                    tokens_s_user: 0.0,
                    concurrency: global_bs as f64,
                    memory: fp,
                    phase_ms,
                }
            }
            Phase::Decode => {
                let steps = w.osl.saturating_sub(1) as f64;
                let raw_tpot = if w.osl > 1 { phase_ms / steps } else { 0.0 };
                let mut tpot = raw_tpot;
                let mut user = r3(if raw_tpot > 0.0 {
                    1000.0 / raw_tpot
                } else {
                    0.0
                });
                let mut rl = tpot * steps;
                let mut seq_s = if rl > 0.0 {
                    global_bs as f64 / rl * 1000.0 * pp
                } else {
                    0.0
                };
                let mut seq_s_gpu = seq_s / per_gpu;
                // The summary is rounded before the MTP projection re-scales it.
                tpot = r3(tpot);
                seq_s = r3(seq_s);
                seq_s_gpu = r3(seq_s_gpu);
                let mut phase = r3(phase_ms);
                if w.progress > 1.0 {
                    tpot /= w.progress;
                    phase /= w.progress;
                    rl = tpot * steps;
                    let _ = rl;
                    seq_s *= w.progress;
                    seq_s_gpu *= w.progress;
                    user *= w.progress;
                }
                WorkerPoint {
                    parallel: p,
                    bs: b,
                    global_bs,
                    gpus: p.gpus(),
                    ttft: 0.0,
                    tpot: r3(tpot),
                    seq_s: r3(seq_s),
                    seq_s_gpu: r3(seq_s_gpu),
                    tokens_s_user: r3(user),
                    concurrency: global_bs as f64,
                    memory: fp,
                    phase_ms: phase,
                }
            }
        };
        out.points.push(point);
    }
    out
}

/// Limits of the xPyD composition.
#[derive(Clone, Debug)]
pub struct MatchLimits {
    pub replica_sizes: Vec<u32>,
    pub max_prefill_workers: u32,
    pub max_decode_workers: u32,
    pub prefill_degradation: f64,
    pub decode_degradation: f64,
    pub ttft_factor: f64,
    /// SGLang pairs only workers of equal attention TP (KV transfer layout)...
    pub require_same_tp: bool,
    /// ...unless either side runs large EP: pure expert parallelism at one of
    /// these EP sizes (prefill, decode).
    pub large_ep_sizes: [Vec<u32>; 2],
}

impl MatchLimits {
    /// Whether this prefill/decode pair may be composed.
    fn pairs(&self, p: &Parallel, d: &Parallel) -> bool {
        let large = |x: &Parallel, eps: &[u32]| x.moe_tp == 1 && eps.contains(&x.moe_ep);
        !self.require_same_tp
            || p.tp == d.tp
            || large(p, &self.large_ep_sizes[0])
            || large(d, &self.large_ep_sizes[1])
    }
}

/// One xPyD replica: x prefill workers and y decode workers.
#[derive(Clone, Debug, PartialEq)]
pub struct DisaggRow {
    pub prefill: WorkerPoint,
    pub decode: WorkerPoint,
    pub prefill_workers: u32,
    pub decode_workers: u32,
    pub num_total_gpus: u32,
    pub seq_s: f64,
    pub seq_s_gpu: f64,
    pub tokens_s: f64,
    pub tokens_s_gpu: f64,
    pub tokens_s_user: f64,
    /// Prefill TTFT × autoscale factor (what the reference reports).
    pub ttft: f64,
    pub tpot: f64,
    pub request_latency: f64,
    pub request_rate: f64,
    pub concurrency: f64,
}

/// Best (x, y) for one prefill/decode pair: the highest degraded rate per GPU
/// among allowed replica sizes; the first maximum in loop order wins.
pub fn match_workers(
    p_seq: f64,
    p_gpus: u32,
    d_seq: f64,
    d_gpus: u32,
    lim: &MatchLimits,
) -> Option<(u32, u32)> {
    let mut best = 0.0;
    let mut found = None;
    for nd in 1..=lim.max_decode_workers {
        for np in 1..=lim.max_prefill_workers {
            let gpus = np * p_gpus + nd * d_gpus;
            if !lim.replica_sizes.contains(&gpus) {
                continue;
            }
            let r = (p_seq * np as f64 * lim.prefill_degradation)
                .min(d_seq * nd as f64 * lim.decode_degradation)
                / gpus as f64;
            if r > best {
                best = r;
                found = Some((np, nd));
            }
        }
    }
    found
}

/// One xPyD replica of `np` prefill and `nd` decode workers; `p.ttft` is
/// taken as reported (the caller applies the autoscale factor).
pub fn compose(
    p: &WorkerPoint,
    np: u32,
    d: &WorkerPoint,
    nd: u32,
    osl: u32,
    lim: &MatchLimits,
) -> DisaggRow {
    let seq_s = (p.seq_s * np as f64 * lim.prefill_degradation)
        .min(d.seq_s * nd as f64 * lim.decode_degradation);
    let gpus = p.gpus * np + d.gpus * nd;
    let tokens_s = seq_s * osl as f64;
    let ttft = p.ttft;
    DisaggRow {
        prefill: p.clone(),
        decode: d.clone(),
        prefill_workers: np,
        decode_workers: nd,
        num_total_gpus: gpus,
        seq_s: r3(seq_s),
        seq_s_gpu: r3(seq_s / gpus as f64),
        tokens_s: r3(tokens_s),
        tokens_s_gpu: r3(tokens_s / gpus as f64),
        tokens_s_user: d.tokens_s_user,
        ttft: r3(ttft),
        tpot: d.tpot,
        request_latency: r3(ttft + d.tpot * osl.saturating_sub(1) as f64),
        request_rate: r3(seq_s),
        concurrency: d.concurrency * nd as f64,
    }
}

/// Rate matching under every TPOT target, pooled and deduplicated, best first.
pub fn rate_match(
    prefill: &[WorkerPoint],
    decode: &[WorkerPoint],
    ttft_target: f64,
    tpot_targets: &[f64],
    osl: u32,
    lim: &MatchLimits,
) -> Vec<DisaggRow> {
    // (prefill key, decode key) → the chosen (prefill, decode) worker counts.
    type MatchKey = (u64, u32, u64, u32);
    let mut memo: HashMap<MatchKey, Option<(u32, u32)>> = HashMap::new();
    // Prefill TTFT as reported: corrected by the autoscale factor, strict filter.
    let mut pool: Vec<WorkerPoint> = prefill
        .iter()
        .map(|p| WorkerPoint {
            ttft: p.ttft * lim.ttft_factor,
            ..p.clone()
        })
        .filter(|p| p.ttft < ttft_target)
        .collect();
    pool.sort_by(|a, b| {
        b.seq_s_gpu
            .total_cmp(&a.seq_s_gpu)
            .then(a.global_bs.cmp(&b.global_bs))
    });
    pool.truncate(32);
    let mut all: Vec<DisaggRow> = Vec::new();
    if pool.is_empty() {
        return all;
    }
    for &t in tpot_targets {
        let mut groups: BTreeMap<String, Vec<&WorkerPoint>> = BTreeMap::new();
        for d in decode.iter().filter(|d| d.tpot > 0.0 && d.tpot < t) {
            groups.entry(d.parallel.to_string()).or_default().push(d);
        }
        let mut bests: Vec<DisaggRow> = Vec::new();
        for (_, mut group) in groups {
            // Ties: the faster decode for users, then the smaller batch.
            group.sort_by(|a, b| {
                b.seq_s_gpu
                    .total_cmp(&a.seq_s_gpu)
                    .then(b.tokens_s_user.total_cmp(&a.tokens_s_user))
                    .then(a.bs.cmp(&b.bs))
            });
            group.truncate(16);
            let mut best: Option<DisaggRow> = None;
            for d in group {
                for p in &pool {
                    if !lim.pairs(&p.parallel, &d.parallel) {
                        continue;
                    }
                    let key = (p.seq_s.to_bits(), p.gpus, d.seq_s.to_bits(), d.gpus);
                    let m = *memo
                        .entry(key)
                        .or_insert_with(|| match_workers(p.seq_s, p.gpus, d.seq_s, d.gpus, lim));
                    let Some((np, nd)) = m else { continue };
                    let row = compose(p, np, d, nd, osl, lim);
                    let better = match &best {
                        None => true,
                        Some(b) => best_first(&row, b) == std::cmp::Ordering::Less,
                    };
                    if better {
                        best = Some(row);
                    }
                }
            }
            bests.extend(best);
        }
        bests.sort_by(best_first);
        bests.truncate(5);
        for row in bests {
            if !all.iter().any(|r| same_row(r, &row)) {
                all.push(row);
            }
        }
    }
    all.sort_by(best_first);
    all
}

/// Best first: tokens/s/gpu, then xpyd's tie rule (higher tokens/s/user,
/// fewer GPUs, smaller decode then prefill batch; see `pick::tie_break`).
fn best_first(a: &DisaggRow, b: &DisaggRow) -> std::cmp::Ordering {
    b.tokens_s_gpu
        .total_cmp(&a.tokens_s_gpu)
        .then(b.tokens_s_user.total_cmp(&a.tokens_s_user))
        .then(a.num_total_gpus.cmp(&b.num_total_gpus))
        .then(a.decode.bs.cmp(&b.decode.bs))
        .then(a.prefill.bs.cmp(&b.prefill.bs))
}

fn same_row(a: &DisaggRow, b: &DisaggRow) -> bool {
    a.prefill.parallel == b.prefill.parallel
        && a.prefill.bs == b.prefill.bs
        && a.decode.parallel == b.decode.parallel
        && a.decode.bs == b.decode.bs
        && a.prefill_workers == b.prefill_workers
        && a.decode_workers == b.decode_workers
}

/// Prefill batches: 1..=prefill_max_batch_size (the reference's token budget / isl).
pub fn prefill_batches(max_batch: u32) -> Vec<u32> {
    (1..=max_batch.max(1)).collect()
}

/// Decode batches: the schedule capped at `decode_max_batch_size`.
pub fn decode_batches(max_batch: u32) -> Vec<u32> {
    grid::decode_batches(max_batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(parallel: Parallel, bs: u32, ttft: f64, tpot: f64, seq_s: f64) -> WorkerPoint {
        WorkerPoint {
            parallel,
            bs,
            global_bs: bs,
            gpus: parallel.gpus(),
            ttft,
            tpot,
            seq_s,
            seq_s_gpu: seq_s / parallel.gpus() as f64,
            tokens_s_user: if tpot > 0.0 { r3(1000.0 / tpot) } else { 0.0 },
            concurrency: bs as f64,
            memory: Footprint::default(),
            phase_ms: 0.0,
        }
    }

    fn limits(total: u32) -> MatchLimits {
        let sizes: Vec<u32> = [1u32, 2, 4, 8]
            .into_iter()
            .chain((16..=128).step_by(8))
            .filter(|&g| g <= total)
            .collect();
        MatchLimits {
            replica_sizes: sizes,
            max_prefill_workers: 32,
            max_decode_workers: 32,
            prefill_degradation: 0.9,
            decode_degradation: 0.92,
            ttft_factor: 1.8,
            require_same_tp: false,
            large_ep_sizes: Default::default(),
        }
    }

    /// The reference's disagg worked example (Qwen3-32B on 16 h100, rank 1):
    /// prefill tp1 2.313 seq/s ×6, decode tp2 b64 2.138 seq/s ×5 → 614.68 tokens/s/gpu.
    #[test]
    fn worked_example_rate_match() {
        let lim = limits(16);
        let p = pt(Parallel::dense(1, 1), 1, 432.41, 0.0, 2.313);
        let d = pt(Parallel::dense(2, 1), 64, 0.0, 29.963, 2.138);
        assert_eq!(match_workers(p.seq_s, 1, d.seq_s, 2, &lim), Some((6, 5)));
        let rows = rate_match(&[p], &[d], 1000.0, &[30.0], 1000, &lim);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.prefill_workers, r.decode_workers, r.num_total_gpus),
            (6, 5, 16)
        );
        assert!(
            (r.tokens_s_gpu - 614.675).abs() < 1e-9,
            "{}",
            r.tokens_s_gpu
        );
        assert!((r.ttft - 778.338).abs() < 1e-9, "{}", r.ttft);
        assert!((r.concurrency - 320.0).abs() < 1e-9);
    }

    /// Prefill-bound xPyD: two decode batches of one layout give the same
    /// tokens/s/gpu; the pick is the one faster for users (then the smaller
    /// batch), whatever order the points come in.
    #[test]
    fn tie_rule_picks_the_faster_decode_batch() {
        let lim = limits(8);
        let p = pt(Parallel::dense(1, 1), 1, 100.0, 0.0, 1.0);
        let fast = pt(Parallel::dense(2, 1), 8, 0.0, 20.0, 10.0);
        let slow = pt(Parallel::dense(2, 1), 16, 0.0, 25.0, 12.0);
        let same = pt(Parallel::dense(2, 1), 12, 0.0, 20.0, 10.0);
        for decode in [
            vec![slow.clone(), fast.clone(), same.clone()],
            vec![same.clone(), fast.clone(), slow.clone()],
            vec![fast.clone(), same.clone(), slow.clone()],
        ] {
            let rows = rate_match(
                std::slice::from_ref(&p),
                &decode,
                1000.0,
                &[30.0],
                100,
                &lim,
            );
            let picked: Vec<(u32, f64, u32, u32)> = rows
                .iter()
                .map(|r| {
                    (
                        r.decode.bs,
                        r.tokens_s_gpu,
                        r.prefill_workers,
                        r.decode_workers,
                    )
                })
                .collect();
            assert_eq!(picked, [(8, 67.5, 6, 1)]);
        }
    }

    /// SGLang pairs equal attention TP only, unless a side runs large EP.
    #[test]
    fn same_tp_rule_exempts_large_ep_pairs() {
        let mut lim = limits(16);
        lim.require_same_tp = true;
        lim.large_ep_sizes = [vec![8], vec![8]];
        let mut wide = Parallel::dense(1, 1);
        wide.dp = 8;
        wide.moe_ep = 8;
        let mut tp2_ep8 = Parallel::dense(2, 1);
        tp2_ep8.dp = 4;
        tp2_ep8.moe_ep = 8;
        let tp2 = Parallel::dense(2, 1);
        assert!(lim.pairs(&wide, &tp2_ep8));
        assert!(lim.pairs(&wide, &tp2));
        assert!(!lim.pairs(&Parallel::dense(1, 1), &tp2));
        lim.large_ep_sizes = Default::default();
        assert!(!lim.pairs(&wide, &tp2_ep8));
        lim.require_same_tp = false;
        assert!(lim.pairs(&wide, &tp2_ep8));
    }

    #[test]
    fn strict_filters_and_replica_limits() {
        let mut lim = limits(16);
        let p = pt(Parallel::dense(1, 1), 1, 500.0, 0.0, 2.0);
        let d = pt(Parallel::dense(2, 1), 64, 0.0, 30.0, 2.0);
        // TPOT must be strictly below the target; TTFT·1.8 strictly below.
        assert!(rate_match(
            std::slice::from_ref(&p),
            std::slice::from_ref(&d),
            1000.0,
            &[30.0],
            1000,
            &lim
        )
        .is_empty());
        assert!(rate_match(
            std::slice::from_ref(&p),
            std::slice::from_ref(&d),
            900.0,
            &[31.0],
            1000,
            &lim
        )
        .is_empty());
        assert_eq!(
            rate_match(
                std::slice::from_ref(&p),
                std::slice::from_ref(&d),
                901.0,
                &[31.0],
                1000,
                &lim
            )
            .len(),
            1
        );
        lim.replica_sizes = vec![2];
        assert_eq!(match_workers(2.0, 1, 2.0, 2, &lim), None);
    }
}
