//! The search runs on one background thread (the engine parallelises inside with rayon).
//! Latest wins: a new request cancels the one in flight, and requests that queued up
//! while it was running collapse into the newest one.

use super::action::{Action, ProgressMsg, SearchFailure};
use crate::edit::Outcome;
use crate::exp::vary::VaryKey;
use crate::report::RunReport;
use crate::run::{CancelToken, Progress, RunError, RunOptions, Session};
use crate::sweep::SweepPoint;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// What the TUI needs from the engine; the real one searches in a [`Session`], tests fake it.
pub trait Searcher: Send + Sync {
    fn run(
        &self,
        path: &Path,
        cancel: &CancelToken,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError>;

    /// Called once a result has been handed to the UI: time for housekeeping
    /// that must not delay it.
    fn idle(&self) {}

    /// The database on disk changed (a fetch installed it): searches from now
    /// on must locate and open it again. Called on the UI thread, so it only
    /// marks; the reopening happens in the next `run`.
    fn reopen(&self) {}

    /// `xpyd set` on the watched file: `edits` applied in place if the
    /// result loads, else nothing written and the located error returned.
    fn set(&self, path: &Path, edits: &[(String, String)]) -> Result<Outcome, String>;

    /// Search `path` once per value of `key`, reporting each point.
    fn sweep(
        &self,
        path: &Path,
        key: VaryKey,
        values: &[f64],
        cancel: &CancelToken,
        on_point: &(dyn Fn(&SweepPoint) + Sync),
    ) -> Result<(), RunError>;
}

/// The engine, with the options the user gave. One session for the whole
/// life of the explorer: a re-search after an edit reuses the loaded tables,
/// the built engines and every memoized step.
pub struct EngineSearcher {
    opts: RunOptions,
    session: Mutex<Option<Arc<Session>>>,
    /// Set by [`Searcher::reopen`]: drop the session before the next search.
    reopen: AtomicBool,
}

impl EngineSearcher {
    pub fn new(opts: RunOptions) -> Self {
        EngineSearcher {
            opts,
            session: Mutex::new(None),
            reopen: AtomicBool::new(false),
        }
    }

    /// Search in a session opened by the caller.
    pub fn with_session(opts: RunOptions, session: Session) -> Self {
        EngineSearcher {
            opts,
            session: Mutex::new(Some(Arc::new(session))),
            reopen: AtomicBool::new(false),
        }
    }

    /// Engine evaluations of this searcher's session so far.
    pub fn evaluations(&self) -> u64 {
        match self.session.lock() {
            Ok(s) => s.as_ref().map_or(0, |s| s.cache.evaluations()),
            Err(_) => 0,
        }
    }

