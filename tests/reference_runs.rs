//! More configurations than the shared parity cases, each with the CSVs the
//! reference (`aiconfigurator cli exp --save-dir`, 0.12.0) wrote for it:
//! `tests/fixtures/reference_runs/<case>/input.yaml` and
//! `<case>/<experiment>/{pareto,best_config_topn}.csv`. xpyd's CSVs must be
//! byte-identical, except files listed in the case's `ties.txt`, where rows
//! tie on tokens/s/gpu and xpyd's documented tie order may keep other rows
//! than the reference's arbitrary one (see `common/ref_csv.rs`).
//! Needs the measured database; skips with a message otherwise.

#[path = "common/ref_csv.rs"]
mod ref_csv;

use std::path::{Path, PathBuf};
use xpyd::run::{CancelToken, RunOptions, Session};

/// Reference runs: `tests/fixtures/reference_runs/*` and the warnings corpus
/// `tests/warnings/*` (files with keys that have no effect, which the
/// reference runs as if they were absent).
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = ["tests/fixtures/reference_runs", "tests/warnings"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("reference run fixtures"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    v.sort();
    v
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
    let (mut compared, mut experiments) = (0, 0);
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
        // The warnings corpus: the report carries each warning, located in the file.
        if let Ok(expected) = std::fs::read_to_string(case.join("expected.txt")) {
            let file = case.join("input.yaml").display().to_string();
            let want: Vec<String> = expected.lines().map(|l| format!("{file}:{l}")).collect();
            let got: Vec<String> = report.warnings.iter().map(|w| w.text.clone()).collect();
            if got != want {
                failures.push(format!("{}: warnings {got:#?}", case.display()));
            }
            let per_exp: usize = report.experiments.iter().map(|e| e.warnings.len()).sum();
            if per_exp != want.len() {
                failures.push(format!("{}: experiment warnings {per_exp}", case.display()));
            }
        }
        experiments += report.experiments.len();
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
                let same = ref_csv::same(file, ref_csv::mode(&ties, &rel), &ours, &reference);
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
    assert_eq!(
        compared,
        2 * experiments,
        "one pareto and one top-N file per experiment"
    );
    assert!(experiments >= 39, "only {experiments} experiments");
}
