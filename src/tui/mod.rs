//! Terminal explorer: state, actions, panes, watcher, worker. Never computes latencies;
//! it displays, sorts and filters what the engine's [`RunReport`](crate::report::RunReport)s say.
//!
//! Shape (Elm-like): input, the file watcher, the search worker and a timer all send
//! [`Action`]s into one channel; [`update`] changes [`App`] and returns [`Effect`]s the
//! runtime performs; [`view::render`] draws `App` and nothing else.

pub mod action;
pub mod app;
pub mod export;
pub mod fetcher;
pub mod keymap;
pub mod layout;
pub mod logging;
pub mod panes;
pub mod sweeper;
pub mod term;
pub mod tuning;
pub mod update;
pub mod update_sizing;
pub mod update_tune;
pub mod view;
pub mod watcher;
pub mod worker;

pub use action::{Action, Change, Effect, ProgressMsg, SearchFailure};
pub use app::App;
pub use fetcher::{DbFetcher, Fetcher};
pub use update::update;
pub use worker::{EngineSearcher, Searcher, Worker};

use crate::run::RunOptions;
use color_eyre::eyre::{eyre, WrapErr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Quiet time after the last filesystem event before a save counts.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// Timer period: spinner and elapsed time while a search runs.
pub const TICK: Duration = Duration::from_millis(100);

/// `xpyd FILE`: open the explorer on FILE with the real engine.
pub fn run(path: &Path, opts: RunOptions) -> color_eyre::Result<()> {
    run_with(path, Arc::new(EngineSearcher::new(opts)))
}

/// Apply one action: run `update`, start searches on the worker (reopening
/// the database first when a fetch replaced it), hand back the rest.
pub fn apply(app: &mut App, worker: &mut Worker, action: Action) -> Vec<Effect> {
    let mut rest = Vec::new();
    for e in update(app, action) {
        match e {
            Effect::Search { generation } => worker.submit(generation),
            Effect::ReopenDatabase => worker.reopen(),
            other => rest.push(other),
        }
    }
    rest
}

/// Start the watcher and worker feeding `tx`, and kick off the first search.
pub fn start_background(
    path: &Path,
    searcher: Arc<dyn Searcher>,
    app: &mut App,
    tx: &Sender<Action>,
) -> color_eyre::Result<(watcher::FileWatcher, Worker)> {
    let w = watcher::watch(path, tx.clone(), DEBOUNCE)
        .wrap_err_with(|| format!("watching {}", path.display()))?;
    let mut worker = Worker::spawn(searcher, path.to_path_buf(), tx.clone())
        .wrap_err("starting the search thread")?;
    let first = update::request_search(app);
    if let Effect::Search { generation } = first {
        worker.submit(generation);
    }
    Ok((w, worker))
}

/// The explorer with any [`Searcher`] (tests and demos pass fakes) and the real fetcher.
pub fn run_with(path: &Path, searcher: Arc<dyn Searcher>) -> color_eyre::Result<()> {
    run_with_fetcher(path, searcher, Arc::new(DbFetcher))
}

/// The explorer with any [`Searcher`] and [`Fetcher`].
pub fn run_with_fetcher(
    path: &Path,
    searcher: Arc<dyn Searcher>,
    fetcher: Arc<dyn Fetcher>,
) -> color_eyre::Result<()> {
    let log_file = logging::init();
    term::install_hooks();
    if path.is_dir() {
        return Err(eyre!(
            "{} is a folder; xpyd needs an exp YAML file",
            path.display()
        ));
    }
    log::info!(
        "xpyd tui on {} (log {:?})",
        path.display(),
        log_file
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
    );
    let (tx, rx) = mpsc::channel::<Action>();
    let mut app = App::new(path.display().to_string(), (80, 24), Instant::now());
    let (_watcher, mut worker) = start_background(path, searcher, &mut app, &tx)?;
    spawn_ticker(tx.clone())?;

    let mut terminal = term::enter().wrap_err("setting up the terminal")?;
    let _guard = term::Guard;
    let input = term::Input::spawn(tx.clone()).wrap_err("starting the input thread")?;
    let size = terminal.size().wrap_err("reading the terminal size")?;
    update(&mut app, Action::Resize(size.width, size.height));

    let runtime = Runtime {
        input: &input,
        tx: &tx,
        rx: &rx,
        path,
        fetcher,
    };
    let mut sweeper = sweeper::Sweeper::default();
    let result = event_loop(&mut terminal, &mut app, &mut worker, &mut sweeper, &runtime);
    drop(worker);
    term::restore().wrap_err("restoring the terminal")?;
    result
}

fn spawn_ticker(tx: Sender<Action>) -> color_eyre::Result<()> {
    std::thread::Builder::new()
        .name("xpyd-tick".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            if tx.send(Action::Tick(Instant::now())).is_err() {
                return;
            }
        })
        .wrap_err("starting the timer thread")?;
    Ok(())
}

/// What the event loop needs besides the state and the worker.
struct Runtime<'a> {
    input: &'a term::Input,
    tx: &'a Sender<Action>,
    rx: &'a Receiver<Action>,
    path: &'a Path,
    fetcher: Arc<dyn Fetcher>,
}

