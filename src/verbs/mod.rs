//! The reference's other entry points, with its flags: `new` (a starter exp
//! YAML), `default` (agg vs disagg for a model, system and GPU count),
//! `estimate` (one given configuration), `recommend` (the fewest GPUs for a
//! target load) and `support` (what has data).
//!
//! Every searching verb builds exp YAML text and runs it through the same
//! loader and search as `xpyd run`, so the answers are the same by
//! construction; `estimate` prices one point with the search's own
//! formulas ([`crate::search::experiment::price_agg_point`]).

pub mod default;
pub mod estimate;
pub mod estimate_table;
pub mod exp_text;
pub mod flags;
pub mod new;
pub mod recommend;
pub mod support;

use crate::exp::Catalog;
use crate::run::Session;
use exp_text::{ExpSpec, Request};
use flags::{Kernels, Sla, Target, Workload};

/// The reference `default`/`recommend` workload and SLA when not given.
pub const DEFAULT_ISL: u32 = 4000;
pub const DEFAULT_OSL: u32 = 1000;
pub const DEFAULT_TTFT: f64 = 2000.0;
pub const DEFAULT_TPOT: f64 = 30.0;

/// A request from the searching verbs' flags; `database_mode` is the verb's default.
pub fn request(
    session: &Session,
    t: &Target,
    w: &Workload,
    sla: &Sla,
    k: &Kernels,
    total_gpus: u32,
    database_mode: &str,
) -> Result<Request, String> {
    let (nextn, nextn_accepted) = flags::mtp(w)?;
    let model = session
        .catalog
        .model(&t.model_path)
        .map_err(|e| format!("--model {}: {e}", t.model_path))?;
    Ok(Request {
        model: t.model_path.clone(),
        system: t.system.clone(),
        decode_system: t.decode_system.clone(),
        backend: t.backend.clone().unwrap_or_else(|| "trtllm".into()),
        backend_version: t.backend_version.clone(),
        database_mode: flags::database_mode(t.database_mode.as_deref(), database_mode)?,
        total_gpus,
        isl: w.isl.unwrap_or(DEFAULT_ISL),
        osl: w.osl.unwrap_or(DEFAULT_OSL),
        prefix: w.prefix.unwrap_or(0),
        ttft: sla.ttft.unwrap_or(DEFAULT_TTFT),
        tpot: sla.tpot.unwrap_or(DEFAULT_TPOT),
        nextn,
        nextn_accepted,
        moe_backend: k.moe_backend.clone(),
        attention_backend: k.attention_backend.clone(),
        quant: Default::default(),
        is_moe: model.is_moe,
    })
}

/// The experiments of `default` (and `recommend`): agg and disagg per
/// backend (`auto`: every backend with data for the system, named
/// `agg_<backend>`), as the reference builds them. Disagg needs 2 GPUs.
pub fn default_experiments(
    session: &Session,
    r: &Request,
    serving_mode: &str,
) -> Result<Vec<ExpSpec>, String> {
    let modes: &[&'static str] = match serving_mode {
        "auto" => &["agg", "disagg"],
        "agg" => &["agg"],
        "disagg" => &["disagg"],
        "all" | "afd" => {
            return Err(format!(
                "--serving-mode {serving_mode} is not supported (AFD is not modelled); use auto, agg or disagg"
            ))
        }
        other => return Err(format!("--serving-mode {other}: use auto, agg or disagg")),
    };
    let auto = r.backend == "auto";
    let backends: Vec<String> = if auto {
        let found: Vec<String> = crate::domain::Backend::ALL
            .iter()
            .filter(|b| !session.catalog.versions(&r.system, **b).0.is_empty())
            .map(|b| b.name().to_string())
            .collect();
        if found.is_empty() {
            return Err(format!(
                "--backend auto: no backend has data for system {}",
                r.system
            ));
        }
        found
    } else {
        vec![flags::backend(Some(&r.backend))?]
    };
    let mut out = Vec::new();
    for b in &backends {
        for &m in modes {
            if m == "disagg" && r.total_gpus < 2 {
                continue;
            }
            let name = if auto {
                format!("{m}_{b}")
            } else {
                m.to_string()
            };
            out.push(ExpSpec::new(&name, m, b));
        }
    }
    if out.is_empty() {
        return Err("no experiment to run: disagg needs at least 2 GPUs".into());
    }
    Ok(out)
}

/// Write `text` to `path`, saying which file failed.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}
