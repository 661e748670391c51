//! `xpyd recommend`: the fewest GPUs that serve a target request rate or
//! concurrency under the SLA, per serving mode — a sizing question.
//!
//! Like the reference, the search runs the `default` experiments with a
//! budget of one node (doubling up to 64 GPUs while the model does not fit),
//! then asks of every candidate row how many replicas the load needs
//! ([`gpus_needed`]), keeps the cheapest row per layout and ranks by GPUs.

use super::exp_text::request_yaml;
use super::flags::{
    Format, Inert, Kernels, Sla, Target, Unsupported, UnsupportedFraction, Workload,
};
use crate::exp::Catalog;
use crate::report::{Row, RunReport};
use crate::run::{CancelToken, RunOptions, Session};
use clap::Args;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The largest budget the escalation tries (the reference's cap).
pub const MAX_BUDGET: u32 = 64;

#[derive(Args, Clone, Debug)]
#[command(group(clap::ArgGroup::new("load").required(true).args(["target_request_rate", "target_concurrency"])))]
pub struct RecommendArgs {
    #[command(flatten)]
    pub target: Target,
    /// Requests/s the deployment must serve.
    #[arg(long)]
    pub target_request_rate: Option<f64>,
    /// Concurrent requests the deployment must serve.
    #[arg(long)]
    pub target_concurrency: Option<f64>,
    #[command(flatten)]
    pub workload: Workload,
    #[command(flatten)]
    pub sla: Sla,
    #[command(flatten)]
    pub kernels: Kernels,
    /// Layouts listed per mode.
    #[arg(long, default_value_t = 5)]
    pub top_n: usize,
    /// Write `<DIR>/<mode>/best_config_topn.csv` (the ranked, sized rows) and the exp file run.
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

impl RecommendArgs {
    /// `xpyd default` without --total-gpus but with a load target: the same
    /// question, with `default`'s database mode (SILICON) unless given.
    pub fn from_default(
        a: &super::default::DefaultArgs,
        rate: Option<f64>,
        conc: Option<f64>,
    ) -> Self {
        let mut target = a.target.clone();
        target.database_mode = Some(target.database_mode.unwrap_or_else(|| "SILICON".into()));
        RecommendArgs {
            target,
            target_request_rate: rate,
            target_concurrency: conc,
            workload: a.workload.clone(),
            sla: a.sla.clone(),
            kernels: a.kernels.clone(),
            top_n: a.top_n,
            save_dir: a.save_dir.clone(),
            format: a.format,
            inert: a.inert.clone(),
            unsupported: a.unsupported.clone(),
            unsupported_fraction: a.unsupported_fraction.clone(),
        }
    }
}

/// The load to serve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadTarget {
    RequestRate(f64),
    Concurrency(f64),
}

/// Replicas of a row that serve a load, and the GPUs they take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sizing {
    pub replicas: u32,
    pub total_gpus: u32,
}

/// How many replicas of `row`'s configuration serve `target`, and the GPUs
/// that takes: ⌈target ÷ what one replica serves⌉ (at least one) × GPUs per
/// replica. One replica serves the row's requests/s (`seq_per_s`) or its
/// concurrency (the cluster's divided by its replicas). `None` when the row
/// serves nothing.
pub fn gpus_needed(row: &Row, target: LoadTarget) -> Option<Sizing> {
    let (want, per_replica) = match target {
        LoadTarget::RequestRate(r) => (r, row.seq_per_s),
        LoadTarget::Concurrency(c) => (c, row.concurrency / f64::from(row.replicas.max(1))),
    };
    if !(per_replica > 0.0 && want.is_finite() && want > 0.0) {
        return None;
    }
    let replicas = ((want / per_replica).ceil() as u32).max(1);
    Some(Sizing {
        replicas,
        total_gpus: replicas.checked_mul(row.num_total_gpus)?,
    })
}

/// The row a recommendation shows: `replicas`, `total_gpus_used`, rate and
/// concurrency are those of the sized deployment.
fn sized_row(row: &Row, s: Sizing) -> Row {
    let per = f64::from(row.replicas.max(1));
    let mut r = row.clone();
    r.request_rate = row.request_rate / per * f64::from(s.replicas);
    r.concurrency = row.concurrency / per * f64::from(s.replicas);
    r.replicas = s.replicas;
    r.total_gpus_used = s.total_gpus;
    r.tokens_per_s_per_gpu_cluster = row.tokens_per_s_per_gpu;
    r.detail = None;
    r
}

