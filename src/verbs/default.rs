//! `xpyd default`: agg against disagg for a model, a system and a GPU budget,
//! with the reference's defaults. It runs the starter file `xpyd new` writes
//! for the same flags, through the same session call as `xpyd run`.

use super::flags::{
    Format, Inert, Kernels, Sla, Target, Unsupported, UnsupportedFraction, Workload,
};
use crate::report::{ExperimentReport, RunReport};
use crate::run::{CancelToken, RunOptions, Session};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Clone, Debug)]
pub struct DefaultArgs {
    #[command(flatten)]
    pub target: Target,
    /// GPUs of the deployment. Without it, a --target-request-rate or
    /// --target-concurrency asks `recommend`'s question instead.
    #[arg(long)]
    pub total_gpus: Option<u32>,
    /// Requests/s to serve (with no --total-gpus: sizing, as `xpyd recommend`).
    #[arg(long, conflicts_with = "target_concurrency")]
    pub target_request_rate: Option<f64>,
    /// Concurrent requests to serve (with no --total-gpus: sizing).
    #[arg(long)]
    pub target_concurrency: Option<f64>,
    #[command(flatten)]
    pub workload: Workload,
    #[command(flatten)]
    pub sla: Sla,
    #[command(flatten)]
    pub kernels: Kernels,
    /// auto (agg and disagg), agg or disagg.
    #[arg(long, default_value = "auto")]
    pub serving_mode: String,
    /// Rows per experiment in the top list.
    #[arg(long, default_value_t = 5)]
    pub top_n: usize,
    /// Write `<DIR>/<experiment>/{pareto,best_config_topn}.csv` and the exp file run.
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub inert: Inert,
    #[command(flatten)]
    pub unsupported: Unsupported,
    #[command(flatten)]
    pub unsupported_fraction: UnsupportedFraction,
}

/// What `xpyd default` found: the run report (experiments `agg`, `disagg`)
/// and the exp text that produced it.
pub struct DefaultOutcome {
    pub report: RunReport,
    pub exp_text: String,
}

/// The starter text `default` runs for `a` (the same as `xpyd new` writes).
pub fn exp_text(session: &Session, a: &DefaultArgs, total_gpus: u32) -> Result<String, String> {
    let new = super::new::NewArgs {
        target: a.target.clone(),
        total_gpus,
        workload: a.workload.clone(),
        sla: a.sla.clone(),
        kernels: a.kernels.clone(),
        serving_mode: a.serving_mode.clone(),
        output: None,
        open: false,
        inert: a.inert.clone(),
        unsupported: a.unsupported.clone(),
        unsupported_fraction: a.unsupported_fraction.clone(),
    };
    super::new::starter(session, &new)
}

/// Search the starter experiments of `a` with `total_gpus`.
pub fn search(
    session: &Session,
    a: &DefaultArgs,
    total_gpus: u32,
) -> Result<DefaultOutcome, String> {
    a.unsupported.check("default")?;
    a.unsupported_fraction.check("default")?;
    let text = exp_text(session, a, total_gpus)?;
    let opts = RunOptions {
        systems_dir: None,
        top_n: a.top_n.max(1),
        keep_feasible: false,
        skip_details: false,
    };
    let report = session
        .run_text(
            &text,
            "xpyd default",
            None,
            &opts,
            &CancelToken::new(),
            &|_| {},
        )
        .map_err(|e| e.to_string())?;
    Ok(DefaultOutcome {
        report,
        exp_text: text,
    })
}

fn best_metric(e: &ExperimentReport) -> Option<f64> {
    e.best.as_ref().map(|b| b.tokens_per_s_per_gpu_cluster)
}

/// The agg-versus-disagg verdict line, e.g. `agg wins at 897.30
/// tokens/s/gpu: 1.08x disagg` (ratios against every other experiment).
pub fn verdict(rep: &RunReport) -> String {
    let Some(best) = rep
        .best_experiment
        .as_ref()
        .and_then(|n| rep.experiments.iter().find(|e| &e.name == n))
    else {
        return "verdict: no experiment produced a configuration under the SLA".into();
    };
    let v = best_metric(best).unwrap_or(0.0);
    let mut out = format!("verdict: {} wins at {v:.2} tokens/s/gpu", best.name);
    let others: Vec<String> = rep
        .experiments
        .iter()
        .filter(|e| e.name != best.name)
        .map(|e| match best_metric(e) {
            Some(o) if o > 0.0 => format!("{:.2}x {}", v / o, e.name),
            _ => format!("{} has no configuration under the SLA", e.name),
        })
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(" ({})", others.join(", ")));
    }
    out
}

/// `--save-dir`: the CSVs `xpyd run --save-dir` writes, plus `exp.yaml`.
pub fn save(out: &DefaultOutcome, dir: &Path) -> Result<(), String> {
    crate::report::csv::write_csvs(&out.report, dir)?;
    super::write_file(&dir.join("exp.yaml"), &out.exp_text)
}

/// The printed answer of `xpyd default` in `format`.
pub fn render(out: &DefaultOutcome, format: Format) -> Result<String, String> {
    match format {
        Format::Table => Ok(format!(
            "{}\n{}\n",
            crate::report::table::render(&out.report).trim_end(),
            verdict(&out.report)
        )),
        Format::Json => crate::report::json_text(&out.report),
    }
}

/// `xpyd default`: the text to print (table or JSON), after writing
/// `--save-dir`. Without --total-gpus and with a load target it is
/// `xpyd recommend`.
pub fn run(session: &Session, a: &DefaultArgs) -> Result<String, String> {
    let total = match (a.total_gpus, a.target_request_rate, a.target_concurrency) {
        (Some(t), _, _) => t,
        (None, None, None) => {
            return Err(
                "--total-gpus is required (or give --target-request-rate / --target-concurrency to size the deployment)"
                    .into(),
            )
        }
        (None, rate, conc) => {
            let r = super::recommend::RecommendArgs::from_default(a, rate, conc);
            return super::recommend::run(session, &r);
        }
    };
    let out = search(session, a, total)?;
    if let Some(dir) = &a.save_dir {
        save(&out, dir)?;
    }
    render(&out, a.format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DatabaseInfo, Row};

    fn exp(name: &str, cluster: Option<f64>) -> ExperimentReport {
        ExperimentReport {
            name: name.into(),
            best: cluster.map(|c| Row {
                tokens_per_s_per_gpu_cluster: c,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn report(exps: Vec<ExperimentReport>, best: Option<&str>) -> RunReport {
        RunReport {
            file: "x".into(),
            experiments: exps,
            best_experiment: best.map(str::to_string),
            database: DatabaseInfo {
                kind: "builtin".into(),
                source: String::new(),
                path: None,
            },
            warnings: Vec::new(),
        }
    }

    #[test]
    fn verdict_names_the_winner_and_the_ratio() {
        let r = report(
            vec![exp("agg", Some(897.3)), exp("disagg", Some(831.0))],
            Some("agg"),
        );
        assert_eq!(
            verdict(&r),
            "verdict: agg wins at 897.30 tokens/s/gpu (1.08x disagg)"
        );
        let r = report(
            vec![exp("agg", None), exp("disagg", Some(100.0))],
            Some("disagg"),
        );
        assert_eq!(
            verdict(&r),
            "verdict: disagg wins at 100.00 tokens/s/gpu (agg has no configuration under the SLA)"
        );
        let r = report(vec![exp("agg", None)], None);
        assert!(verdict(&r).contains("no experiment"));
    }
}
