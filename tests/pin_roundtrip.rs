//! The pinned exp YAML round trip: for every top row of every public parity
//! case, the pinned file (`xpyd::deploy::pinned_exp_yaml`) reruns to the same
//! row: layout, batch, worker counts, tokens/s/gpu, TTFT and TPOT. Needs the
//! measured database; skips with a message otherwise.
//!
//! Also `examples/qwen3_32b.yaml`, the case the old pin got wrong.
//! `XPYD_PIN_CASES=reference_runs` replaces the parity cases with the recorded
//! reference runs; `all` runs both.

use std::path::{Path, PathBuf};
use xpyd::report::{ExperimentReport, Row, Status};
use xpyd::run::{CancelToken, RunOptions, Session};

fn measured_session() -> Option<Session> {
    // One in-memory session for every run: the reruns price the same steps
    // the original searches priced, so they are answered from its cache.
    let s = Session::open_in_memory(None).ok()?;
    (s.database_info().kind == "measured").then_some(s)
}

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let which = std::env::var("XPYD_PIN_CASES").unwrap_or_default();
    let mut dirs = Vec::new();
    if which != "reference_runs" {
        dirs.push(root.join("parity_cases"));
    }
    if which == "reference_runs" || which == "all" {
        dirs.push(root.join("reference_runs"));
    }
    // The example: an agg row that the old pin lost 3x on.
    let mut out = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qwen3_32b.yaml")];
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path().join("input.yaml");
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out[1..].sort();
    out
}

fn run(session: &Session, path: &Path) -> xpyd::report::RunReport {
    let opts = RunOptions {
        top_n: 5,
        ..Default::default()
    };
    session
        .run_file(path, &opts, &CancelToken::new(), &|_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a row is known by, at the printed precision of every figure.
fn identity(r: &Row) -> String {
    let shape = match (&r.prefill, &r.decode) {
        (Some(p), Some(d)) => format!(
            "prefill {} bs{} x{} | decode {} bs{} x{}",
            p.parallel, p.bs, p.workers, d.parallel, d.bs, d.workers
        ),
        _ => format!(
            "{} bs{} ctx{}",
            r.parallel.as_deref().unwrap_or("?"),
            r.bs.unwrap_or(0),
            r.ctx_tokens.unwrap_or(0)
        ),
    };
    format!(
        "{shape} | {} GPUs x{} | tokens/s/gpu {:.3} cluster {:.3} | tokens/s/user {:.3} | TTFT {:.3} | TPOT {:.3}",
        r.num_total_gpus,
        r.replicas,
        r.tokens_per_s_per_gpu,
        r.tokens_per_s_per_gpu_cluster,
        r.tokens_per_s_per_user,
        r.ttft_ms,
        r.tpot_ms
    )
}

#[test]
fn pinned_rows_rerun_to_themselves() {
    let Some(session) = measured_session() else {
        eprintln!("skipped: no measured database (set XPYD_SYSTEMS_DIR)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut checked, mut failures) = (0usize, Vec::<String>::new());
    for input in inputs() {
        let case = input
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let report = run(&session, &input);
        for exp in report.experiments.iter().filter(|e| e.status == Status::Ok) {
            for (k, row) in exp.top.iter().enumerate() {
                let label = format!("{case}/{}/top{}", exp.name, k + 1);
                let yaml = match xpyd::deploy::pinned_exp_yaml(exp, row) {
                    Ok(y) => y,
                    Err(e) => {
                        failures.push(format!("{label}: cannot pin: {e}"));
                        continue;
                    }
                };
                let folder = dir
                    .path()
                    .join(&case)
                    .join(&exp.name)
                    .join(format!("top{}", k + 1));
                std::fs::create_dir_all(&folder).expect("create folder");
                let path = folder.join("exp.yaml");
                std::fs::write(&path, &yaml).expect("write pinned file");
                checked += 1;
                let rerun = run(&session, &path);
                let got: Option<&ExperimentReport> = rerun.experiments.first();
                let why = match got {
                    None => Some("no experiment".to_string()),
                    Some(e) if e.status != Status::Ok => {
                        Some(format!("status {:?}: {:?}", e.status, e.error))
                    }
                    Some(e) if !e.warnings.is_empty() => Some(format!(
                        "warnings: {:?}",
                        e.warnings.iter().map(|w| &w.message).collect::<Vec<_>>()
                    )),
                    Some(e) => match &e.best {
                        None => Some("no best row".into()),
                        Some(b) if identity(b) != identity(row) => {
                            Some(format!("rerun best {}", identity(b)))
                        }
                        Some(b) if b.sla_met != row.sla_met => {
                            Some(format!("sla_met {} vs {}", b.sla_met, row.sla_met))
                        }
                        Some(_) => None,
                    },
                };
                if let Some(why) = why {
                    failures.push(format!("{label}: row {}\n    {why}\n{yaml}", identity(row)));
                }
            }
        }
    }
    eprintln!("pinned rows checked: {checked}, failed: {}", failures.len());
    assert!(checked > 0, "no row was pinned");
    assert!(
        failures.is_empty(),
        "{} of {checked} pinned rows do not rerun to themselves:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