fn layout_key(r: &Row) -> String {
    match (&r.parallel, &r.decode) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.parallel.clone(),
        _ => String::new(),
    }
}

/// Rank `rows` (one mode's candidates) for `target`: rows meeting the TPOT
/// target (all rows, closest TPOT first, when none does), the cheapest row
/// per layout (agg layout, disagg decode layout), fewest GPUs first, then
/// higher tokens/s/gpu. Returns the sized rows and whether the SLA was met.
pub fn rank(rows: &[Row], tpot: f64, target: LoadTarget, top_n: usize) -> (Vec<Row>, bool) {
    let meet: Vec<&Row> = rows.iter().filter(|r| r.tpot_ms <= tpot).collect();
    let sla_met = !meet.is_empty();
    let pool: Vec<&Row> = if sla_met { meet } else { rows.iter().collect() };
    let mut best: std::collections::BTreeMap<String, (Row, Sizing)> = Default::default();
    let better = |a: &(Row, Sizing), b: &(Row, Sizing)| -> Ordering {
        if sla_met {
            a.1.total_gpus
                .cmp(&b.1.total_gpus)
                .then(
                    b.0.tokens_per_s_per_gpu
                        .total_cmp(&a.0.tokens_per_s_per_gpu),
                )
                .then_with(|| crate::search::pick::tie_break(&a.0, &b.0))
        } else {
            a.0.tpot_ms.total_cmp(&b.0.tpot_ms)
        }
    };
    for r in pool {
        let Some(s) = gpus_needed(r, target) else {
            continue;
        };
        let cand = (r.clone(), s);
        match best.get(&layout_key(r)) {
            Some(cur) if better(&cand, cur) != Ordering::Less => {}
            _ => {
                best.insert(layout_key(r), cand);
            }
        }
    }
    // BTreeMap order is the layout name: the last, stable tie-break.
    let mut ranked: Vec<(Row, Sizing)> = best.into_values().collect();
    ranked.sort_by(|a, b| {
        if sla_met {
            a.1.total_gpus.cmp(&b.1.total_gpus).then(
                b.0.tokens_per_s_per_gpu
                    .total_cmp(&a.0.tokens_per_s_per_gpu),
            )
        } else {
            a.0.tpot_ms.total_cmp(&b.0.tpot_ms)
        }
    });
    ranked.truncate(top_n.max(1));
    (
        ranked.iter().map(|(r, s)| sized_row(r, *s)).collect(),
        sla_met,
    )
}

/// One mode's answer.
#[derive(Clone, Debug, Serialize)]
pub struct ModeAnswer {
    /// The experiment name (`agg`, `disagg`, or `agg_<backend>` with --backend auto).
    pub mode: String,
    /// GPUs of the best row; `None` when the mode found no configuration.
    pub gpus_needed: Option<u32>,
    /// Whether the rows meet the TPOT target (false: the closest are shown).
    pub sla_met: bool,
    pub rows: Vec<Row>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The target as JSON shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TargetInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<f64>,
    pub model: String,
    pub system: String,
    pub backend: String,
    pub database_mode: String,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub ttft: f64,
    pub tpot: f64,
    /// The per-mode search budget the answer came from.
    pub search_budget_gpus: u32,
}

/// What `xpyd recommend --format json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub target: TargetInfo,
    pub modes: Vec<ModeAnswer>,
    #[serde(skip)]
    pub exp_text: String,
    /// The searched experiments (without their candidate rows), for CSV headers.
    #[serde(skip)]
    pub experiments: Vec<crate::report::ExperimentReport>,
}

fn powers_of_two_upto(n: u32) -> Vec<u32> {
    (0..32).map(|i| 1u32 << i).take_while(|&v| v <= n).collect()
}

