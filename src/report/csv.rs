//! CSV with exactly the reference's `pareto.csv` / `best_config_topn.csv` columns.

use super::{ExperimentReport, Row, RunReport};

pub const AGG_COLUMNS: &[&str] = &[
    "model",
    "isl",
    "osl",
    "prefix",
    "concurrency",
    "request_rate",
    "bs",
    "global_bs",
    "ttft",
    "tpot",
    "request_latency",
    "encoder_latency",
    "encoder_memory",
    "seq/s",
    "seq/s/gpu",
    "tokens/s",
    "tokens/s/gpu",
    "tokens/s/user",
    "num_total_gpus",
    "tp",
    "pp",
    "dp",
    "moe_tp",
    "moe_ep",
    "cp",
    "parallel",
    "gemm",
    "kvcache",
    "fmha",
    "moe",
    "comm",
    "memory",
    "balance_score",
    "num_ctx_reqs",
    "num_gen_reqs",
    "num_tokens",
    "ctx_tokens",
    "gen_tokens",
    "backend",
    "version",
    "system",
    "power_w",
    "tokens/s/gpu_cluster",
];

pub const DISAGG_COLUMNS: &[&str] = &[
    "model",
    "isl",
    "osl",
    "prefix",
    "concurrency",
    "request_rate",
    "(p)bs",
    "(p)global_bs",
    "(p)workers",
    "(d)bs",
    "(d)global_bs",
    "(d)workers",
    "ttft",
    "tpot",
    "request_latency",
    "encoder_latency",
    "seq/s",
    "seq/s/gpu",
    "tokens/s",
    "tokens/s/gpu",
    "tokens/s/user",
    "(p)seq/s/worker",
    "(d)seq/s/worker",
    "num_total_gpus",
    "(p)tp",
    "(p)pp",
    "(p)dp",
    "(p)moe_tp",
    "(p)moe_ep",
    "(p)cp",
    "(p)parallel",
    "(p)gemm",
    "(p)kvcache",
    "(p)fmha",
    "(p)moe",
    "(p)comm",
    "(p)memory",
    "(p)backend",
    "(p)version",
    "(p)system",
    "(d)tp",
    "(d)pp",
    "(d)dp",
    "(d)moe_tp",
    "(d)moe_ep",
    "(d)parallel",
    "(d)gemm",
    "(d)kvcache",
    "(d)fmha",
    "(d)moe",
    "(d)comm",
    "(d)memory",
    "(d)backend",
    "(d)version",
    "(d)system",
    "(e)workers",
    "(e)tp",
    "(e)pp",
    "(e)bs",
    "(e)parallel",
    "(e)memory",
    "power_w",
    "tokens/s/gpu_cluster",
];

