//! The live loop without a terminal: the real watcher and worker, a fake searcher that
//! echoes a value from the file, and 200 rapid saves of every kind editors use.
//! The last save's content must be what ends up on screen.

mod tui_common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use xpyd::exp::{ExpError, LoadError};
use xpyd::report::RunReport;
use xpyd::run::{CancelToken, Progress, RunError};
use xpyd::tui::{apply, start_background, Action, App, Searcher};

/// Reads `value: N` and returns a report whose `file` field is `N`.
struct Echo {
    template: RunReport,
    runs: AtomicUsize,
}

impl Searcher for Echo {
    fn run(
        &self,
        path: &Path,
        cancel: &CancelToken,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let text = fs::read_to_string(path).map_err(|e| RunError::Other(e.to_string()))?;
        progress(Progress::Planned {
            experiments: vec!["echo".into()],
        });
        // Long enough that saves land while a search runs, so cancellation is exercised.
        for _ in 0..5 {
            if cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let value = text
            .trim()
            .strip_prefix("value: ")
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| {
                RunError::Load(LoadError {
                    file: path.display().to_string(),
                    errors: vec![ExpError {
                        experiment: None,
                        key_path: "value".into(),
                        line: 1,
                        col: 1,
                        message: format!("not a value line: {text:?}"),
                        hint: None,
                        source_line: Some(text.clone()),
                    }],
                })
            })?;
        let mut r = self.template.clone();
        r.file = value.to_string();
        Ok(r)
    }
    fn set(&self, _: &Path, _: &[(String, String)]) -> Result<xpyd::edit::Outcome, String> {
        Err("this test searcher writes nothing".into())
    }
    fn sweep(
        &self,
        _: &Path,
        _: xpyd::exp::vary::VaryKey,
        _: &[f64],
        _: &CancelToken,
        _: &(dyn Fn(&xpyd::sweep::SweepPoint) + Sync),
    ) -> Result<(), RunError> {
        Err(RunError::Other("this test searcher does not sweep".into()))
    }
}

fn save(path: &Path, i: u32) {
    let content = format!("value: {i}\n");
    match i % 4 {
        // Truncate, then write in two pieces (a watcher may see the empty file).
        0 => {
            let mut f = fs::File::create(path).expect("truncate");
            f.write_all(b"value: ").expect("write");
            f.flush().expect("flush");
            f.write_all(format!("{i}\n").as_bytes()).expect("write");
        }
        // Write a temp file and rename it over (vim, VS Code, JetBrains).
        1 => {
            let tmp = path.with_extension(format!("yaml.tmp{i}"));
            fs::write(&tmp, &content).expect("temp write");
            fs::rename(&tmp, path).expect("rename");
        }
        // Delete, then create anew.
        2 => {
            fs::remove_file(path).expect("remove");
            fs::write(path, &content).expect("recreate");
        }
        _ => fs::write(path, &content).expect("write"),
    }
}

#[test]
fn two_hundred_rapid_saves_end_with_the_last_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("exp.yaml");
    fs::write(&path, "value: 0\n").expect("initial write");
    let searcher = Arc::new(Echo {
        template: tui_common::load("report_errors.json"),
        runs: AtomicUsize::new(0),
    });
    let (tx, rx) = mpsc::channel::<Action>();
    let mut app = App::new(path.display().to_string(), (80, 24), Instant::now());
    let (_watcher, mut worker) =
        start_background(&path, searcher.clone(), &mut app, &tx).expect("background starts");

    // Wait for the first search so the watcher is surely armed.
    let pump =
        |app: &mut App, worker: &mut xpyd::tui::Worker, until: &dyn Fn(&App) -> bool, secs: u64| {
            let deadline = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < deadline {
                if let Ok(a) = rx.recv_timeout(Duration::from_millis(20)) {
                    let _ = apply(app, worker, a);
                }
                if until(app) {
                    return true;
                }
            }
            false
        };
    assert!(
        pump(
            &mut app,
            &mut worker,
            &|a| a.report.as_ref().is_some_and(|r| r.file == "0"),
            10
        ),
        "first search never finished"
    );

    for i in 1..=200 {
        save(&path, i);
        if i % 25 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    let done =
        |a: &App| !a.is_running() && a.report.as_ref().is_some_and(|r| r.file == "200") && !a.stale;
    let ok = pump(&mut app, &mut worker, &done, 20);
    assert!(
        ok,
        "last save not delivered: showing {:?}, stale {}, error {:?}, running {}",
        app.report.as_ref().map(|r| r.file.clone()),
        app.stale,
        app.error,
        app.is_running()
    );
    // Nothing older may overwrite it afterwards.
    pump(&mut app, &mut worker, &|_| false, 1);
    assert_eq!(app.report.as_ref().map(|r| r.file.as_str()), Some("200"));
    assert!(!app.stale && app.error.is_none());
    let runs = searcher.runs.load(Ordering::SeqCst);
    // Debouncing and latest-wins collapse the burst; every save its own search would be 201.
    assert!(runs < 150, "{runs} searches for 200 saves");
    assert_eq!(app.shown_generation, app.generation);
}

#[test]
fn broken_save_keeps_results_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("exp.yaml");
    fs::write(&path, "value: 7\n").expect("initial write");
    let searcher = Arc::new(Echo {
        template: tui_common::load("report_qwen.json"),
        runs: AtomicUsize::new(0),
    });
    let (tx, rx) = mpsc::channel::<Action>();
    let mut app = App::new(path.display().to_string(), (80, 24), Instant::now());
    let (_watcher, mut worker) =
        start_background(&path, searcher, &mut app, &tx).expect("background starts");
    let mut pump = |app: &mut App, until: &dyn Fn(&App) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(20)) {
                let _ = apply(app, &mut worker, a);
            }
            if until(app) {
                return true;
            }
        }
        false
    };
    assert!(pump(&mut app, &|a| a
        .report
        .as_ref()
        .is_some_and(|r| r.file == "7")));
    fs::write(&path, "value: oops\n").expect("broken write");
    assert!(pump(&mut app, &|a| a.stale), "broken save not marked stale");
    assert_eq!(app.report.as_ref().map(|r| r.file.as_str()), Some("7"));
    let text = tui_common::screen(&app);
    assert!(text.contains(":1:1"), "{text}");
    assert!(text.contains("value: oops"), "{text}");
    fs::write(&path, "value: 8\n").expect("fixed write");
    assert!(pump(&mut app, &|a| !a.stale
        && a.report.as_ref().is_some_and(|r| r.file == "8")));
}
