//! Watches FILE through its parent folder: editors that save by writing a temp file and
//! renaming it over FILE (vim, VS Code, JetBrains) replace the inode, which a watch on the
//! file itself would lose. Watching the folder also sees a deleted file come back.

use super::action::Action;
use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// Keeps the watch alive; dropping it stops watching.
pub struct FileWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0} has no file name")]
    NoFileName(PathBuf),
    #[error("cannot resolve the folder of {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot watch {dir}: {source}")]
    Notify { dir: PathBuf, source: notify::Error },
}

/// Whether an event kind can mean new content. Opens and reads (our own search reads
/// the file) must not count, or every search would trigger the next one.
pub fn is_content_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(m)) => {
            matches!(m, MetadataKind::WriteTime | MetadataKind::Any)
        }
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other | EventKind::Any => false,
    }
}

/// Start watching `path`; every debounced change to it sends [`Action::FileChanged`].
pub fn watch(
    path: &Path,
    tx: Sender<Action>,
    debounce: Duration,
) -> Result<FileWatcher, WatchError> {
    let name: OsString = path
        .file_name()
        .ok_or_else(|| WatchError::NoFileName(path.to_path_buf()))?
        .to_os_string();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = parent.canonicalize().map_err(|source| WatchError::Folder {
        path: path.to_path_buf(),
        source,
    })?;
    let handler = move |res: DebounceEventResult| match res {
        Ok(events) => {
            // One batch may hold many saves; one rerun covers them all.
            let hit = events.iter().any(|e| {
                is_content_change(&e.kind)
                    && e.paths
                        .iter()
                        .any(|p| p.file_name() == Some(name.as_os_str()))
            });
            if hit {
                let _ = tx.send(Action::FileChanged);
            }
        }
        Err(errors) => {
            for e in errors {
                log::warn!("watcher: {e}");
                let _ = tx.send(Action::WatchError(e.to_string()));
            }
        }
    };
    let mut debouncer =
        new_debouncer(debounce, None, handler).map_err(|source| WatchError::Notify {
            dir: dir.clone(),
            source,
        })?;
    debouncer
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError::Notify {
            dir: dir.clone(),
            source,
        })?;
    log::info!("watching {} for {}", dir.display(), path.display());
    Ok(FileWatcher {
        _debouncer: debouncer,
        dir,
    })
}
