//! Aggregated serving: one worker pool runs prefill and decode in mixed
//! in-flight batches. For each parallel layout, sweep (batch, ctx tokens),
//! price each point with the analytic IFB scheduler, and keep what fits.

use super::grid;
use super::pricer::{PriceError, Pricer};
use crate::domain::{Backend, Parallel};
use crate::engine::memory::{Fit, Footprint, MtpScaling, StepShape, WorkerMemory};
use crate::numeric::round_half_even as r3x;
use crate::search::control::CancelToken;

fn r3(x: f64) -> f64 {
    r3x(x, 3)
}

/// Inputs of one agg sweep that do not change across layouts.
#[derive(Clone, Debug)]
pub struct AggWorkload {
    pub backend: Backend,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub ttft: f64,
    /// Decode tokens committed per iteration: 1 + expected accepted drafts.
    pub progress: f64,
    pub num_layers: u32,
    pub max_batch: u32,
}

/// One priced (batch, ctx) point, rounded to 3 decimals like the reference's rows.
#[derive(Clone, Debug, PartialEq)]
pub struct AggPoint {
    pub parallel: Parallel,
    pub bs: u32,
    pub ctx_tokens: u32,
    pub ttft: f64,
    pub tpot: f64,
    /// Unrounded TTFT/TPOT: the sweep filters on these.
    pub raw_ttft: f64,
    pub raw_tpot: f64,
    pub seq_s: f64,
    pub seq_s_gpu: f64,
    pub tokens_s: f64,
    pub tokens_s_gpu: f64,
    pub tokens_s_user: f64,
    pub request_latency: f64,
    pub request_rate: f64,
    pub concurrency: f64,
    pub global_bs: u32,
    pub memory: Footprint,
    pub mix_step_ms: f64,
    pub genonly_step_ms: f64,
    pub num_mix_steps: f64,
    pub num_genonly_steps: f64,
    pub mix_decode_requests: u32,
    pub queue_factor: f64,
}

/// What sweeping one layout produced.
#[derive(Clone, Debug, Default)]
pub struct AggTupleOutcome {
    pub points: Vec<AggPoint>,
    /// The model fit (weights etc.) at some point.
    pub saw_model_fit: bool,
    /// Model and KV both fit at some point.
    pub saw_memory_fit: bool,
    /// First memory verdict that stopped a batch, for "why not".
    pub first_oom: Option<(u32, Fit)>,
    pub price_errors: Vec<PriceError>,
    pub evaluations: u64,
}

/// Decode requests riding along in a mixed step.
fn mix_gen_requests(backend: Backend, b: u32, ctx: u32, isl: u32, decode_iters: f64) -> u32 {
    let s = ((isl as f64 * b as f64) / ctx as f64).ceil();
    let nctx = (ctx as f64 / isl as f64).ceil();
    if backend != Backend::Vllm && s >= decode_iters {
        return (grid::py_floordiv(b as f64, s / decode_iters) as i64).max(1) as u32;
    }
    ((b as f64 - nctx) as i64).max(1) as u32
}