/// Whether some experiment failed only because the model or its KV cache
/// does not fit the GPUs of the budget: more GPUs per worker may help. An
/// experiment that ran and found nothing under the SLA is an answer.
fn retriable(rep: &RunReport) -> bool {
    let memory =
        |reason: &str| reason.starts_with("out of memory") || reason.starts_with("KV cache over");
    rep.experiments.iter().any(|e| {
        e.best.is_none()
            && e.error.as_deref().is_some_and(|m| {
                m.contains("does not fit in GPU memory")
                    || m.contains("KV cache does not fit")
                    || (m.contains("worker fits")
                        && !e.rejected.is_empty()
                        && e.rejected.iter().all(|r| memory(&r.reason)))
            })
    })
}

/// Answer `a`.
pub fn recommend(session: &Session, a: &RecommendArgs) -> Result<Recommendation, String> {
    a.unsupported.check("recommend")?;
    a.unsupported_fraction.check("recommend")?;
    let target = match (a.target_request_rate, a.target_concurrency) {
        (Some(r), None) => LoadTarget::RequestRate(r),
        (None, Some(c)) => LoadTarget::Concurrency(c),
        _ => {
            return Err("give exactly one of --target-request-rate and --target-concurrency".into())
        }
    };
    let v = match target {
        LoadTarget::RequestRate(v) | LoadTarget::Concurrency(v) => v,
    };
    if !(v.is_finite() && v > 0.0) {
        return Err(format!(
            "the load target must be a positive number, got {v}"
        ));
    }
    let gpn = session
        .catalog
        .system(&a.target.system)
        .map(|s| s.gpus_per_node.max(1))
        .ok_or_else(|| format!("--system {}: unknown system", a.target.system))?;
    let mut budget = gpn;
    loop {
        let mut r = super::request(
            session,
            &a.target,
            &a.workload,
            &a.sla,
            &a.kernels,
            budget,
            "HYBRID",
        )?;
        if r.backend != "auto" {
            r.backend = super::flags::backend(Some(&r.backend))?;
        }
        let mut exps = super::default_experiments(session, &r, "auto")?;
        for e in &mut exps {
            e.num_gpu = Some(powers_of_two_upto(budget));
        }
        let text = request_yaml(&r, &exps);
        let opts = RunOptions {
            systems_dir: None,
            top_n: 1,
            keep_feasible: true,
            // Sized rows carry no per-op detail.
            skip_details: true,
        };
        let rep = session
            .run_text(
                &text,
                "xpyd recommend",
                None,
                &opts,
                &CancelToken::new(),
                &|_| {},
            )
            .map_err(|e| e.to_string())?;
        if retriable(&rep) && budget * 2 <= MAX_BUDGET {
            budget *= 2;
            continue;
        }
        let modes = rep
            .experiments
            .iter()
            .map(|e| {
                let (rows, sla_met) = rank(&e.feasible, r.tpot, target, a.top_n);
                ModeAnswer {
                    mode: e.name.clone(),
                    gpus_needed: rows.first().map(|x| x.total_gpus_used),
                    sla_met,
                    rows,
                    error: e.error.clone().filter(|_| e.best.is_none()),
                }
            })
            .collect();
        return Ok(Recommendation {
            target: TargetInfo {
                request_rate: a.target_request_rate,
                concurrency: a.target_concurrency,
                model: r.model.clone(),
                system: r.system.clone(),
                backend: r.backend.clone(),
                database_mode: r.database_mode.clone(),
                isl: r.isl,
                osl: r.osl,
                prefix: r.prefix,
                ttft: r.ttft,
                tpot: r.tpot,
                search_budget_gpus: budget,
            },
            modes,
            exp_text: text,
            experiments: rep
                .experiments
                .into_iter()
                .map(|mut e| {
                    e.feasible.clear();
                    e
                })
                .collect(),
        });
    }
}

