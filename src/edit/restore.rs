//! Undo and redo of a write: put a file's earlier bytes back, but only over
//! the exact bytes the write left. If anyone changed the file since, their
//! change wins and nothing is written.

use std::path::Path;

#[derive(Debug, PartialEq)]
pub enum RestoreError {
    /// The file no longer holds what the write left (another editor saved).
    Changed,
    Io(String),
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::Changed => {
                f.write_str("the file was changed by someone else since; not overwritten")
            }
            RestoreError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RestoreError {}

/// Replace the file at `path` with `bytes` (atomically) if it holds exactly
/// `expect`.
pub fn restore(path: &Path, expect: &[u8], bytes: &[u8]) -> Result<(), RestoreError> {
    let now =
        std::fs::read(path).map_err(|e| RestoreError::Io(format!("{}: {e}", path.display())))?;
    if now != expect {
        return Err(RestoreError::Changed);
    }
    super::write_atomic(path, bytes)
        .map_err(|e| RestoreError::Io(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_only_over_the_expected_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("e.yaml");
        std::fs::write(&p, b"a: 2\r\n").expect("write");
        assert_eq!(restore(&p, b"a: 2\r\n", b"a: 1\r\n"), Ok(()));
        assert_eq!(std::fs::read(&p).expect("read"), b"a: 1\r\n");
        // Someone else saved meanwhile: their bytes stay.
        assert_eq!(
            restore(&p, b"a: 2\r\n", b"a: 0\n"),
            Err(RestoreError::Changed)
        );
        assert_eq!(std::fs::read(&p).expect("read"), b"a: 1\r\n");
    }
}