/// Price one (b, ctx) point. Returns the point and its memory verdict.
pub fn price_point(
    pricer: &dyn Pricer,
    mem: &WorkerMemory,
    w: &AggWorkload,
    p: Parallel,
    b: u32,
    ctx: u32,
) -> Result<(AggPoint, Fit), PriceError> {
    let isl = w.isl;
    let osl = w.osl;
    let progress = w.progress;
    let decode_iters = 1.0 + (osl.saturating_sub(1)) as f64 / progress;
    let steps_ctx = ((isl as f64 * b as f64) / ctx as f64).ceil();
    let drains = matches!(w.backend, Backend::Trtllm | Backend::Sglang);
    let (mix_steps, genonly_steps, genonly_batch, tpot_mix_steps, gen_mix);
    if b > 1 {
        gen_mix = mix_gen_requests(w.backend, b, ctx, isl, decode_iters);
        mix_steps = steps_ctx;
        if steps_ctx >= decode_iters {
            genonly_steps = 0.0;
            genonly_batch = 0;
            tpot_mix_steps = steps_ctx;
        } else {
            genonly_steps = decode_iters - steps_ctx;
            genonly_batch = b;
            tpot_mix_steps = if drains {
                (steps_ctx - 3.0).max(1.0)
            } else {
                steps_ctx
            };
        }
    } else {
        mix_steps = 1.0;
        gen_mix = 0;
        genonly_steps = (decode_iters - 1.0).max(0.0);
        genonly_batch = 1;
        tpot_mix_steps = 0.0;
    }
    let m = pricer.mixed_step(ctx, gen_mix)?;
    let g = if genonly_batch > 0 {
        pricer.genonly_step(genonly_batch)?
    } else {
        0.0
    };

    let queue = match w.backend {
        Backend::Vllm => {
            if b <= 1 {
                1.0
            } else {
                (1.0 + (b as f64).log2() / 8.0).min(2.0)
            }
        }
        _ => (2.0 + (steps_ctx - 3.0) / 2.0 / 10.0).min(4.0),
    };
    let dispatch = if w.backend == Backend::Vllm {
        w.num_layers as f64 * 0.8
    } else {
        0.0
    };
    let ttft = (m * (isl as f64 / ctx as f64).ceil() + dispatch) * queue;
    let tpot_den = tpot_mix_steps + genonly_steps;
    let tpot = if tpot_den > 0.0 {
        (m * tpot_mix_steps + g * genonly_steps) / tpot_den / progress
    } else {
        0.0
    };
    let total = mix_steps * m + genonly_steps * g;
    let gen_tokens = osl.saturating_sub(1) as f64;
    let mut thr = if osl > 1 && total > 0.0 {
        1000.0 / total * b as f64 * gen_tokens
    } else {
        0.0
    };
    if w.backend == Backend::Vllm {
        let rl = ttft + tpot * gen_tokens;
        if rl > 0.0 {
            thr = thr.min(b as f64 * gen_tokens * 1000.0 / rl);
        }
    }
    let scale = (p.pp * p.dp) as f64;
    let out = thr * scale;
    let request_rate = if osl > 1 { out / gen_tokens } else { 0.0 };
    let gpus = (p.pp * p.tp * p.dp * p.cp) as f64;

    // Memory: a mixed step's footprint; b = 1 also has a decode-only phase.
    let nctx = (ctx as f64 / isl as f64).ceil() as u64;
    let gen_reqs = if b == 1 {
        1
    } else {
        (b as u64).saturating_sub(nctx)
    };
    let trt = w.backend == Backend::Trtllm;
    let shape = |num_tokens: u64, mtp: MtpScaling| StepShape {
        batch: b,
        num_tokens: if trt { 8192 } else { num_tokens },
        isl,
        osl,
        prefix: w.prefix,
        max_seq_len: if trt { Some(isl + osl) } else { None },
        mtp: if trt { MtpScaling::Full } else { mtp },
    };
    let mut fp = if b > 1 {
        mem.footprint(&shape(
            gen_reqs + ctx as u64,
            MtpScaling::Share {
                decode_tokens: gen_reqs,
            },
        ))
    } else {
        mem.footprint(&shape(ctx as u64, MtpScaling::Share { decode_tokens: 0 }))
    };
    if b == 1 && osl > 1 {
        let dec = mem.footprint(&shape(gen_reqs, MtpScaling::Full));
        if dec.total > fp.total {
            fp = dec;
        }
    }
    let fit = mem.check(&fp, false);

    let point = AggPoint {
        parallel: p,
        bs: b,
        ctx_tokens: ctx,
        ttft: r3(ttft),
        tpot: r3(tpot),
        raw_ttft: ttft,
        raw_tpot: tpot,
        seq_s: r3(request_rate),
        seq_s_gpu: r3(request_rate / gpus),
        tokens_s: r3(out),
        tokens_s_gpu: r3(out / gpus),
        tokens_s_user: r3(if osl > 1 && tpot > 0.0 {
            1000.0 / tpot
        } else {
            0.0
        }),
        request_latency: r3(ttft + tpot * gen_tokens),
        request_rate: r3(request_rate),
        concurrency: b as f64 * scale,
        global_bs: b * p.dp,
        memory: fp,
        mix_step_ms: m,
        genonly_step_ms: g,
        num_mix_steps: mix_steps,
        num_genonly_steps: genonly_steps,
        mix_decode_requests: gen_mix,
        queue_factor: queue,
    };
    Ok((point, fit))
}

/// Sweep every (batch, ctx) point of one layout, in the reference's order and
/// with its early exits (balance guards, equivalent-slice skips, OOM breaks).
pub fn sweep_tuple(
    pricer: &dyn Pricer,
    mem: &WorkerMemory,
    w: &AggWorkload,
    p: Parallel,
    cancel: &CancelToken,
) -> AggTupleOutcome {
    let mut out = AggTupleOutcome::default();
    let isl = w.isl;
    let dedup = w.progress == 1.0;
    let mut capped: Vec<f64> = Vec::new();
    let ctx_list = grid::agg_ctx_tokens(isl);
    for b in grid::agg_batches(w.max_batch) {
        if cancel.is_cancelled() {
            break;
        }
        for &ctx in &ctx_list {
            let nctx = (ctx as f64 / isl as f64).ceil();
            if (b as f64) - nctx < 0.0 || (b > 1 && (b as f64) - nctx < 1.0) {
                break;
            }
            if dedup {
                let balance = isl as f64 * b as f64 / ctx as f64 / w.osl as f64;
                if balance > 1.0 {
                    let g = grid::py_floordiv(b as f64, balance);
                    if g > 1.0 && capped.contains(&g) {
                        continue;
                    }
                    capped.push(g);
                }
            }
            out.evaluations += 1;
            match price_point(pricer, mem, w, p, b, ctx) {
                Err(e) => out.price_errors.push(e),
                Ok((point, fit)) => {
                    let model_oom = matches!(fit, Fit::Oom { .. });
                    out.saw_model_fit |= !model_oom;
                    out.saw_memory_fit |= fit == Fit::Fits;
                    if fit != Fit::Fits {
                        if out.first_oom.is_none() {
                            out.first_oom = Some((b, fit));
                        }
                        break;
                    }
                    if point.raw_ttft <= w.ttft {
                        out.points.push(point);
                    }
                }
            }
        }
    }
    out
}

