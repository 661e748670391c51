//! The pinned exp YAML of one row.
//!
//! Everything that decides a row is written out, so a rerun of the file
//! answers the same layout, batch, worker counts, tokens/s/gpu, TTFT and TPOT:
//!
//! - backend, version, database mode, systems, model, GPU budget, workload
//!   and SLA exactly as resolved (the SLA is part of the row: the rerun picks
//!   the best point under the same TPOT target, as the original did);
//! - every quant mode the row ran with, per role (sglang's wide-EP layouts of
//!   DeepSeek switch attention and KV modes per layout: the row's modes are
//!   the ones written). gemm is the one exception: an inferred gemm stays
//!   inferred, because naming it also quantizes the layers a checkpoint keeps
//!   in bfloat16 (DeepSeek's shared expert), which would change the row;
//! - `nextn`, the accept rates, `moe_backend` and `attention_backend`;
//! - one-element lists for every parallel dimension of each role, with
//!   `num_gpu_per_worker` = tp·pp·dp·cp so the (not writable) context
//!   parallelism is the row's too;
//! - disagg: the replica size and the worker counts as caps. With one prefill
//!   and one decode layout, x·P + y·D = N with x ≤ X and y ≤ Y has the single
//!   solution (X, Y). The batch lists are capped at the row's batches
//!   (`prefill_max_batch_size`, `decode_max_batch_size`), and the latency
//!   corrections are repeated;
//! - agg: nothing in the schema restricts the agg batch sweep (its list is
//!   fixed, and `advanced_tuning_config` is ignored for agg). A top row is
//!   the best point of its layout under the TPOT target, so the same layout,
//!   workload and SLA pick the same batch and context-token budget again.

use crate::domain::Parallel;
use crate::report::{ExperimentReport, ResolvedRole, ResolvedSettings, Row};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Parse `tp4pp1dp1etp1ep4` (optionally `…cpN`). Missing degrees default to 1.
pub fn parse_parallel(s: &str) -> Result<Parallel, String> {
    let mut d = Parallel {
        tp: 1,
        pp: 1,
        dp: 1,
        moe_tp: 1,
        moe_ep: 1,
        cp: 1,
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty parallel label".into());
    }
    while !rest.is_empty() {
        let name_len = rest
            .find(|c: char| c.is_ascii_digit())
            .ok_or_else(|| format!("no number after '{rest}' in parallel label '{s}'"))?;
        let (name, tail) = rest.split_at(name_len);
        let num_len = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (num, tail) = tail.split_at(num_len);
        let v: u32 = num
            .parse()
            .map_err(|_| format!("bad number '{num}' in parallel label '{s}'"))?;
        match name {
            "tp" => d.tp = v,
            "pp" => d.pp = v,
            "dp" => d.dp = v,
            "etp" => d.moe_tp = v,
            "ep" => d.moe_ep = v,
            "cp" => d.cp = v,
            other => return Err(format!("unknown degree '{other}' in parallel label '{s}'")),
        }
        rest = tail;
    }
    Ok(d)
}

/// Short display form: degrees equal to 1 dropped, except tp (`tp1pp1dp8etp1ep8` → `tp1dp8ep8`).
/// Context parallelism is not shown (the explorer's columns never had it).
pub fn short_parallel(s: &str) -> String {
    match parse_parallel(s) {
        Err(_) => s.to_string(),
        Ok(d) => {
            let mut out = format!("tp{}", d.tp);
            for (n, v) in [
                ("pp", d.pp),
                ("dp", d.dp),
                ("etp", d.moe_tp),
                ("ep", d.moe_ep),
            ] {
                if v != 1 {
                    let _ = write!(out, "{n}{v}");
                }
            }
            out
        }
    }
}

/// Quote a scalar when YAML would read it as something other than a plain string.
pub(crate) fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        );
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A float as YAML reads it back to the same value (Rust's `{:?}` is the
/// shortest round-tripping form and always has a `.` or an exponent).
pub(crate) fn yaml_f64(v: f64) -> String {
    format!("{v:?}")
}

fn experiment_key(exp: &ExperimentReport) -> String {
    let base: String = exp
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{base}_pinned")
}

/// Where the TUI's `y` writes: the working folder, named after the experiment and the row.
pub fn file_name(exp: &ExperimentReport, sel: usize) -> PathBuf {
    let key = experiment_key(exp);
    PathBuf::from(format!(
        "xpyd-{}-{}.yaml",
        key.trim_end_matches("_pinned"),
        sel + 1
    ))
}

/// The five quant modes a row shows for one role.
struct Modes<'a> {
    gemm: &'a str,
    moe: &'a str,
    kvcache: &'a str,
    fmha: &'a str,
    comm: &'a str,
}