    /// The session, opened on first use; a failed open is retried next time
    /// (the user may fix the database location meanwhile).
    fn session(&self) -> Result<Arc<Session>, RunError> {
        let mut slot = self
            .session
            .lock()
            .map_err(|_| RunError::Other("search session lock poisoned".into()))?;
        if self.reopen.swap(false, Ordering::SeqCst) {
            // Keep what the old session memoized (its store is keyed by the
            // database's fingerprint, so it never answers for the new one).
            if let Some(old) = slot.take() {
                old.cache.persist();
            }
        }
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(Session::open(self.opts.systems_dir.as_deref())?);
        *slot = Some(s.clone());
        Ok(s)
    }
}

impl Searcher for EngineSearcher {
    fn run(
        &self,
        path: &Path,
        cancel: &CancelToken,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RunReport, RunError> {
        self.session()?.run_file(path, &self.opts, cancel, progress)
    }

    fn set(&self, path: &Path, edits: &[(String, String)]) -> Result<Outcome, String> {
        let session = self.session().map_err(|e| e.to_string())?;
        session.set_file(path, edits).map_err(|e| e.to_string())
    }

    fn sweep(
        &self,
        path: &Path,
        key: VaryKey,
        values: &[f64],
        cancel: &CancelToken,
        on_point: &(dyn Fn(&SweepPoint) + Sync),
    ) -> Result<(), RunError> {
        // One best row per experiment and value: no feasible lists needed.
        let opts = RunOptions {
            top_n: 1,
            keep_feasible: false,
            ..self.opts.clone()
        };
        crate::sweep::sweep(
            &*self.session()?,
            path,
            key,
            values,
            &opts,
            cancel,
            on_point,
        )
        .map(|_| ())
    }

    fn idle(&self) {
        if let Ok(Some(s)) = self.session.lock().map(|s| s.clone()) {
            s.cache.persist();
        }
    }

    fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
    }
}

impl From<Progress> for ProgressMsg {
    fn from(p: Progress) -> Self {
        match p {
            Progress::Planned { experiments } => ProgressMsg::Planned(experiments),
            Progress::Partial {
                experiment,
                done_fraction,
                pareto,
            } => ProgressMsg::Partial {
                experiment,
                done_fraction,
                pareto,
            },
            Progress::ExperimentDone(e) => ProgressMsg::ExperimentDone(e),
        }
    }
}

struct Job {
    generation: u64,
    cancel: CancelToken,
}

/// Handle to the search thread.
pub struct Worker {
    searcher: Arc<dyn Searcher>,
    jobs: Option<Sender<Job>>,
    current: Option<CancelToken>,
    handle: Option<JoinHandle<()>>,
}

/// Name of the search thread; the panic hook recognises it (its panics are caught).
pub const THREAD_NAME: &str = "xpyd-search";

impl Worker {
    pub fn spawn(
        searcher: Arc<dyn Searcher>,
        path: PathBuf,
        out: Sender<Action>,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = mpsc::channel::<Job>();
        let on_thread = searcher.clone();
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || worker_loop(on_thread.as_ref(), &path, rx, out))?;
        Ok(Worker {
            searcher,
            jobs: Some(tx),
            current: None,
            handle: Some(handle),
        })
    }

    /// The searcher this worker runs (writes and sweeps use it too).
    pub fn searcher(&self) -> Arc<dyn Searcher> {
        self.searcher.clone()
    }

    /// The database changed on disk: the next search reopens it.
    pub fn reopen(&self) {
        self.searcher.reopen();
    }

    /// Cancel what runs and queue a search tagged `generation`.
    pub fn submit(&mut self, generation: u64) {
        if let Some(c) = self.current.take() {
            c.cancel();
        }
        let cancel = CancelToken::new();
        self.current = Some(cancel.clone());
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job { generation, cancel }).is_err() {
                log::error!("search thread is gone; generation {generation} not started");
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(c) = self.current.take() {
            c.cancel();
        }
        // Closing the job channel ends the loop once the cancelled search returns.
        self.jobs = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn worker_loop(searcher: &dyn Searcher, path: &Path, rx: Receiver<Job>, out: Sender<Action>) {
    while let Ok(mut job) = rx.recv() {
        // Only the newest queued request matters.
        while let Ok(newer) = rx.try_recv() {
            job = newer;
        }
        if job.cancel.is_cancelled() {
            continue;
        }
        let generation = job.generation;
        let started = Instant::now();
        let progress_tx = out.clone();
        let progress = move |p: Progress| {
            let _ = progress_tx.send(Action::Progress {
                generation,
                msg: p.into(),
            });
        };
        log::info!("search generation {generation} started");
        let result = catch_unwind(AssertUnwindSafe(|| {
            searcher.run(path, &job.cancel, &progress)
        }));
        let result = match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(SearchFailure::from(e)),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                log::error!("search generation {generation} panicked: {msg}");
                Err(SearchFailure::Other(format!("the search panicked: {msg}")))
            }
        };
        let elapsed = started.elapsed();
        log::info!(
            "search generation {generation} finished in {:.3}s: {}",
            elapsed.as_secs_f64(),
            if result.is_ok() { "ok" } else { "error" }
        );
        if out
            .send(Action::SearchDone {
                generation,
                elapsed,
                result,
            })
            .is_err()
        {
            break;
        }
        searcher.idle();
    }
}
