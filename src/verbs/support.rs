//! `xpyd support`: which model × system × backend combinations the database
//! in use supports, for agg and disagg, with the reason for each gap.
//!
//! The measured database ships a support matrix (`support_matrix/*.csv`):
//! one row per (model, system, backend, version, mode) test run with its
//! status. A model tested there is judged by its own rows (supported when a
//! test passed on collected silicon data); an untested model by the majority
//! of the tests of its architecture, as the reference does. Where no test
//! exists but the system has a spec, xpyd can still price it at speed of
//! light (`--database-mode SOL`): such cells say `sol`.

use super::flags::{Format, Inert, Unsupported};
use crate::domain::Backend;
use crate::exp::Catalog;
use crate::run::Session;
use crate::system::versions::compare_versions;
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Args, Clone, Debug)]
pub struct SupportArgs {
    /// HF model id (built-in catalog) or a local folder with config.json.
    #[arg(long = "model-path", visible_alias = "model", value_name = "MODEL")]
    pub model_path: String,
    /// A system name, or `all`.
    #[arg(long)]
    pub system: String,
    /// trtllm, vllm, sglang or all (default: trtllm; all with --system all).
    #[arg(long)]
    pub backend: Option<String>,
    /// Judge one backend version instead of the newest tested one.
    #[arg(long = "perf-db-version", visible_alias = "backend-version")]
    pub backend_version: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub inert: Inert,
    #[command(flatten)]
    pub unsupported: Unsupported,
}

/// One test of the support matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixRow {
    pub model: String,
    pub architecture: String,
    pub system: String,
    pub backend: String,
    pub version: String,
    pub mode: String,
    pub status: String,
    pub error: String,
    /// `silicon` when the pass was priced on collected data; empty in old matrices.
    pub source: Option<String>,
}

impl MatrixRow {
    /// A pass that proves support: on collected silicon data.
    fn proves_support(&self) -> bool {
        self.status == "PASS" && self.source.as_deref().is_none_or(|s| s == "silicon")
    }
}

/// Split one CSV line, honouring double-quoted fields.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Every test of the matrix under `systems_dir`; empty when it has none.
pub fn load_matrix(systems_dir: &Path) -> Result<Vec<MatrixRow>, String> {
    let dir = systems_dir.join("support_matrix");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| format!("reading {}: {e}", f.display()))?;
        let mut lines = text.lines();
        let header = csv_fields(lines.next().unwrap_or_default());
        let col = |name: &str| header.iter().position(|h| h == name);
        let need =
            |name: &str| col(name).ok_or_else(|| format!("{}: no column {name}", f.display()));
        let (m, a, s, b, v, mo, st) = (
            need("HuggingFaceID")?,
            need("Architecture")?,
            need("System")?,
            need("Backend")?,
            need("Version")?,
            need("Mode")?,
            need("Status")?,
        );
        let (err, src) = (col("ErrMsg"), col("Source"));
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let f = csv_fields(line);
            let get = |i: usize| f.get(i).cloned().unwrap_or_default();
            rows.push(MatrixRow {
                model: get(m),
                architecture: get(a),
                system: get(s).to_ascii_lowercase(),
                backend: get(b).to_ascii_lowercase(),
                version: get(v),
                mode: get(mo),
                status: get(st),
                error: err.map(get).unwrap_or_default(),
                source: src.map(get),
            });
        }
    }
    Ok(rows)
}

/// One cell of the answer.
#[derive(Clone, Debug, Serialize)]
pub struct SupportRow {
    pub model: String,
    pub system: String,
    pub backend: String,
    /// The version judged (`None`: no test of this combination).
    pub version: Option<String>,
    /// `yes`, `no`, `sol` (no test, but priced at speed of light from the
    /// system's spec) or `None` (nothing known).
    pub agg: Option<String>,
    pub disagg: Option<String>,
    /// Why a cell is not `yes` (or how a `yes` was inferred).
    pub reason: String,
}

/// What `xpyd support --format json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Support {
    pub model: String,
    pub architecture: String,
    pub rows: Vec<SupportRow>,
}

fn yes_no(b: bool) -> Option<String> {
    Some(if b { "yes" } else { "no" }.into())
}