/// Numbers as the reference prints them: integers without a fraction, floats as shortest repr.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// An integer-valued column (batch × workers products).
fn int(x: f64) -> String {
    format!("{}", x.round() as i64)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn agg_fields(e: &ExperimentReport, r: &Row) -> Vec<String> {
    let Some(a) = &r.agg else { return Vec::new() };
    let l = a.layout;
    let replicas = r.replicas.max(1) as f64;
    vec![
        quote(&e.model),
        e.isl.to_string(),
        e.osl.to_string(),
        e.prefix.to_string(),
        int(r.concurrency / replicas),
        num(r.seq_per_s),
        r.bs.unwrap_or(0).to_string(),
        a.global_bs.to_string(),
        num(r.ttft_ms),
        num(r.tpot_ms),
        num(r.request_latency_ms),
        "0".into(),
        num(0.0),
        num(r.seq_per_s),
        num(r.seq_per_s_per_gpu),
        num(r.tokens_per_s),
        num(r.tokens_per_s_per_gpu),
        num(r.tokens_per_s_per_user),
        r.num_total_gpus.to_string(),
        l.tp.to_string(),
        l.pp.to_string(),
        l.dp.to_string(),
        l.moe_tp.to_string(),
        l.moe_ep.to_string(),
        l.cp.to_string(),
        l.to_string(),
        a.gemm.clone(),
        a.kvcache.clone(),
        a.fmha.clone(),
        a.moe.clone(),
        a.comm.clone(),
        num(r.memory_gib),
        num(a.balance_score),
        // The reference computes these with float arithmetic (ceil), so they print as floats.
        num(a.num_ctx_reqs as f64),
        num(a.num_gen_reqs as f64),
        num(a.num_tokens as f64),
        r.ctx_tokens.unwrap_or(0).to_string(),
        num(a.gen_tokens as f64),
        a.backend.clone(),
        a.version.clone(),
        a.system.clone(),
        num(0.0),
        num(r.tokens_per_s_per_gpu_cluster),
    ]
}

fn disagg_fields(e: &ExperimentReport, r: &Row) -> Vec<String> {
    let (Some(p), Some(d)) = (&r.prefill, &r.decode) else {
        return Vec::new();
    };
    let replicas = r.replicas.max(1) as f64;
    let worker = |w: &super::WorkerRow, with_cp: bool| {
        let l = w.layout;
        let mut v = vec![
            l.tp.to_string(),
            l.pp.to_string(),
            l.dp.to_string(),
            l.moe_tp.to_string(),
            l.moe_ep.to_string(),
        ];
        if with_cp {
            v.push(l.cp.to_string());
        }
        v.extend([
            w.parallel.clone(),
            w.gemm.clone(),
            w.kvcache.clone(),
            w.fmha.clone(),
            w.moe.clone(),
            w.comm.clone(),
            num(w.memory_gib),
            w.backend.clone(),
            w.version.clone(),
            w.system.clone(),
        ]);
        v
    };
    let mut v = vec![
        quote(&e.model),
        e.isl.to_string(),
        e.osl.to_string(),
        e.prefix.to_string(),
        int(r.concurrency / replicas),
        num(r.seq_per_s),
        p.bs.to_string(),
        p.global_bs.to_string(),
        p.workers.to_string(),
        d.bs.to_string(),
        d.global_bs.to_string(),
        d.workers.to_string(),
        num(r.ttft_ms),
        num(r.tpot_ms),
        num(r.request_latency_ms),
        num(0.0),
        num(r.seq_per_s),
        num(r.seq_per_s_per_gpu),
        num(r.tokens_per_s),
        num(r.tokens_per_s_per_gpu),
        num(r.tokens_per_s_per_user),
        num(p.seq_per_s_per_worker),
        num(d.seq_per_s_per_worker),
        r.num_total_gpus.to_string(),
    ];
    v.extend(worker(p, true));
    v.extend(worker(d, false));
    v.extend([
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        String::new(),
        num(0.0),
        num(0.0),
    ]);
    v.push(num(r.tokens_per_s_per_gpu_cluster));
    v
}

/// The reference's `--save-dir` CSVs: `DIR/<experiment>/pareto.csv` and
/// `best_config_topn.csv` for every experiment of `rep`.
pub fn write_csvs(rep: &RunReport, dir: &std::path::Path) -> Result<(), String> {
    for e in &rep.experiments {
        let d = dir.join(&e.name);
        std::fs::create_dir_all(&d).map_err(|err| format!("creating {}: {err}", d.display()))?;
        for (name, rows) in [("pareto.csv", &e.pareto), ("best_config_topn.csv", &e.top)] {
            let p = d.join(name);
            std::fs::write(&p, rows_csv(e, rows))
                .map_err(|err| format!("writing {}: {err}", p.display()))?;
        }
    }
    Ok(())
}

/// One CSV document of `rows` in the reference's column order for the experiment's mode.
pub fn rows_csv(e: &ExperimentReport, rows: &[Row]) -> String {
    let disagg = e.serving_mode == "disagg";
    let cols = if disagg { DISAGG_COLUMNS } else { AGG_COLUMNS };
    let mut out = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        let f = if disagg {
            disagg_fields(e, r)
        } else {
            agg_fields(e, r)
        };
        out.push_str(&f.join(","));
        out.push('\n');
    }
    out
}