fn event_loop(
    terminal: &mut term::Term,
    app: &mut App,
    worker: &mut Worker,
    sweeper: &mut sweeper::Sweeper,
    rt: &Runtime,
) -> color_eyre::Result<()> {
    let Runtime {
        input,
        tx,
        rx,
        path,
        ..
    } = *rt;
    let mut dirty = true;
    loop {
        if dirty {
            terminal
                .draw(|f| view::render(app, f))
                .wrap_err("drawing")?;
        }
        let first = rx.recv().map_err(|_| eyre!("all event sources stopped"))?;
        dirty = false;
        // Drain whatever queued up and draw once: a burst of events costs one frame.
        for action in std::iter::once(first).chain(rx.try_iter().take(512)) {
            dirty |= !matches!(action, Action::Tick(_)) || app.is_running();
            for effect in apply(app, worker, action) {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::OpenEditor => {
                        let r = open_editor(terminal, input, path);
                        let _ = tx.send(Action::EditorClosed(r));
                        dirty = true;
                    }
                    Effect::WriteFile { path, contents } => {
                        let _ = tx.send(Action::Written(write_snippet(&path, &contents)));
                    }
                    Effect::WriteBundle { exp, row } => {
                        let _ = tx.send(Action::Written(write_bundle(path, &exp, &row)));
                    }
                    Effect::FetchDatabase => {
                        // The thread is detached: it reports through `tx` and
                        // ends on its own. Quitting mid-download can leave a
                        // `.download-*` folder in the cache root, never a
                        // half-installed database (that is one atomic rename).
                        if let Err(e) = fetcher::spawn(rt.fetcher.clone(), tx.clone()) {
                            let _ = tx.send(Action::FetchDone(Err(format!(
                                "could not start the fetch thread: {e}"
                            ))));
                        }
                    }
                    Effect::SetValues { edits, label } => {
                        let r = set_values(worker.searcher().as_ref(), path, &edits, label);
                        let _ = tx.send(Action::KnobWritten(r));
                    }
                    Effect::Restore { change, undo } => {
                        let result = restore(path, &change, undo);
                        let _ = tx.send(Action::Restored {
                            change,
                            undo,
                            result,
                        });
                    }
                    Effect::StartSweep { id, key, values } => {
                        let job = sweeper::SweepJob {
                            id,
                            key,
                            values,
                            path: path.to_path_buf(),
                        };
                        sweeper.start(worker.searcher(), job, tx.clone());
                    }
                    Effect::CancelSweep => sweeper.cancel(),
                    // `apply` performs these.
                    Effect::Search { .. } | Effect::ReopenDatabase => {}
                }
            }
            if app.quit {
                return Ok(());
            }
        }
    }
}

/// A knob's write: `xpyd set` through the searcher's catalog.
pub fn set_values(
    searcher: &dyn Searcher,
    path: &Path,
    edits: &[(String, String)],
    label: String,
) -> Result<Change, String> {
    let o = searcher.set(path, edits)?;
    log::info!("knob wrote {label} into {}", path.display());
    Ok(Change {
        before: o.previous,
        after: o.text.into_bytes(),
        label,
        changed: o.changed,
    })
}

/// Undo (`undo`) or redo `change` on the file, if nobody changed it since.
pub fn restore(path: &Path, change: &Change, undo: bool) -> Result<(), String> {
    let (expect, bytes) = if undo {
        (&change.after, &change.before)
    } else {
        (&change.before, &change.after)
    };
    crate::edit::restore(path, expect, bytes).map_err(|e| e.to_string())
}

fn write_snippet(path: &Path, contents: &str) -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("no working folder: {e}"))?;
    let full = cwd.join(path);
    std::fs::write(&full, contents).map_err(|e| format!("{}: {e}", full.display()))?;
    log::info!("wrote {}", full.display());
    Ok(full)
}

/// A bundle folder beside the exp file, named after experiment and layout;
/// never an existing folder (a numeric suffix is added).
fn write_bundle(
    file: &Path,
    exp: &crate::report::ExperimentReport,
    row: &crate::report::Row,
) -> Result<PathBuf, String> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = crate::deploy::free_folder(&parent, exp, row);
    crate::deploy::write_bundle(exp, row, &dir, &crate::deploy::DeployOptions::default())
        .map_err(|e| e.to_string())?;
    log::info!("wrote bundle {}", dir.display());
    Ok(dir)
}

/// Hand the terminal to `$EDITOR` and take it back. The watcher keeps running, so saves
/// made in the editor are already being searched when the explorer returns.
fn open_editor(terminal: &mut term::Term, input: &term::Input, path: &Path) -> Result<(), String> {
    input.pause();
    let _ = term::restore();
    let (prog, args) = term::editor_command();
    let status = std::process::Command::new(&prog)
        .args(&args)
        .arg(path)
        .status();
    let back = term::enter().map(|t| *terminal = t);
    input.resume();
    back.map_err(|e| format!("could not restore the terminal: {e}"))?;
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{prog} exited with {s}")),
        Err(e) => Err(format!("could not start '{prog}': {e}")),
    }
}