/// The order systems are listed in: newest products first, then by name.
fn system_rank(s: &str) -> (usize, String) {
    const ORDER: [&str; 10] = [
        "b200",
        "gb200",
        "b300",
        "gb300",
        "rtx_pro_6000",
        "h200",
        "h100",
        "l40s",
        "a100",
        "b60",
    ];
    let s = s.to_ascii_lowercase();
    (
        ORDER
            .iter()
            .position(|p| s.starts_with(p))
            .unwrap_or(ORDER.len()),
        s,
    )
}

/// Judge one (system, backend) for `model` of `arch`.
fn judge(
    matrix: &[MatrixRow],
    model: &str,
    arch: &str,
    system: &str,
    backend: &str,
    version: Option<&str>,
    has_spec: bool,
) -> SupportRow {
    let here: Vec<&MatrixRow> = matrix
        .iter()
        .filter(|r| r.system == system && r.backend == backend)
        .collect();
    let own: Vec<&MatrixRow> = here
        .iter()
        .copied()
        .filter(|r| r.model.eq_ignore_ascii_case(model))
        .collect();
    let kin: Vec<&MatrixRow> = here
        .iter()
        .copied()
        .filter(|r| r.architecture == arch)
        .collect();
    let basis = if !own.is_empty() { &own } else { &kin };
    let version = version.map(str::to_string).or_else(|| {
        basis
            .iter()
            .map(|r| r.version.as_str())
            .max_by(|a, b| compare_versions(a, b))
            .map(str::to_string)
    });
    let mut row = SupportRow {
        model: model.into(),
        system: system.into(),
        backend: backend.into(),
        version: version.clone(),
        agg: None,
        disagg: None,
        reason: String::new(),
    };
    let sol = |mut row: SupportRow, why: String| {
        if has_spec {
            row.agg = Some("sol".into());
            row.disagg = Some("sol".into());
            row.reason = format!(
                "{why}; the system's spec still prices it at speed of light (--database-mode SOL)"
            );
        } else {
            row.reason = why;
        }
        row
    };
    let Some(v) = version else {
        return sol(
            row,
            format!("no test of {model} or of its architecture {arch} on {system} with {backend}"),
        );
    };
    let at = |rows: &[&MatrixRow]| -> Vec<MatrixRow> {
        rows.iter()
            .filter(|r| r.version == v)
            .map(|r| (*r).clone())
            .collect()
    };
    let exact = at(&own);
    if !exact.is_empty() {
        let pass = |mode: &str| exact.iter().any(|r| r.mode == mode && r.proves_support());
        row.agg = yes_no(pass("agg"));
        row.disagg = yes_no(pass("disagg"));
        let failed: Vec<String> = ["agg", "disagg"]
            .iter()
            .filter(|m| !pass(m))
            .filter_map(|m| {
                exact.iter().find(|r| r.mode == *m).map(|r| {
                    let err = r.error.trim();
                    if err.is_empty() {
                        format!("{m}: tested {}", r.status)
                    } else {
                        format!("{m}: tested {} ({})", r.status, clip(err))
                    }
                })
            })
            .collect();
        row.reason = failed.join("; ");
        return row;
    }
    let votes: Vec<MatrixRow> = at(&kin)
        .into_iter()
        .filter(|r| r.status != "HW_INCOMPATIBLE")
        .collect();
    let count = |mode: &str| {
        let all: Vec<&MatrixRow> = votes.iter().filter(|r| r.mode == mode).collect();
        (all.iter().filter(|r| r.proves_support()).count(), all.len())
    };
    let ((ap, at_), (dp, dt)) = (count("agg"), count("disagg"));
    if at_ == 0 && dt == 0 {
        row.version = None;
        return sol(
            row,
            format!(
                "no test of {model} or of its architecture {arch} on {system} with {backend} {v}"
            ),
        );
    }
    let majority = |p: usize, t: usize| t > 0 && 2 * p > t;
    row.agg = yes_no(majority(ap, at_));
    row.disagg = yes_no(majority(dp, dt));
    row.reason = format!(
        "{model} itself is untested: inferred from {arch} models (agg {ap}/{at_}, disagg {dp}/{dt} passed)"
    );
    row
}

fn clip(s: &str) -> String {
    let s: String = s.chars().take(120).collect();
    s.replace('\n', " ")
}

