//! The table `xpyd estimate` prints: identity, the configuration, the
//! latency and throughput figures, and with `--breakdown` the memory,
//! scheduler arithmetic and per-op step costs.

use super::estimate::Estimate;
use std::fmt::Write as _;

fn thousands(v: f64) -> String {
    let s = format!("{v:.2}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}.{frac}")
}

/// The table `xpyd estimate` prints.
pub fn render_table(e: &Estimate) -> String {
    let h = &e.header;
    let r = &e.row;
    let mut o = String::new();
    let _ = writeln!(o, "xpyd estimate ({})", e.mode);
    let sys = match &h.decode_system {
        Some(d) => format!("{} (prefill) + {d} (decode)", h.system),
        None => h.system.clone(),
    };
    let _ = writeln!(o, "  model            {}", h.model);
    let _ = writeln!(o, "  system           {sys}");
    let _ = writeln!(
        o,
        "  backend          {} {} ({})",
        h.backend, h.version, h.database_mode
    );
    let mut wl = format!("isl {}, osl {}", h.isl, h.osl);
    if h.prefix > 0 {
        wl.push_str(&format!(", prefix {}", h.prefix));
    }
    if h.nextn > 0 {
        wl.push_str(&format!(
            ", MTP nextn {} ({} accepted/step)",
            h.nextn, h.nextn_accepted
        ));
    }
    let _ = writeln!(o, "  workload         {wl}");
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => {
            let _ = writeln!(
                o,
                "  prefill          {} x{} workers, batch {} ({} GPUs each)",
                crate::deploy::short_parallel(&p.parallel),
                p.workers,
                p.bs,
                p.gpus_per_worker
            );
            let _ = writeln!(
                o,
                "  decode           {} x{} workers, batch {} ({} GPUs each)",
                crate::deploy::short_parallel(&d.parallel),
                d.workers,
                d.bs,
                d.gpus_per_worker
            );
            let _ = writeln!(o, "  GPUs             {}", r.num_total_gpus);
        }
        _ => {
            let _ = writeln!(
                o,
                "  configuration    {} batch {}, {} context tokens per step ({} GPUs)",
                crate::deploy::short_parallel(r.parallel.as_deref().unwrap_or("")),
                r.bs.unwrap_or(0),
                r.ctx_tokens.unwrap_or(0),
                r.num_total_gpus
            );
        }
    }
    let _ = writeln!(o, "  TTFT             {:.3} ms", r.ttft_ms);
    let _ = writeln!(o, "  TPOT             {:.3} ms", r.tpot_ms);
    let _ = writeln!(o, "  request latency  {:.3} ms", r.request_latency_ms);
    let _ = writeln!(o, "  tokens/s         {}", thousands(r.tokens_per_s));
    let _ = writeln!(
        o,
        "  tokens/s/gpu     {}",
        thousands(r.tokens_per_s_per_gpu)
    );
    let _ = writeln!(
        o,
        "  tokens/s/user    {}",
        thousands(r.tokens_per_s_per_user)
    );
    let _ = writeln!(o, "  requests/s       {:.3}", r.seq_per_s);
    let _ = writeln!(o, "  concurrency      {:.0}", r.concurrency);
    match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => {
            let _ = writeln!(
                o,
                "  memory/GPU       prefill {:.3} GiB, decode {:.3} GiB",
                p.memory_gib, d.memory_gib
            );
        }
        _ => {
            let _ = writeln!(o, "  memory/GPU       {:.2} GiB", r.memory_gib);
        }
    }
    if let Some(d) = &r.detail {
        o.push_str(&render_breakdown(d));
    }
    o
}

fn render_breakdown(d: &crate::report::Detail) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\nbreakdown");
    for m in &d.memory {
        let _ = writeln!(
            o,
            "  memory ({}): weights {:.2} + activations {:.2} + KV {:.2} + NCCL {:.2} + other {:.2} = {:.2} of {:.1} GiB",
            m.role, m.weights, m.activations, m.kvcache, m.nccl, m.others, m.total, m.capacity
        );
    }
    if let Some(s) = &d.scheduler {
        let _ = writeln!(
            o,
            "  scheduler: {} mixed steps of {:.3} ms ({} context tokens + {} decode requests), {} gen-only steps of {:.3} ms, TTFT queue factor {:.3}",
            s.num_mix_steps, s.mix_step_ms, s.mix_context_tokens, s.mix_decode_requests, s.num_genonly_steps, s.genonly_step_ms, s.ttft_queue_factor
        );
    }
    if let Some(t) = &d.timing {
        let _ = writeln!(
            o,
            "  TTFT = {:.3} ms engine × {} correction × {} autoscale; TPOT = {:.3} ms ÷ {} steps × {} correction ÷ {} tokens/step",
            t.prefill_engine_ms, t.prefill_correction, t.ttft_autoscale, t.decode_engine_pass_ms, t.decode_steps, t.decode_correction, t.tokens_per_step
        );
    }
    for s in &d.steps {
        let _ = writeln!(o, "  {} — {:.3} ms", s.label, s.total_ms);
        for op in &s.ops {
            let _ = writeln!(o, "    {:<40} {:>10.3} ms  {}", op.name, op.ms, op.source);
        }
    }
    o
}
