//! `y`: the selected candidate as an exp YAML experiment whose search space is pinned
//! to exactly that configuration, so `xpyd` (or the reference) reproduces it alone.

use crate::report::{ExperimentReport, Row, WorkerRow};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Parallel degrees parsed back from the report's `parallel` label (`tp4pp1dp1etp1ep4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Degrees {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub moe_tp: u32,
    pub moe_ep: u32,
}

impl Degrees {
    pub fn gpus(&self) -> u32 {
        self.tp * self.pp * self.dp
    }
}

/// Parse `tp4pp1dp1etp1ep4` (optionally `…cpN`). Missing degrees default to 1.
pub fn parse_parallel(s: &str) -> Result<Degrees, String> {
    let mut d = Degrees {
        tp: 1,
        pp: 1,
        dp: 1,
        moe_tp: 1,
        moe_ep: 1,
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
            // Context parallelism is not a knob of the exp schema; it is reported only.
            "cp" => {}
            other => return Err(format!("unknown degree '{other}' in parallel label '{s}'")),
        }
        rest = tail;
    }
    Ok(d)
}

/// Short display form: degrees equal to 1 dropped, except tp (`tp1pp1dp8etp1ep8` → `tp1dp8ep8`).
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

fn list(v: u32) -> String {
    format!("[{v}]")
}

fn worker_block(out: &mut String, key: &str, d: Degrees, gpus: u32, w: Option<&WorkerRow>) {
    let _ = writeln!(out, "    {key}:");
    if let Some(w) = w {
        for (k, v) in [
            ("gemm_quant_mode", &w.gemm),
            ("moe_quant_mode", &w.moe),
            ("kvcache_quant_mode", &w.kvcache),
            ("fmha_quant_mode", &w.fmha),
            ("comm_quant_mode", &w.comm),
        ] {
            if !v.is_empty() {
                let _ = writeln!(out, "      {k}: {}", yaml_str(v));
            }
        }
    }
    let _ = writeln!(out, "      num_gpu_per_worker: {}", list(gpus));
    let _ = writeln!(out, "      tp_list: {}", list(d.tp));
    let _ = writeln!(out, "      pp_list: {}", list(d.pp));
    let _ = writeln!(out, "      dp_list: {}", list(d.dp));
    let _ = writeln!(out, "      moe_tp_list: {}", list(d.moe_tp));
    let _ = writeln!(out, "      moe_ep_list: {}", list(d.moe_ep));
}

/// Quote a scalar when YAML would read it as something other than a plain string.
fn yaml_str(s: &str) -> String {
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

/// Where `y` writes: the working folder, named after the experiment and the row.
pub fn file_name(exp: &ExperimentReport, sel: usize) -> PathBuf {
    let key = experiment_key(exp);
    PathBuf::from(format!(
        "xpyd-{}-{}.yaml",
        key.trim_end_matches("_pinned"),
        sel + 1
    ))
}

/// The YAML snippet for `row` of `exp`.
pub fn snippet(exp: &ExperimentReport, row: &Row) -> Result<String, String> {
    let key = experiment_key(exp);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# xpyd: one candidate of '{}', pinned. tokens/s/gpu {:.1}, tokens/s/user {:.1}, \
         TTFT {:.1} ms, TPOT {:.2} ms, {} GPUs x {} replicas",
        exp.name,
        row.tokens_per_s_per_gpu,
        row.tokens_per_s_per_user,
        row.ttft_ms,
        row.tpot_ms,
        row.num_total_gpus,
        row.replicas
    );
    let _ = writeln!(out, "exps:\n  - {key}\n{key}:");
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
    let _ = writeln!(out, "  database_mode: {}", yaml_str(&exp.database_mode));
    let _ = writeln!(out, "  isl: {}\n  osl: {}", exp.isl, exp.osl);
    if exp.prefix > 0 {
        let _ = writeln!(out, "  prefix: {}", exp.prefix);
    }
    let _ = writeln!(out, "  ttft: {:?}\n  tpot: {:?}", exp.ttft, exp.tpot);
    let _ = writeln!(out, "  config:");
    match (&row.prefill, &row.decode) {
        (Some(p), Some(d)) => {
            let pd = parse_parallel(&p.parallel)?;
            let dd = parse_parallel(&d.parallel)?;
            worker_block(
                &mut out,
                "prefill_worker_config",
                pd,
                p.gpus_per_worker,
                Some(p),
            );
            worker_block(
                &mut out,
                "decode_worker_config",
                dd,
                d.gpus_per_worker,
                Some(d),
            );
            let _ = writeln!(out, "    replica_config:");
            let _ = writeln!(
                out,
                "      num_gpu_per_replica: {}",
                list(row.num_total_gpus)
            );
            let _ = writeln!(out, "      max_gpu_per_replica: {}", row.num_total_gpus);
            let _ = writeln!(out, "      max_prefill_worker: {}", p.workers);
            let _ = writeln!(out, "      max_decode_worker: {}", d.workers);
        }
        (None, None) => {
            let label = row
                .parallel
                .as_deref()
                .ok_or("agg row has no parallel label")?;
            let d = parse_parallel(label)?;
            let gpus = row.gpus_per_worker.unwrap_or_else(|| d.gpus());
            worker_block(&mut out, "worker_config", d, gpus, None);
        }
        _ => return Err("disagg row is missing its prefill or decode worker".into()),
    }
    Ok(out)
}