fn worker_block(out: &mut String, key: &str, p: Parallel, q: &Modes, role: &ResolvedRole) {
    let _ = writeln!(out, "    {key}:");
    if role.gemm_explicit {
        let _ = writeln!(out, "      gemm_quant_mode: {}", yaml_str(q.gemm));
    } else {
        // Left to the checkpoint on purpose (see the module docs).
        let _ = writeln!(
            out,
            "      # gemm_quant_mode: {}  (inferred from the checkpoint, as in the original run)",
            q.gemm
        );
    }
    if role.is_moe {
        let _ = writeln!(out, "      moe_quant_mode: {}", yaml_str(q.moe));
    }
    for (k, v) in [
        ("kvcache_quant_mode", q.kvcache),
        ("fmha_quant_mode", q.fmha),
        ("comm_quant_mode", q.comm),
    ] {
        let _ = writeln!(out, "      {k}: {}", yaml_str(v));
    }
    let _ = writeln!(out, "      num_gpu_per_worker: [{}]", p.gpus());
    let _ = writeln!(out, "      tp_list: [{}]", p.tp);
    let _ = writeln!(out, "      pp_list: [{}]", p.pp);
    let _ = writeln!(out, "      dp_list: [{}]", p.dp);
    let _ = writeln!(out, "      moe_tp_list: [{}]", p.moe_tp);
    let _ = writeln!(out, "      moe_ep_list: [{}]", p.moe_ep);
}

fn role<'a>(s: &'a ResolvedSettings, name: &str) -> Result<&'a ResolvedRole, String> {
    s.roles
        .iter()
        .find(|r| r.role == name)
        .ok_or_else(|| format!("the report has no resolved '{name}' role"))
}

