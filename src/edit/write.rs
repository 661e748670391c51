//! Atomic replacement of a file: a temporary file in the same folder, then a
//! rename over the original, so a watcher or an editor never sees half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically, keeping the file's permissions. A
/// symlink is followed: the file it points at is replaced, the link stays.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "exp".into());
    let perms = fs::metadata(&target).ok().map(|m| m.permissions());
    // Same folder, so the rename stays on one filesystem and is atomic.
    let (tmp, mut file) = create_temp(&dir, &name)?;
    let result = (|| {
        file.write_all(bytes)?;
        if let Some(p) = perms {
            fs::set_permissions(&tmp, p)?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        // Persist the rename itself; not every platform can open a folder.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, fs::File)> {
    let pid = std::process::id();
    let mut last = None;
    for n in 0..100u32 {
        // A dot name so file listings and globs like `*.yaml` skip it.
        let tmp = dir.join(format!(".{name}.xpyd-set-{pid}-{n}.tmp"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}
