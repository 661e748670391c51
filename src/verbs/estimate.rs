//! `xpyd estimate`: TTFT, TPOT, throughput and memory of one given
//! configuration — an agg worker at a batch size, or a disagg replica with
//! fixed prefill and decode pools — priced like a row of the search.

use super::exp_text::{layout_lists, request_yaml, ExpSpec};
use super::flags::{Format, Inert, Kernels, Target, Unsupported, Workload};
use crate::domain::Parallel;
use crate::engine::factory::EngineFactory;
use crate::report::Row;
use crate::run::Session;
use crate::search::experiment::{
    price_agg_point, price_disagg_point, price_static_point, FixedPool, PointError, StaticPhases,
};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

/// The reference `estimate` defaults (not the exp file's).
pub const ESTIMATE_ISL: u32 = 1024;
pub const ESTIMATE_OSL: u32 = 1024;
pub const ESTIMATE_BATCH: u32 = 128;

#[derive(Args, Clone, Debug)]
pub struct EstimateArgs {
    #[command(flatten)]
    pub target: Target,
    /// agg, disagg (with --prefill-*/--decode-* batch sizes and worker
    /// counts), or static / static_ctx / static_gen (one batch, no in-flight batching).
    #[arg(long, default_value = "agg")]
    pub estimate_mode: String,
    #[command(flatten)]
    pub workload: Workload,
    /// Agg: concurrent requests per attention-DP rank.
    #[arg(long = "batch-size", visible_alias = "bs", default_value_t = ESTIMATE_BATCH)]
    pub batch_size: u32,
    /// Agg: context tokens per mixed step (default: the ISL).
    #[arg(long)]
    pub ctx_tokens: Option<u32>,
    #[arg(long = "tp-size", visible_alias = "tp", default_value_t = 1)]
    pub tp_size: u32,
    #[arg(long = "pp-size", visible_alias = "pp", default_value_t = 1)]
    pub pp_size: u32,
    /// Attention data parallelism (MoE models).
    #[arg(long = "attention-dp-size", visible_alias = "dp", default_value_t = 1)]
    pub attention_dp_size: u32,
    /// MoE tensor parallelism (MoE models; inferred from --moe-ep-size when omitted).
    #[arg(long = "moe-tp-size", visible_alias = "etp")]
    pub moe_tp_size: Option<u32>,
    /// MoE expert parallelism (MoE models; inferred from --moe-tp-size when omitted).
    #[arg(long = "moe-ep-size", visible_alias = "ep")]
    pub moe_ep_size: Option<u32>,
    #[arg(long = "prefill-tp-size", visible_alias = "p-tp")]
    pub prefill_tp_size: Option<u32>,
    #[arg(long = "prefill-pp-size", visible_alias = "p-pp")]
    pub prefill_pp_size: Option<u32>,
    #[arg(long = "prefill-attention-dp-size", visible_alias = "p-dp")]
    pub prefill_attention_dp_size: Option<u32>,
    #[arg(long = "prefill-moe-tp-size", visible_alias = "p-etp")]
    pub prefill_moe_tp_size: Option<u32>,
    #[arg(long = "prefill-moe-ep-size", visible_alias = "p-ep")]
    pub prefill_moe_ep_size: Option<u32>,
    #[arg(long = "prefill-batch-size", visible_alias = "p-bs")]
    pub prefill_batch_size: Option<u32>,
    #[arg(long = "prefill-num-workers", visible_alias = "p-workers")]
    pub prefill_num_workers: Option<u32>,
    #[arg(long = "decode-tp-size", visible_alias = "d-tp")]
    pub decode_tp_size: Option<u32>,
    #[arg(long = "decode-pp-size", visible_alias = "d-pp")]
    pub decode_pp_size: Option<u32>,
    #[arg(long = "decode-attention-dp-size", visible_alias = "d-dp")]
    pub decode_attention_dp_size: Option<u32>,
    #[arg(long = "decode-moe-tp-size", visible_alias = "d-etp")]
    pub decode_moe_tp_size: Option<u32>,
    #[arg(long = "decode-moe-ep-size", visible_alias = "d-ep")]
    pub decode_moe_ep_size: Option<u32>,
    #[arg(long = "decode-batch-size", visible_alias = "d-bs")]
    pub decode_batch_size: Option<u32>,
    #[arg(long = "decode-num-workers", visible_alias = "d-workers")]
    pub decode_num_workers: Option<u32>,
    #[arg(long)]
    pub gemm_quant_mode: Option<String>,
    #[arg(long)]
    pub moe_quant_mode: Option<String>,
    #[arg(long)]
    pub kvcache_quant_mode: Option<String>,
    #[arg(long)]
    pub fmha_quant_mode: Option<String>,
    #[arg(long)]
    pub comm_quant_mode: Option<String>,
    /// KV memory fraction of the backend (TRT-LLM: of free memory; vLLM and
    /// SGLang: of total memory) that the batch's KV cache is checked against.
    #[arg(long)]
    pub free_gpu_memory_fraction: Option<f64>,
    /// Disagg: the prefill pool's fraction (default: --free-gpu-memory-fraction).
    #[arg(long)]
    pub prefill_free_gpu_memory_fraction: Option<f64>,
    /// Disagg: the decode pool's fraction (default: --free-gpu-memory-fraction).
    #[arg(long)]
    pub decode_free_gpu_memory_fraction: Option<f64>,
    #[command(flatten)]
    pub kernels: Kernels,
    /// Print the per-op and memory breakdown (JSON: the row's `detail`).
    #[arg(long)]
    pub breakdown: bool,
    /// The reference's breakdown sections (summary,memory,time,source,all):
    /// any value shows xpyd's breakdown.
    #[arg(long)]
    pub detail: Option<String>,
    /// Accepted for compatibility; estimate writes nothing.
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    /// Accepted for compatibility (one configuration has one row).
    #[arg(long)]
    pub top_n: Option<usize>,
    /// Static modes: decode steps per priced sample (only the engine's 32).
    #[arg(long)]
    pub stride: Option<u32>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub inert: Inert,
    #[command(flatten)]
    pub unsupported: Unsupported,
}

