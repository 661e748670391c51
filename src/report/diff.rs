//! What changed between two reports of the same file: the settings an edit
//! touched (`isl 4000 → 8000`) and how each experiment's best row moved, so
//! the explorer can say what an edit did.

use super::{ExperimentReport, RunReport};

/// The settings that differ between two versions of one experiment, as
/// `key old → new`.
fn experiment_edits(a: &ExperimentReport, b: &ExperimentReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |key: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{key} {x} → {y}"));
        }
    };
    cmp(
        "serving_mode",
        a.serving_mode.clone(),
        b.serving_mode.clone(),
    );
    cmp("model", a.model.clone(), b.model.clone());
    cmp("system", a.system.clone(), b.system.clone());
    cmp(
        "decode_system",
        a.decode_system.clone().unwrap_or_default(),
        b.decode_system.clone().unwrap_or_default(),
    );
    cmp("backend", a.backend.clone(), b.backend.clone());
    cmp(
        "backend_version",
        a.backend_version.clone(),
        b.backend_version.clone(),
    );
    cmp(
        "database_mode",
        a.database_mode.clone(),
        b.database_mode.clone(),
    );
    cmp("isl", a.isl.to_string(), b.isl.to_string());
    cmp("osl", a.osl.to_string(), b.osl.to_string());
    cmp("prefix", a.prefix.to_string(), b.prefix.to_string());
    cmp("ttft", a.ttft.to_string(), b.ttft.to_string());
    cmp("tpot", a.tpot.to_string(), b.tpot.to_string());
    cmp(
        "total_gpus",
        a.total_gpus.to_string(),
        b.total_gpus.to_string(),
    );
    out
}

/// A one-line summary of what an edit changed: the settings common to every
/// changed experiment once, otherwise per experiment; experiments added or
/// removed by name. Empty when only the search space or nothing visible changed.
pub fn describe_edit(before: &RunReport, after: &RunReport) -> String {
    let mut per_exp: Vec<(String, Vec<String>)> = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    for b in &after.experiments {
        match before.experiments.iter().find(|a| a.name == b.name) {
            Some(a) => {
                let e = experiment_edits(a, b);
                if !e.is_empty() {
                    per_exp.push((b.name.clone(), e));
                }
            }
            None => parts.push(format!("+{}", b.name)),
        }
    }
    for a in &before.experiments {
        if !after.experiments.iter().any(|b| b.name == a.name) {
            parts.push(format!("-{}", a.name));
        }
    }
    let same = per_exp.windows(2).all(|w| w[0].1 == w[1].1);
    let mut edits: Vec<String> = if same && per_exp.len() > 1 {
        per_exp[0].1.clone()
    } else {
        per_exp
            .iter()
            .map(|(n, e)| format!("{n}: {}", e.join(", ")))
            .collect()
    };
    edits.extend(parts);
    edits.join("; ")
}

/// The two reports say the same thing: only how long the searches took (and
/// how many engine steps they needed) differs. A save that reaches the
/// watcher twice, or an edit of a comment, searches again to this.
pub fn same_results(a: &RunReport, b: &RunReport) -> bool {
    let strip = |e: &ExperimentReport| ExperimentReport {
        elapsed_ms: 0.0,
        engine_evaluations: 0,
        ..e.clone()
    };
    a.database == b.database
        && a.warnings == b.warnings
        && a.experiments.len() == b.experiments.len()
        && a.experiments
            .iter()
            .zip(&b.experiments)
            .all(|(x, y)| strip(x) == strip(y))
}

/// Relative change in percent, `None` when there is nothing to compare.
pub fn change_pct(before: f64, after: f64) -> Option<f64> {
    (before.is_finite() && after.is_finite() && before.abs() > f64::EPSILON)
        .then(|| (after / before - 1.0) * 100.0)
}

/// A relative change as shown: `−52%`, `+7%` (a true minus sign).
pub fn signed_pct(p: f64) -> String {
    format!("{}{:.0}%", if p < 0.0 { "−" } else { "+" }, p.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(name: &str, isl: u32, tpot: f64) -> ExperimentReport {
        ExperimentReport {
            name: name.into(),
            isl,
            tpot,
            ..Default::default()
        }
    }

    fn report(e: Vec<ExperimentReport>) -> RunReport {
        RunReport {
            file: "f".into(),
            experiments: e,
            best_experiment: None,
            database: crate::report::DatabaseInfo {
                kind: "builtin".into(),
                source: String::new(),
                path: None,
            },
            warnings: Vec::new(),
        }
    }

    #[test]
    fn edits_are_named() {
        let a = report(vec![exp("x", 4000, 40.0), exp("y", 4000, 40.0)]);
        let b = report(vec![exp("x", 8000, 40.0), exp("y", 8000, 40.0)]);
        assert_eq!(describe_edit(&a, &b), "isl 4000 → 8000");
        let c = report(vec![exp("x", 8000, 44.0), exp("z", 4000, 40.0)]);
        assert_eq!(
            describe_edit(&a, &c),
            "x: isl 4000 → 8000, tpot 40 → 44; +z; -y"
        );
        assert_eq!(describe_edit(&a, &a), "");
    }

    #[test]
    fn changes_in_percent() {
        let p = change_pct(1290.3, 619.3).unwrap();
        assert_eq!(signed_pct(p), "−52%");
        assert_eq!(signed_pct(change_pct(10.0, 10.7).unwrap()), "+7%");
        assert_eq!(change_pct(0.0, 3.0), None);
    }
}