/// Answer `a` from the database of `session`.
pub fn support(session: &Session, a: &SupportArgs) -> Result<Support, String> {
    a.unsupported.check("support")?;
    let model = session
        .catalog
        .model(&a.model_path)
        .map_err(|e| format!("--model {}: {e}", a.model_path))?;
    let all_systems = a.system == "all";
    let backend_flag = a
        .backend
        .clone()
        .unwrap_or_else(|| if all_systems { "all" } else { "trtllm" }.into());
    let backends: Vec<String> = if backend_flag == "all" {
        Backend::ALL.iter().map(|b| b.name().to_string()).collect()
    } else {
        vec![super::flags::backend(Some(&backend_flag))?]
    };
    let mut systems: Vec<String> = if all_systems {
        session.catalog.system_names()
    } else {
        vec![crate::exp::canonical_system(&a.system).to_string()]
    };
    systems.sort_by_key(|s| system_rank(s));
    systems.dedup();
    let matrix = load_matrix(session.catalog.db.systems_dir())?;
    let mut rows = Vec::new();
    for s in &systems {
        let has_spec = session.catalog.system(s).is_some();
        for b in &backends {
            let mut row = judge(
                &matrix,
                &a.model_path,
                &model.architecture,
                s,
                b,
                a.backend_version.as_deref(),
                has_spec,
            );
            if !has_spec && row.agg.is_none() {
                row.reason = format!("unknown system {s} (no spec in the database)");
            } else if matrix.is_empty() {
                row.reason = "the built-in specs hold no measured data: speed-of-light estimates only (`xpyd db fetch` installs the measured database)".into();
            }
            rows.push(row);
        }
    }
    Ok(Support {
        model: a.model_path.clone(),
        architecture: model.architecture.clone(),
        rows,
    })
}

/// The table `xpyd support` prints.
pub fn render_table(s: &Support) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "xpyd support: {} ({})", s.model, s.architecture);
    let sw = s
        .rows
        .iter()
        .map(|r| r.system.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        o,
        "{:<sw$}  {:<7}  {:<10}  {:<4}  {:<6}  reason",
        "system", "backend", "version", "agg", "disagg"
    );
    for r in &s.rows {
        let cell = |c: &Option<String>| c.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "{:<sw$}  {:<7}  {:<10}  {:<4}  {:<6}  {}",
            r.system,
            r.backend,
            r.version.as_deref().unwrap_or("-"),
            cell(&r.agg),
            cell(&r.disagg),
            r.reason
        );
    }
    let _ = writeln!(
        o,
        "yes = a test passed on measured data; no = tests failed; sol = untested, speed-of-light estimates only; - = unknown"
    );
    o
}

/// `xpyd support`: the text to print.
pub fn run(session: &Session, a: &SupportArgs) -> Result<String, String> {
    let s = support(session, a)?;
    match a.format {
        Format::Table => Ok(render_table(&s)),
        Format::Json => crate::report::json_text(&s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_commas() {
        assert_eq!(
            csv_fields(r#"a,"b,c",,"d""e""#),
            vec!["a", "b,c", "", "d\"e"]
        );
    }

    fn t(model: &str, arch: &str, mode: &str, status: &str) -> MatrixRow {
        MatrixRow {
            model: model.into(),
            architecture: arch.into(),
            system: "h200_sxm".into(),
            backend: "trtllm".into(),
            version: "1.0".into(),
            mode: mode.into(),
            status: status.into(),
            error: String::new(),
            source: Some("silicon".into()),
        }
    }

    #[test]
    fn own_tests_decide_then_the_architecture_majority() {
        let m = vec![
            t("a/X", "Arch", "agg", "PASS"),
            t("a/X", "Arch", "disagg", "FAIL"),
            t("a/Y", "Arch", "agg", "PASS"),
            t("a/Z", "Arch", "agg", "FAIL"),
            t("a/Z", "Arch", "disagg", "FAIL"),
        ];
        let r = judge(&m, "a/X", "Arch", "h200_sxm", "trtllm", None, true);
        assert_eq!(
            (r.agg.as_deref(), r.disagg.as_deref()),
            (Some("yes"), Some("no"))
        );
        assert!(r.reason.contains("disagg: tested FAIL"));
        let r = judge(&m, "b/New", "Arch", "h200_sxm", "trtllm", None, true);
        // agg 2 of 3 passed (majority), disagg 0 of 2.
        assert_eq!(
            (r.agg.as_deref(), r.disagg.as_deref()),
            (Some("yes"), Some("no"))
        );
        let r = judge(&m, "c/Other", "Else", "h200_sxm", "trtllm", None, true);
        assert_eq!(r.agg.as_deref(), Some("sol"));
        let r = judge(&m, "c/Other", "Else", "h200_sxm", "trtllm", None, false);
        assert_eq!(r.agg, None);
    }
}