/// What `xpyd estimate --format json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub mode: String,
    pub row: Row,
    /// The requested batch's KV cache is over the backend's KV budget (the
    /// model fits): the engine would queue requests, so TTFT is optimistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_warning: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub header: Header,
}

/// Identity lines of the table.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub model: String,
    pub system: String,
    pub decode_system: Option<String>,
    pub backend: String,
    pub version: String,
    pub database_mode: String,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub nextn: u32,
    pub nextn_accepted: f64,
}

/// One pool's layout from the flags; MoE widths follow the reference's rule
/// (tp × dp = moe_tp × moe_ep, one of them inferred).
fn layout(
    is_moe: bool,
    tp: u32,
    pp: u32,
    dp: u32,
    moe_tp: Option<u32>,
    moe_ep: Option<u32>,
    role: &str,
) -> Result<Parallel, String> {
    if tp == 0 || pp == 0 || dp == 0 {
        return Err(format!("{role}: tp, pp and dp must be positive"));
    }
    if !is_moe {
        if dp != 1 {
            return Err(format!(
                "{role}: attention DP ({dp}) applies to MoE models only; use tp/pp for a dense model"
            ));
        }
        return Ok(Parallel::dense(tp, pp));
    }
    let width = tp * dp;
    let (mtp, mep) = match (moe_tp, moe_ep) {
        (None, None) => {
            return Err(format!(
                "{role}: a MoE model needs --moe-tp-size or --moe-ep-size (tp × dp = moe_tp × moe_ep)"
            ))
        }
        (Some(t), None) if t > 0 && width.is_multiple_of(t) => (t, width / t),
        (None, Some(e)) if e > 0 && width.is_multiple_of(e) => (width / e, e),
        (Some(t), Some(e)) => (t, e),
        (t, e) => {
            return Err(format!(
                "{role}: cannot infer the MoE widths from tp {tp} × dp {dp} and moe_tp {t:?} / moe_ep {e:?}"
            ))
        }
    };
    if mtp * mep != width {
        return Err(format!(
            "{role}: moe_tp {mtp} × moe_ep {mep} must equal tp {tp} × dp {dp} = {width}"
        ));
    }
    Ok(Parallel {
        tp,
        pp,
        dp,
        moe_tp: mtp,
        moe_ep: mep,
        cp: 1,
    })
}

