//! Runs sensitivity sweeps beside the main search, one at a time: a new
//! sweep (or an edit) cancels the one in flight. Points go to the UI as they
//! are done.

use super::action::{Action, SearchFailure};
use super::worker::Searcher;
use crate::exp::vary::VaryKey;
use crate::run::CancelToken;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::Arc;

#[derive(Default)]
pub struct Sweeper {
    current: Option<CancelToken>,
}

/// What one sweep needs.
pub struct SweepJob {
    pub id: u64,
    pub key: VaryKey,
    pub values: Vec<f64>,
    pub path: PathBuf,
}

impl Sweeper {
    /// Cancel the sweep in flight and start `job` on its own thread.
    pub fn start(&mut self, searcher: Arc<dyn Searcher>, job: SweepJob, tx: Sender<Action>) {
        self.cancel();
        let cancel = CancelToken::new();
        self.current = Some(cancel.clone());
        let id = job.id;
        let done_tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("xpyd-sweep".into())
            .spawn(move || {
                let on_point = |p: &crate::sweep::SweepPoint| {
                    let _ = tx.send(Action::SweepPoint {
                        id,
                        point: p.clone(),
                    });
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    searcher.sweep(&job.path, job.key, &job.values, &cancel, &on_point)
                }));
                let result = match result {
                    Ok(r) => r.map_err(SearchFailure::from),
                    Err(_) => Err(SearchFailure::Other("the sweep panicked".into())),
                };
                let _ = tx.send(Action::SweepDone { id, result });
            });
        if let Err(e) = spawned {
            let _ = done_tx.send(Action::SweepDone {
                id,
                result: Err(SearchFailure::Other(format!(
                    "could not start the sweep thread: {e}"
                ))),
            });
        }
    }

    pub fn cancel(&mut self) {
        if let Some(c) = self.current.take() {
            c.cancel();
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.cancel();
    }
}
