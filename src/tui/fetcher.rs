//! The database, one key away: `F` runs the same download and unpack as
//! `xpyd db fetch` on a background thread. Its progress and outcome come back
//! as [`Action`]s like everything else; tests swap in a fake [`Fetcher`].

use super::action::Action;
use crate::system::fetch::FetchProgress;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The command that does the same by hand; failures name it.
pub const MANUAL_COMMAND: &str = "xpyd db fetch";

/// Gets the measured database onto this machine. Returns the installed
/// systems folder, or why it could not (shown to the user as is).
pub trait Fetcher: Send + Sync {
    fn fetch(&self, progress: &mut dyn FnMut(FetchProgress)) -> Result<PathBuf, String>;
}

/// The real one: [`crate::system::fetch`] into the default cache, where
/// database discovery looks next time a session opens.
pub struct DbFetcher;

impl Fetcher for DbFetcher {
    fn fetch(&self, progress: &mut dyn FnMut(FetchProgress)) -> Result<PathBuf, String> {
        crate::system::fetch(None, &mut |p: &FetchProgress| progress(p.clone()))
            .map(|loc| loc.systems_dir)
            .map_err(|e| e.to_string())
    }
}

/// Name of the fetch thread.
pub const THREAD_NAME: &str = "xpyd-fetch";

/// Run `fetcher` on its own thread, sending [`Action::FetchProgress`] as it
/// goes and one [`Action::FetchDone`] at the end (a panic counts as a failure).
pub fn spawn(fetcher: Arc<dyn Fetcher>, out: Sender<Action>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            log::info!("database fetch started");
            let progress_tx = out.clone();
            let result = catch_unwind(AssertUnwindSafe(|| {
                fetcher.fetch(&mut |p| {
                    // The UI may have quit meanwhile; the fetch still finishes
                    // so the cache is never left half-written.
                    let _ = progress_tx.send(Action::FetchProgress(p));
                })
            }))
            .unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Err(format!("the fetch panicked: {msg}"))
            });
            match &result {
                Ok(p) => log::info!("database fetched into {}", p.display()),
                Err(e) => log::error!("database fetch failed: {e}"),
            }
            let _ = out.send(Action::FetchDone(result));
        })
}