fn oom_message(a: &EstimateArgs, e: PointError) -> String {
    match e {
        PointError::Oom { role, over_gib } => format!(
            "OOM: {} does not fit in GPU memory on {} with this layout and batch (tp={}, pp={}, dp={}; the {role} worker needs {over_gib:.1} GiB more); try more tp/pp, a quantized checkpoint, a smaller batch or a GPU with more memory",
            a.target.model_path, a.target.system, a.tp_size, a.pp_size, a.attention_dp_size
        ),
        PointError::Other(m) => m,
    }
}

/// Price the configuration of `a`.
pub fn estimate(session: &Session, a: &EstimateArgs) -> Result<Estimate, String> {
    a.unsupported.check("estimate")?;
    let mode = a.estimate_mode.as_str();
    let static_phases = match mode {
        "agg" | "disagg" => None,
        "static" => Some(StaticPhases::Both),
        "static_ctx" => Some(StaticPhases::Prefill),
        "static_gen" => Some(StaticPhases::Decode),
        _ => {
            return Err(format!(
                "--estimate-mode {mode} is not supported: use agg, disagg, static, static_ctx or static_gen (AFD and EPD are not modelled)"
            ))
        }
    };
    // xpyd prices a decode pass the way the search does (the engine's
    // 32-step stride); another stride would be a different approximation.
    if static_phases.is_some() && a.stride.is_some_and(|s| s != 32) {
        return Err("--stride is not supported: static decode passes are priced with the engine's stride of 32".into());
    }
    let backend = super::flags::backend(a.target.backend.as_deref())?;
    let frac = super::flags::fraction(a.free_gpu_memory_fraction, "--free-gpu-memory-fraction")?;
    let pfrac = super::flags::fraction(
        a.prefill_free_gpu_memory_fraction,
        "--prefill-free-gpu-memory-fraction",
    )?
    .or(frac);
    let dfrac = super::flags::fraction(
        a.decode_free_gpu_memory_fraction,
        "--decode-free-gpu-memory-fraction",
    )?
    .or(frac);
    let target = Target {
        backend: Some(backend.clone()),
        ..a.target.clone()
    };
    let workload = Workload {
        isl: Some(a.workload.isl.unwrap_or(ESTIMATE_ISL)),
        // A prefill-only estimate has no decode; the exp file needs osl ≥ 2
        // and the prefill pass does not depend on it.
        osl: Some(match static_phases {
            Some(StaticPhases::Prefill) => a.workload.osl.unwrap_or(ESTIMATE_OSL).max(2),
            _ => a.workload.osl.unwrap_or(ESTIMATE_OSL),
        }),
        ..a.workload.clone()
    };
    let mut r = super::request(
        session,
        &target,
        &workload,
        &Default::default(),
        &a.kernels,
        1,
        "SILICON",
    )?;
    r.quant = [
        a.gemm_quant_mode.clone(),
        a.moe_quant_mode.clone(),
        a.kvcache_quant_mode.clone(),
        a.fmha_quant_mode.clone(),
        a.comm_quant_mode.clone(),
    ];
    let moe = r.is_moe;
    let mut spec = ExpSpec::new(
        "estimate",
        if mode == "disagg" { "disagg" } else { "agg" },
        &backend,
    );
    let pools = if mode != "disagg" {
        let p = layout(
            moe,
            a.tp_size,
            a.pp_size,
            a.attention_dp_size,
            a.moe_tp_size,
            a.moe_ep_size,
            "agg",
        )?;
        r.total_gpus = p.gpus();
        spec.lists.push(("worker_config", layout_lists(p)));
        None
    } else {
        let need = |v: Option<u32>, flag: &str| {
            v.filter(|&x| x > 0)
                .ok_or_else(|| format!("disagg estimates need {flag} (a positive number)"))
        };
        let (pbs, pw) = (
            need(a.prefill_batch_size, "--prefill-batch-size")?,
            need(a.prefill_num_workers, "--prefill-num-workers")?,
        );
        let (dbs, dw) = (
            need(a.decode_batch_size, "--decode-batch-size")?,
            need(a.decode_num_workers, "--decode-num-workers")?,
        );
        let or = |v: Option<u32>, d: u32| v.unwrap_or(d);
        let pl = layout(
            moe,
            or(a.prefill_tp_size, a.tp_size),
            or(a.prefill_pp_size, a.pp_size),
            or(a.prefill_attention_dp_size, a.attention_dp_size),
            a.prefill_moe_tp_size.or(a.moe_tp_size),
            a.prefill_moe_ep_size.or(a.moe_ep_size),
            "prefill",
        )?;
        let dl = layout(
            moe,
            or(a.decode_tp_size, a.tp_size),
            or(a.decode_pp_size, a.pp_size),
            or(a.decode_attention_dp_size, a.attention_dp_size),
            a.decode_moe_tp_size.or(a.moe_tp_size),
            a.decode_moe_ep_size.or(a.moe_ep_size),
            "decode",
        )?;
        let total = pw * pl.gpus() + dw * dl.gpus();
        r.total_gpus = total;
        spec.lists.push(("prefill_worker_config", layout_lists(pl)));
        spec.lists.push(("decode_worker_config", layout_lists(dl)));
        spec.replica = Some((vec![total], total, pw, dw));
        spec.max_batches = Some((pbs, dbs));
        Some((
            FixedPool {
                layout: pl,
                bs: pbs,
                workers: pw,
                kv_fraction: pfrac,
            },
            FixedPool {
                layout: dl,
                bs: dbs,
                workers: dw,
                kv_fraction: dfrac,
            },
        ))
    };
    let text = request_yaml(&r, &[spec]);
    let file =
        crate::exp::load_str(&text, "command line", &session.catalog).map_err(|e| e.to_string())?;
    let task = file
        .tasks
        .first()
        .ok_or("the configuration did not resolve to an experiment")?;
    let factory = EngineFactory::new(task, &session.catalog, session.cache.clone())?;
    let priced = match pools {
        None => {
            let ctx = a.ctx_tokens.unwrap_or(task.isl).max(1);
            let p = match &task.roles {
                crate::exp::Roles::Agg { .. } => layout(
                    moe,
                    a.tp_size,
                    a.pp_size,
                    a.attention_dp_size,
                    a.moe_tp_size,
                    a.moe_ep_size,
                    "agg",
                )?,
                _ => return Err("internal: agg request resolved to disagg".into()),
            };
            match static_phases {
                Some(ph) => price_static_point(task, &factory, p, a.batch_size, ph),
                None => price_agg_point(task, &factory, p, a.batch_size, ctx, frac),
            }
        }
        Some((p, d)) => price_disagg_point(task, &factory, p, d),
    }
    .map_err(|e| oom_message(a, e))?;
    let mut row = priced.row;
    if !(a.breakdown || a.detail.is_some()) {
        row.detail = None;
    }
    let first = task.first_role();
    let decode_system = match &task.roles {
        crate::exp::Roles::Disagg { decode, .. } if decode.system != first.system => {
            Some(decode.system.clone())
        }
        _ => None,
    };
    Ok(Estimate {
        mode: mode.into(),
        row,
        kv_warning: priced.kv_over_gib.map(|over| {
            format!(
                "batch size {} needs more KV cache than {} leaves ({over:.1} GiB over): the engine would queue the excess requests, so TTFT is optimistic and TPOT inexact",
                a.batch_size,
                match frac {
                    Some(f) => format!("a KV memory fraction of {f}"),
                    None => "the backend's default KV memory fraction".into(),
                }
            )
        }),
        warnings: file
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .chain(task.notes.iter().cloned())
            .collect(),
        header: Header {
            model: first.model.clone(),
            system: first.system.clone(),
            decode_system,
            backend: first.backend.name().into(),
            version: first.backend_version.clone(),
            database_mode: if session.catalog.db.kind() == crate::system::DbKind::Builtin {
                format!(
                    "SOL: built-in specs; {} needs the measured database",
                    task.database_mode.name()
                )
            } else {
                task.database_mode.name().into()
            },
            isl: task.isl,
            osl: a.workload.osl.unwrap_or(ESTIMATE_OSL),
            prefix: task.prefix,
            nextn: task.nextn,
            nextn_accepted: task.nextn_accepted,
        },
    })
}

/// `xpyd estimate`: the text for stdout and the warnings for stderr.
pub fn run(session: &Session, a: &EstimateArgs) -> Result<(String, Vec<String>), String> {
    let e = estimate(session, a)?;
    let mut warnings = e.warnings.clone();
    warnings.extend(e.kv_warning.clone());
    let text = match a.format {
        Format::Table => super::estimate_table::render_table(&e),
        Format::Json => crate::report::json_text(&e)?,
    };
    Ok((text, warnings))
}