/// The reference keeps, per layout and per TPOT target, the 10 best points by
/// seq/s; pooled over targets and deduplicated this is the candidate frame.
pub fn select_rows(points: &[AggPoint], tpot_targets: &[f64]) -> Vec<AggPoint> {
    let mut picked: Vec<usize> = Vec::new();
    for &t in tpot_targets {
        let mut feasible: Vec<usize> = (0..points.len())
            .filter(|&i| points[i].raw_tpot <= t)
            .collect();
        // Ties (xpyd's rule): higher tokens/s/user, then the smaller batch.
        feasible.sort_by(|&a, &b| {
            let (pa, pb) = (&points[a], &points[b]);
            pb.seq_s
                .total_cmp(&pa.seq_s)
                .then(pb.tokens_s_user.total_cmp(&pa.tokens_s_user))
                .then(pa.bs.cmp(&pb.bs))
        });
        for i in feasible.into_iter().take(10) {
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
    }
    picked.into_iter().map(|i| points[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Step costs of the reference's worked example (Qwen3-32B tp4 h100 trtllm).
    struct Worked;
    impl Pricer for Worked {
        fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError> {
            assert_eq!((ctx, gen), (4000, 159));
            Ok(158.66)
        }
        fn genonly_step(&self, b: u32) -> Result<f64, PriceError> {
            assert_eq!(b, 160);
            Ok(28.172)
        }
        fn static_ctx(&self, _: u32) -> Result<f64, PriceError> {
            unreachable!()
        }
        fn static_gen(&self, _: u32) -> Result<f64, PriceError> {
            unreachable!()
        }
    }

    use crate::engine::memory::test_support::qwen32b_tp4 as qwen_mem;

    #[test]
    fn worked_example_scheduler() {
        let w = AggWorkload {
            backend: Backend::Trtllm,
            isl: 4000,
            osl: 1000,
            prefix: 0,
            ttft: 1000.0,
            progress: 1.0,
            num_layers: 64,
            max_batch: 512,
        };
        let (p, fit) =
            price_point(&Worked, &qwen_mem(), &w, Parallel::dense(4, 1), 160, 4000).unwrap();
        assert_eq!(fit, Fit::Fits);
        assert!((p.ttft - 634.64).abs() < 0.01, "{}", p.ttft);
        assert!((p.tpot - 48.72).abs() < 0.01, "{}", p.tpot);
        assert!((p.tokens_s_gpu - 814.68).abs() < 0.05, "{}", p.tokens_s_gpu);
        assert_eq!(p.mix_decode_requests, 159);
    }

    #[test]
    fn keeps_top_ten_per_target() {
        let mk = |i: u32, tpot: f64, seq: f64| AggPoint {
            parallel: Parallel::dense(1, 1),
            bs: i,
            ctx_tokens: 1,
            ttft: 1.0,
            tpot,
            raw_ttft: 1.0,
            raw_tpot: tpot,
            seq_s: seq,
            seq_s_gpu: seq,
            tokens_s: seq,
            tokens_s_gpu: seq,
            tokens_s_user: 1000.0 / tpot,
            request_latency: 0.0,
            request_rate: seq,
            concurrency: 1.0,
            global_bs: i,
            memory: Footprint::default(),
            mix_step_ms: 0.0,
            genonly_step_ms: 0.0,
            num_mix_steps: 0.0,
            num_genonly_steps: 0.0,
            mix_decode_requests: 0,
            queue_factor: 1.0,
        };
        let pts: Vec<AggPoint> = (1..=30).map(|i| mk(i, i as f64, i as f64)).collect();
        let rows = select_rows(&pts, &[5.0, 30.0]);
        // tpot ≤ 5 keeps 5 points; tpot ≤ 30 adds the 10 fastest (21..30).
        assert_eq!(rows.len(), 15);
        assert!(rows.iter().any(|r| r.bs == 30) && rows.iter().any(|r| r.bs == 1));
        assert!(!rows.iter().any(|r| r.bs == 20));
    }
}
