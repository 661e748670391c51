//! `cargo run --example tui_demo -- FILE` opens the explorer on FILE with the real engine
//! (`xpyd::run::run_file`), exactly what `xpyd FILE` will do once the CLI is wired.
//!
//! `--fake REPORT.json` swaps the engine for a stand-in so the live loop can be tried (and
//! tested end to end) before the engine is finished: it parses FILE as YAML (a syntax error
//! becomes a located load error) and shows the experiments of REPORT.json whose names are
//! top-level keys of FILE. It computes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use xpyd::edit::Outcome;
use xpyd::exp::vary::VaryKey;
use xpyd::exp::{ExpError, LoadError};
use xpyd::report::RunReport;
use xpyd::run::{CancelToken, Progress, RunError, RunOptions};
use xpyd::sweep::SweepPoint;
use xpyd::tui::Searcher;

struct Fake {
    report: RunReport,
}

impl Searcher for Fake {
    fn run(
        &self,
        path: &Path,
        cancel: &CancelToken,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunError::Other(format!("reading {}: {e}", path.display())))?;
        let doc: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
            let (line, col) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((0, 0));
            RunError::Load(LoadError {
                file: path.display().to_string(),
                errors: vec![ExpError {
                    experiment: None,
                    key_path: String::new(),
                    line,
                    col,
                    message: e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("invalid YAML")
                        .into(),
                    hint: None,
                    source_line: line
                        .checked_sub(1)
                        .and_then(|i| text.lines().nth(i))
                        .map(str::to_string),
                }],
            })
        })?;
        let keys: Vec<String> = doc
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut r = self.report.clone();
        r.file = path.display().to_string();
        r.experiments.retain(|e| keys.contains(&e.name));
        progress(Progress::Planned {
            experiments: r.experiments.iter().map(|e| e.name.clone()).collect(),
        });
        for e in &r.experiments {
            if cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            std::thread::sleep(std::time::Duration::from_millis(150));
            progress(Progress::ExperimentDone(Box::new(e.clone())));
        }
        Ok(r)
    }

    /// Writes like `xpyd set`, checking only that the result is YAML.
    fn set(&self, path: &Path, edits: &[(String, String)]) -> Result<Outcome, String> {
        xpyd::edit::set_file(path, edits, |t: &str| {
            serde_saphyr::from_str::<serde_json::Value>(t)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())
    }

    fn sweep(
        &self,
        _: &Path,
        _: VaryKey,
        _: &[f64],
        _: &CancelToken,
        _: &(dyn Fn(&SweepPoint) + Sync),
    ) -> Result<(), RunError> {
        Err(RunError::Other(
            "the stand-in report has nothing to sweep; run without --fake".into(),
        ))
    }
}

fn main() -> color_eyre::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let mut fake: Option<PathBuf> = None;
    let mut file: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        if a == "--fake" {
            fake = args.next().map(PathBuf::from);
        } else {
            file = Some(PathBuf::from(a));
        }
    }
    let Some(file) = file else {
        eprintln!("usage: tui_demo [--fake REPORT.json] FILE");
        std::process::exit(2);
    };
    match fake {
        None => xpyd::tui::run(
            &file,
            RunOptions {
                top_n: 5,
                keep_feasible: true,
                ..RunOptions::default()
            },
        ),
        Some(report) => {
            let text = std::fs::read_to_string(&report)
                .map_err(|e| color_eyre::eyre::eyre!("reading {}: {e}", report.display()))?;
            let report: RunReport = serde_json::from_str(&text)
                .map_err(|e| color_eyre::eyre::eyre!("parsing the fake report: {e}"))?;
            xpyd::tui::run_with(&file, Arc::new(Fake { report }))
        }
    }
}
