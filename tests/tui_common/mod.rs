//! Helpers shared by the TUI tests: fixture reports, apps loaded with them, text rendering.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xpyd::report::RunReport;
use xpyd::tui::update::request_search;
use xpyd::tui::{update, Action, App};

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn load(name: &str) -> RunReport {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// An app that asked for one search and got `report` back, as the runtime would drive it.
pub fn app_with(report: RunReport, w: u16, h: u16) -> App {
    let mut app = App::new(report.file.clone(), (w, h), Instant::now());
    request_search(&mut app);
    let generation = app.generation;
    update(
        &mut app,
        Action::SearchDone {
            generation,
            elapsed: Duration::from_millis(1234),
            result: Ok(report),
        },
    );
    app
}

pub fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Action {
    Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        update(app, key(c));
    }
}

pub fn terminal(w: u16, h: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(w, h)).expect("TestBackend never fails")
}

/// Render `app` at its own size and return the screen as lines of text.
pub fn screen(app: &App) -> String {
    let mut t = terminal(app.size.0, app.size.1);
    t.draw(|f| xpyd::tui::view::render(app, f))
        .expect("TestBackend never fails");
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `report` with the warnings `xpyd run` gives an agg experiment carrying an
/// `advanced_tuning_config` block and a workload past the context window,
/// both on its first experiment (as the engine fills both lists).
pub fn with_warnings(mut report: RunReport) -> RunReport {
    let Some(first) = report.experiments.first_mut() else {
        return report;
    };
    let name = first.name.clone();
    let file = report.file.clone();
    let warn = |line: usize, col: usize, key: &str, message: &str| xpyd::report::Warning {
        experiment: Some(name.clone()),
        key_path: key.into(),
        line,
        col,
        message: message.into(),
        text: format!("{file}:{line}:{col}: experiment '{name}': key '{key}': {message}"),
    };
    let ws = vec![
        warn(
            8,
            8,
            "isl",
            "isl + osl = 41000 tokens exceeds Qwen/Qwen3-32B's context window \
             (max_position_embeddings 40960); the estimate still runs, but a server would \
             reject or truncate such requests (shorten isl or osl)",
        ),
        warn(
            12,
            5,
            "config.advanced_tuning_config",
            "ignored: advanced_tuning_config tunes disaggregated rate matching, and \
             serving_mode is agg (remove it, or set serving_mode: disagg)",
        ),
    ];
    first.warnings = ws.clone();
    report.warnings = ws;
    report
}

/// A fake [`xpyd::tui::Fetcher`]: reports `steps`, then returns `outcome`.
pub struct FakeFetcher {
    pub steps: Vec<xpyd::system::fetch::FetchProgress>,
    pub outcome: Result<PathBuf, String>,
}

impl xpyd::tui::Fetcher for FakeFetcher {
    fn fetch(
        &self,
        progress: &mut dyn FnMut(xpyd::system::fetch::FetchProgress),
    ) -> Result<PathBuf, String> {
        for s in &self.steps {
            progress(s.clone());
        }
        self.outcome.clone()
    }
}

/// Run `fetcher` as the explorer does (its own thread) and collect what it sends.
pub fn run_fetcher(fetcher: FakeFetcher) -> Vec<Action> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = xpyd::tui::fetcher::spawn(std::sync::Arc::new(fetcher), tx)
        .expect("spawning the fetch thread");
    handle.join().expect("the fetch thread does not panic");
    rx.try_iter().collect()
}

/// The download steps a real fetch reports, in order.
pub fn download_steps() -> Vec<xpyd::system::fetch::FetchProgress> {
    use xpyd::system::fetch::FetchProgress as P;
    vec![
        P::Downloading {
            bytes: 0,
            total: None,
        },
        P::Downloading {
            bytes: 12_000_000,
            total: None,
        },
        P::Downloading {
            bytes: 23_400_000,
            total: Some(61_200_000),
        },
        P::Unpacking {
            wheel: "aiconfigurator_core-0.12.0-py3-none-any.whl".into(),
        },
        P::Done {
            path: "/cache/xpyd/aiconfigurator-core-0.12.0".into(),
        },
    ]
}

/// A sweep point at `value` whose best rows are `report`'s, each with its
/// tokens/s/gpu and tokens/s/user scaled by `scale` (stand-in sweep data).
pub fn sweep_point(report: &RunReport, value: f64, scale: f64) -> xpyd::sweep::SweepPoint {
    xpyd::sweep::SweepPoint {
        value,
        experiments: report
            .experiments
            .iter()
            .map(|e| xpyd::sweep::SweepCell {
                experiment: e.name.clone(),
                status: e.status,
                error: None,
                best: e.best.clone().map(|mut b| {
                    b.tokens_per_s_per_gpu = (b.tokens_per_s_per_gpu * scale).round();
                    b.tokens_per_s_per_user = (b.tokens_per_s_per_user * scale).round();
                    b
                }),
            })
            .collect(),
        elapsed_ms: 10.0,
    }
}