/// The table `xpyd recommend` prints.
pub fn render_table(rec: &Recommendation) -> String {
    let t = &rec.target;
    let mut o = String::new();
    let load = match (t.request_rate, t.concurrency) {
        (Some(r), _) => format!("{r} requests/s"),
        (_, Some(c)) => format!("{c} concurrent requests"),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "xpyd recommend: {} on {} ({}, {}), serving {load} with TTFT ≤ {} ms and TPOT ≤ {} ms (isl {}, osl {})",
        t.model, t.system, t.backend, t.database_mode, t.ttft, t.tpot, t.isl, t.osl
    );
    for m in &rec.modes {
        match m.gpus_needed {
            None => {
                let _ = writeln!(
                    o,
                    "\n{}: no configuration ({})",
                    m.mode,
                    m.error.as_deref().unwrap_or("no candidate")
                );
                continue;
            }
            Some(g) => {
                let note = if m.sla_met {
                    ""
                } else {
                    " (no layout meets the TPOT target: closest shown)"
                };
                let _ = writeln!(o, "\n{}: {g} GPUs{note}", m.mode);
            }
        }
        let _ = writeln!(
            o,
            "  {:>4}  {:>12}  {:>13}  {:>9}  {:>8}  {:>14}  {:>8}  configuration",
            "rank", "tokens/s/gpu", "tokens/s/user", "TTFT", "TPOT", "total_gpus", "replicas"
        );
        for (i, r) in m.rows.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {:>4}  {:>12.2}  {:>13.2}  {:>9.2}  {:>8.2}  {:>14}  {:>8}  {}",
                i + 1,
                r.tokens_per_s_per_gpu,
                r.tokens_per_s_per_user,
                r.ttft_ms,
                r.tpot_ms,
                format!(
                    "{} (={}x{})",
                    r.total_gpus_used, r.replicas, r.num_total_gpus
                ),
                r.replicas,
                crate::report::table::config_label(r)
            );
        }
    }
    let best = rec
        .modes
        .iter()
        .filter_map(|m| m.gpus_needed.filter(|_| m.sla_met).map(|g| (g, m)))
        .min_by_key(|(g, _)| *g);
    if let Some((g, m)) = best {
        let _ = writeln!(o, "\nverdict: {} needs the fewest GPUs ({g})", m.mode);
    }
    o
}

/// `xpyd recommend`: the text to print, after writing `--save-dir`.
pub fn run(session: &Session, a: &RecommendArgs) -> Result<String, String> {
    let rec = recommend(session, a)?;
    if let Some(dir) = &a.save_dir {
        for (m, e) in rec.modes.iter().zip(&rec.experiments) {
            super::write_file(
                &dir.join(&m.mode).join("best_config_topn.csv"),
                &crate::report::csv::rows_csv(e, &m.rows),
            )?;
        }
        super::write_file(&dir.join("exp.yaml"), &rec.exp_text)?;
    }
    match a.format {
        Format::Table => Ok(render_table(&rec)),
        Format::Json => crate::report::json_text(&rec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: f64, conc: f64, replicas: u32, gpus: u32) -> Row {
        Row {
            seq_per_s: seq,
            concurrency: conc,
            replicas,
            num_total_gpus: gpus,
            ..Default::default()
        }
    }

    #[test]
    fn replicas_round_up_and_never_drop_to_zero() {
        let r = row(3.0, 40.0, 2, 4);
        assert_eq!(
            gpus_needed(&r, LoadTarget::RequestRate(10.0)),
            Some(Sizing {
                replicas: 4,
                total_gpus: 16
            })
        );
        assert_eq!(
            gpus_needed(&r, LoadTarget::Concurrency(20.0)),
            Some(Sizing {
                replicas: 1,
                total_gpus: 4
            })
        );
        assert_eq!(
            gpus_needed(&r, LoadTarget::Concurrency(21.0)),
            Some(Sizing {
                replicas: 2,
                total_gpus: 8
            })
        );
        assert_eq!(
            gpus_needed(&row(0.0, 0.0, 1, 1), LoadTarget::RequestRate(1.0)),
            None
        );
    }

    #[test]
    fn ranking_prefers_fewest_gpus_then_throughput() {
        let mut a = row(1.0, 10.0, 1, 8);
        a.parallel = Some("tp8".into());
        a.tokens_per_s_per_gpu = 100.0;
        let mut b = row(1.0, 10.0, 1, 2);
        b.parallel = Some("tp2".into());
        b.tokens_per_s_per_gpu = 50.0;
        let (ranked, met) = rank(&[a, b], 30.0, LoadTarget::RequestRate(4.0), 5);
        assert!(met);
        assert_eq!(ranked[0].parallel.as_deref(), Some("tp2"));
        assert_eq!(ranked[0].total_gpus_used, 8);
        assert_eq!(ranked[1].total_gpus_used, 32);
    }
}
