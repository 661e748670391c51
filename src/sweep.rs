//! Sensitivity sweeps: the same file searched once per value of one workload
//! or SLA key (`xpyd sweep FILE --vary isl=1000:8000:1000`), in one session so
//! loaded tables, engines and the step memo serve every point. Each point is
//! what `xpyd run` gives on a copy of the file with that value written in.

use crate::exp::vary::{Setting, VaryKey};
use crate::report::table::config_label;
use crate::report::{Row, Status};
use crate::run::{CancelToken, Progress, RunError, RunOptions, Session};
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

/// One experiment at one value: its best row (the `xpyd run` row contract).
#[derive(Clone, Debug, Serialize)]
pub struct SweepCell {
    pub experiment: String,
    pub status: Status,
    pub error: Option<String>,
    pub best: Option<Row>,
}

/// Every experiment at one value.
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub value: f64,
    pub experiments: Vec<SweepCell>,
    pub elapsed_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub file: String,
    pub key: VaryKey,
    pub points: Vec<SweepPoint>,
}

/// Search `path` once per value of `key`, reporting each point as it is done.
pub fn sweep(
    session: &Session,
    path: &Path,
    key: VaryKey,
    values: &[f64],
    opts: &RunOptions,
    cancel: &CancelToken,
    on_point: &(dyn Fn(&SweepPoint) + Sync),
) -> Result<SweepReport, RunError> {
    let (text, label) = crate::exp::read_text(path)?;
    // A sweep compares best rows: per-op details would be dropped anyway.
    let opts = &RunOptions {
        skip_details: true,
        ..opts.clone()
    };
    for &value in values {
        key.check(value).map_err(RunError::Other)?;
    }
    let point = |value: f64| -> Result<SweepPoint, RunError> {
        if cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let started = std::time::Instant::now();
        let setting = Setting { key, value };
        let quiet = |_: Progress| {};
        let report = session.run_text(&text, &label, Some(setting), opts, cancel, &quiet)?;
        // Experiments the value makes invalid (e.g. prefix ≥ isl) say why.
        let experiments: Vec<SweepCell> = report
            .experiments
            .into_iter()
            .map(|e| SweepCell {
                experiment: e.name,
                status: e.status,
                error: e.error,
                best: e.best,
            })
            .collect();
        let point = SweepPoint {
            value,
            experiments,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        on_point(&point);
        Ok(point)
    };
    // Values run side by side: one value's search leaves the cores idle at
    // its serial ends (resolution, picking), which another value fills. The
    // report keeps the values' order; `on_point` hears them as they finish.
    let points = values
        .par_iter()
        .map(|&v| point(v))
        .collect::<Result<Vec<SweepPoint>, RunError>>()?;
    Ok(SweepReport {
        file: label,
        key,
        points,
    })
}

/// A value as the file would hold it (integral keys without a fraction).
pub fn fmt_value(key: VaryKey, v: f64) -> String {
    if key.integral() {
        format!("{}", v as u64)
    } else {
        format!("{v}")
    }
}

/// Table: one line per value and experiment with the best row's headline numbers.
pub fn render_table(r: &SweepReport) -> String {
    let mut out = format!(
        "{}: best configuration per {} value\n{:>10}  {:<22} {:>10} {:>10} {:>9} {:>9}  {}\n",
        r.file,
        r.key.name(),
        r.key.name(),
        "experiment",
        "tok/s/gpu",
        "tok/s/user",
        "TTFT ms",
        "TPOT ms",
        "configuration"
    );
    for p in &r.points {
        for c in &p.experiments {
            let v = fmt_value(r.key, p.value);
            match &c.best {
                Some(b) => out.push_str(&format!(
                    "{v:>10}  {:<22} {:>10.1} {:>10.2} {:>9.1} {:>9.2}  {}\n",
                    c.experiment,
                    b.tokens_per_s_per_gpu_cluster,
                    b.tokens_per_s_per_user,
                    b.ttft_ms,
                    b.tpot_ms,
                    config_label(b)
                )),
                None => out.push_str(&format!(
                    "{v:>10}  {:<22} {}\n",
                    c.experiment,
                    c.error
                        .as_deref()
                        .and_then(|e| e.lines().next())
                        .unwrap_or("no configuration meets the SLA")
                )),
            }
        }
    }
    out
}

/// CSV: value, experiment, status and the best row's headline columns.
pub fn render_csv(r: &SweepReport) -> String {
    let mut out = format!(
        "{},experiment,status,tokens/s/gpu_cluster,tokens/s/gpu,tokens/s/user,ttft,tpot,request_latency,concurrency,total_gpus_used,configuration\n",
        r.key.name()
    );
    for p in &r.points {
        for c in &p.experiments {
            let v = fmt_value(r.key, p.value);
            let status = serde_json::to_value(c.status)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default();
            match &c.best {
                Some(b) => out.push_str(&format!(
                    "{v},{},{status},{},{},{},{},{},{},{},{},{}\n",
                    c.experiment,
                    b.tokens_per_s_per_gpu_cluster,
                    b.tokens_per_s_per_gpu,
                    b.tokens_per_s_per_user,
                    b.ttft_ms,
                    b.tpot_ms,
                    b.request_latency_ms,
                    b.concurrency,
                    b.total_gpus_used,
                    config_label(b)
                )),
                None => out.push_str(&format!("{v},{},{status},,,,,,,,,\n", c.experiment)),
            }
        }
    }
    out
}