/// The pinned exp YAML for `row` of `exp`: one experiment whose search space
/// is exactly that row (see the module docs for what is pinned and why).
pub fn pinned_exp_yaml(exp: &ExperimentReport, row: &Row) -> Result<String, String> {
    let s = exp.resolved.as_ref().ok_or(
        "the report does not record the resolved settings (nextn, tuning, explicit quant modes); rerun the search with this xpyd",
    )?;
    let key = experiment_key(exp);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# xpyd: one candidate of '{}', pinned: `xpyd run` on this file finds it again.",
        exp.name
    );
    let _ = writeln!(
        out,
        "# tokens/s/gpu {:.1}, tokens/s/user {:.1}, TTFT {:.1} ms, TPOT {:.2} ms, {} GPUs x {} replicas",
        row.tokens_per_s_per_gpu,
        row.tokens_per_s_per_user,
        row.ttft_ms,
        row.tpot_ms,
        row.num_total_gpus,
        row.replicas
    );
    match (&row.prefill, &row.decode) {
        (Some(p), Some(d)) => {
            let _ = writeln!(
                out,
                "# prefill {} bs{} x{} workers, decode {} bs{} x{} workers",
                p.parallel, p.bs, p.workers, d.parallel, d.bs, d.workers
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "# {} bs{} ctx tokens {}: the agg sweep's batch list is fixed; with this layout, workload and SLA it picks this point again",
                row.parallel.as_deref().unwrap_or("?"),
                row.bs.unwrap_or(0),
                row.ctx_tokens.unwrap_or(0)
            );
        }
    }
    let _ = writeln!(out, "exps:\n  - {key}\n{key}:");
    // patch: the reference ignores `mode`, and xpyd's `replace` cannot express
    // context parallelism (it fixes cp at 1); with every list and mode written,
    // patch fills in nothing else.
    let _ = writeln!(out, "  mode: patch");
    let _ = writeln!(out, "  serving_mode: {}", yaml_str(&exp.serving_mode));
    let _ = writeln!(out, "  model_path: {}", yaml_str(&exp.model));
    let _ = writeln!(out, "  total_gpus: {}", exp.total_gpus);
    let _ = writeln!(out, "  system_name: {}", yaml_str(&exp.system));
    if let Some(d) = &exp.decode_system {
        let _ = writeln!(out, "  decode_system_name: {}", yaml_str(d));
    }
    let _ = writeln!(out, "  backend_name: {}", yaml_str(&exp.backend));
    if !exp.backend_version.is_empty() {
        let _ = writeln!(out, "  backend_version: {}", yaml_str(&exp.backend_version));
    }
    let _ = writeln!(out, "  database_mode: {}", yaml_str(&s.database_mode));
    let _ = writeln!(out, "  isl: {}\n  osl: {}", exp.isl, exp.osl);
    let _ = writeln!(out, "  prefix: {}", exp.prefix);
    let _ = writeln!(
        out,
        "  ttft: {}\n  tpot: {}",
        yaml_f64(exp.ttft),
        yaml_f64(exp.tpot)
    );
    let _ = writeln!(out, "  config:");
    let _ = writeln!(out, "    nextn: {}", s.nextn);
    if s.nextn > 0 {
        let rates: Vec<String> = s.nextn_accept_rates.iter().map(|&r| yaml_f64(r)).collect();
        let _ = writeln!(out, "    nextn_accept_rates: [{}]", rates.join(", "));
    }
    // `deepep_moe` only shapes sglang's layouts; elsewhere (e.g. implied by
    // `enable_wideep` on trtllm) naming it would only draw a warning.
    if let Some(m) = s.moe_backend.as_ref().filter(|_| exp.backend == "sglang") {
        let _ = writeln!(out, "    moe_backend: {}", yaml_str(m));
    }
    if let Some(a) = &s.attention_backend {
        let _ = writeln!(out, "    attention_backend: {}", yaml_str(a));
    }
    match (&row.prefill, &row.decode) {
        (Some(p), Some(d)) => {
            for (k, w, r) in [
                ("prefill_worker_config", p, role(s, "prefill")?),
                ("decode_worker_config", d, role(s, "decode")?),
            ] {
                let modes = Modes {
                    gemm: &w.gemm,
                    moe: &w.moe,
                    kvcache: &w.kvcache,
                    fmha: &w.fmha,
                    comm: &w.comm,
                };
                worker_block(&mut out, k, w.layout, &modes, r);
            }
            let _ = writeln!(out, "    replica_config:");
            let _ = writeln!(out, "      num_gpu_per_replica: [{}]", row.num_total_gpus);
            let _ = writeln!(out, "      max_gpu_per_replica: {}", row.num_total_gpus);
            let _ = writeln!(out, "      max_prefill_worker: {}", p.workers);
            let _ = writeln!(out, "      max_decode_worker: {}", d.workers);
            let _ = writeln!(out, "    advanced_tuning_config:");
            let _ = writeln!(
                out,
                "      prefill_latency_correction_scale: {}",
                yaml_f64(s.prefill_latency_correction_scale)
            );
            let _ = writeln!(
                out,
                "      decode_latency_correction_scale: {}",
                yaml_f64(s.decode_latency_correction_scale)
            );
            let _ = writeln!(out, "      prefill_max_batch_size: {}", p.bs);
            let _ = writeln!(out, "      decode_max_batch_size: {}", d.bs);
        }
        (None, None) => {
            let a = row
                .agg
                .as_ref()
                .ok_or("the agg row does not record its worker's layout and quant modes")?;
            let modes = Modes {
                gemm: &a.gemm,
                moe: &a.moe,
                kvcache: &a.kvcache,
                fmha: &a.fmha,
                comm: &a.comm,
            };
            worker_block(
                &mut out,
                "worker_config",
                a.layout,
                &modes,
                role(s, "worker")?,
            );
        }
        _ => return Err("disagg row is missing its prefill or decode worker".into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_with_context_parallelism() {
        let d = parse_parallel("tp2pp1dp1etp1ep1cp2").expect("label");
        assert_eq!((d.tp, d.cp, d.gpus()), (2, 2, 4));
        assert_eq!(short_parallel("tp1pp1dp8etp1ep8"), "tp1dp8ep8");
        assert!(parse_parallel("tp2xx1").is_err());
    }

    #[test]
    fn floats_read_back_exactly() {
        for v in [1000.0, 0.85, 1.1, 1.08, 0.1 + 0.2] {
            assert_eq!(yaml_f64(v).parse::<f64>().ok(), Some(v));
        }
    }
}
