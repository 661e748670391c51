//! Logs go to a file, never to the screen the TUI owns.
//! `XPYD_LOG` names the file (default: `xpyd-tui.log` in the temp folder).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

struct FileLogger {
    file: Mutex<File>,
}

impl log::Log for FileLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{secs:.3} {:5} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {
        if let Ok(mut f) = self.file.lock() {
            let _ = f.flush();
        }
    }
}

pub fn log_path() -> PathBuf {
    std::env::var_os("XPYD_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("xpyd-tui.log"))
}

/// Install the file logger; returns where it writes. Failing to log is not fatal,
/// and an already installed logger (another front end) is kept.
pub fn init() -> Option<PathBuf> {
    let path = log_path();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let logger = FileLogger {
        file: Mutex::new(file),
    };
    // Leaked once per process: the logger lives as long as the program.
    if log::set_logger(Box::leak(Box::new(logger))).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    Some(path)
}
