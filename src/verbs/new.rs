//! `xpyd new`: a commented starter exp YAML for a model, a system and a GPU
//! budget, with the agg and disagg experiments the reference's `default`
//! would run and their whole search space written out.

use super::exp_text::{request_yaml, starter_yaml, ExpSpec, Request};
use super::flags::{Inert, Kernels, Sla, Target, Unsupported, UnsupportedFraction, Workload};
use crate::exp::Task;
use crate::run::Session;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Clone, Debug)]
pub struct NewArgs {
    #[command(flatten)]
    pub target: Target,
    /// GPUs of the deployment.
    #[arg(long)]
    pub total_gpus: u32,
    #[command(flatten)]
    pub workload: Workload,
    #[command(flatten)]
    pub sla: Sla,
    #[command(flatten)]
    pub kernels: Kernels,
    /// auto (agg and disagg), agg or disagg.
    #[arg(long, default_value = "auto")]
    pub serving_mode: String,
    /// Write the file here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Open the explorer on the written file (needs -o).
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub inert: Inert,
    #[command(flatten)]
    pub unsupported: Unsupported,
    #[command(flatten)]
    pub unsupported_fraction: UnsupportedFraction,
}

/// Resolve `exps` of request `r` with the real loader and render the
/// starter file; also returns the resolved experiments.
pub fn starter_for(
    session: &Session,
    r: &Request,
    exps: &[ExpSpec],
    header: &str,
) -> Result<(String, Vec<Task>), String> {
    let text = request_yaml(r, exps);
    let file =
        crate::exp::load_str(&text, "command line", &session.catalog).map_err(|e| e.to_string())?;
    let out = starter_yaml(r, &file.tasks, header);
    Ok((out, file.tasks))
}

fn header(r: &Request) -> String {
    let mut h = format!(
        "xpyd starter: {} on {} with {} GPUs ({} backend, {} database).",
        r.model, r.system, r.total_gpus, r.backend, r.database_mode
    );
    h.push_str(&format!(
        "\nWorkload isl {} / osl {} (prefix {}); SLA TTFT {} ms, TPOT {} ms.",
        r.isl, r.osl, r.prefix, r.ttft, r.tpot
    ));
    if r.nextn > 0 {
        h.push_str(&format!(
            "\nMTP: {} draft token(s), {} accepted per step on average.",
            r.nextn, r.nextn_accepted
        ));
    }
    h
}

/// The starter text for `a` (what `xpyd new` prints or writes).
pub fn starter(session: &Session, a: &NewArgs) -> Result<String, String> {
    a.unsupported.check("new")?;
    a.unsupported_fraction.check("new")?;
    let r = super::request(
        session,
        &a.target,
        &a.workload,
        &a.sla,
        &a.kernels,
        a.total_gpus,
        "SILICON",
    )?;
    let exps = super::default_experiments(session, &r, &a.serving_mode)?;
    starter_for(session, &r, &exps, &header(&r)).map(|(t, _)| t)
}

/// The starter of `xpyd new`. Without an explicit --database-mode, a model
/// whose checkpoint quantization has no measured data on the system (e.g.
/// fp8 DeepSeek on A100) gets a HYBRID starter instead of an error, and the
/// header says why: a newcomer's first file should load.
pub fn starter_or_hybrid(session: &Session, a: &NewArgs) -> Result<String, String> {
    match starter(session, a) {
        Err(e) if a.target.database_mode.is_none() => {
            let mut h = a.clone();
            h.target.database_mode = Some("HYBRID".into());
            let text = starter(session, &h).map_err(|_| e.clone())?;
            let why = e.lines().next().unwrap_or_default().to_string();
            Ok(format!(
                "# SILICON (measured data only) cannot run this combination:\n#   {why}\n# so this file uses HYBRID: estimates fill what the database lacks.\n{text}"
            ))
        }
        other => other,
    }
}

/// `xpyd new`: print or write the starter; with `--open`, explore it.
/// Returns the text for stdout (empty when written to a file).
pub fn run(session: &Session, a: &NewArgs) -> Result<String, String> {
    let text = starter_or_hybrid(session, a)?;
    match &a.output {
        Some(path) => {
            super::write_file(path, &text)?;
            Ok(format!("wrote {}\n", path.display()))
        }
        None if a.open => Err("--open needs -o FILE (the explorer watches a file)".into()),
        None => Ok(text),
    }
}
