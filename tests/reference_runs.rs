//! More configurations than the shared parity cases, each with the CSVs the
//! reference (`aiconfigurator cli exp --save-dir`, 0.12.0) wrote for it:
//! `tests/fixtures/reference_runs/<case>/input.yaml` and
//! `<case>/<experiment>/{pareto,best_config_topn}.csv`. xpyd's CSVs must be
//! byte-identical. The one exception is a top-N file whose rows tie exactly
//! on tokens/s/gpu within a decode layout: the reference orders those with
//! pandas' unstable quicksort, so among them it keeps an arbitrary decode
//! batch (and orders tied layouts arbitrarily). Such files are listed in the
//! case's `ties.txt` and are compared on what the tie cannot change: the
//! throughput sequence and the set of xPyD shapes, or (marked `any`, when
//! more layouts tie than the top N holds) the throughput sequence alone.
//! Needs the measured database; skips with a message otherwise.

use std::path::{Path, PathBuf};
use xpyd::run::{CancelToken, RunOptions, Session};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference_runs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reference_runs fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    v.sort();
    v
}

/// Columns a tie among equal-throughput rows cannot change.
const TIE_PROOF: [&str; 6] = [
    "tokens/s/gpu",
    "tokens/s/gpu_cluster",
    "(p)parallel",
    "(p)workers",
    "(d)parallel",
    "(d)workers",
];

fn project(csv: &str) -> Vec<Vec<String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let idx: Vec<usize> = TIE_PROOF
        .iter()
        .map(|c| header.iter().position(|h| h == c).expect("column"))
        .collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            idx.iter().map(|&i| cells[i].to_string()).collect()
        })
        .collect()
}

#[test]
fn csvs_equal_the_reference_runs() {
    let session = match Session::open_in_memory(None) {
        Ok(s) if s.database_info().kind == "measured" => s,
        _ => {
            eprintln!("SKIP: no measured database (run `xpyd db fetch` or set XPYD_SYSTEMS_DIR)");
            return;
        }
    };
    let opts = RunOptions {
        top_n: 5,
        ..Default::default()
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let ties = std::fs::read_to_string(case.join("ties.txt")).unwrap_or_default();
        let report = session
            .run_file(
                &case.join("input.yaml"),
                &opts,
                &CancelToken::new(),
                &|_| {},
            )
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        for e in &report.experiments {
            for (rows, file) in [(&e.pareto, "pareto.csv"), (&e.top, "best_config_topn.csv")] {
                let rel = format!("{}/{file}", e.name);
                let Ok(reference) = std::fs::read_to_string(case.join(&rel)) else {
                    failures.push(format!("{}: {rel} missing", case.display()));
                    continue;
                };
                let reference = reference.replace("\r\n", "\n");
                let ours = xpyd::report::csv::rows_csv(e, rows);
                compared += 1;
                let seq = |v: &Vec<Vec<String>>| v.iter().map(|r| r[0].clone()).collect::<Vec<_>>();
                let same = if ties.lines().any(|l| l.trim() == format!("{rel} any")) {
                    // So many layouts tie that which of them fill the top N is arbitrary.
                    seq(&project(&ours)) == seq(&project(&reference))
                } else if ties.lines().any(|l| l.trim() == rel) {
                    // Same throughput sequence, same rows up to the order of ties.
                    let (mut a, mut b) = (project(&ours), project(&reference));
                    let same_seq = seq(&a) == seq(&b);
                    a.sort();
                    b.sort();
                    same_seq && a == b
                } else {
                    ours.trim_end() == reference.trim_end()
                };
                if !same {
                    failures.push(format!(
                        "{}: {rel} differs\n--- xpyd\n{ours}\n--- reference\n{reference}",
                        case.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(compared, 64, "one pareto and one top-N file per experiment");
}
