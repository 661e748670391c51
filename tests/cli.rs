//! The `xpyd` binary as scripts use it: a closed stdout pipe ends a command
//! quietly, and `check` reports warnings on stderr with an exit code that
//! depends on `--deny-warnings`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn xpyd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xpyd"));
    // Built-in specs only: fast, and independent of the machine's database.
    c.env("XPYD_SYSTEMS_DIR", "")
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("xpyd-cli-test-cache"),
        )
        .env("XPYD_STEP_CACHE", "off");
    c
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `xpyd run … | head -2`: the reader goes away after two lines; xpyd must
/// stop with success and no panic message, in every output format.
#[test]
fn closed_pipe_ends_quietly() {
    for format in ["json", "table", "csv"] {
        let mut child = xpyd()
            .args(["run", "--format", format])
            .arg(root().join("examples/quickstart.yaml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn xpyd");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        for _ in 0..2 {
            lines.next();
        }
        drop(lines);
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?}\n{stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
    }
}

#[test]
fn check_prints_warnings_and_denies_them_on_request() {
    let file = root().join("tests/warnings/tuning_in_agg/input.yaml");
    let out = xpyd().arg("check").arg(&file).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: {}:12:5: experiment 'qwen_agg': key 'config.advanced_tuning_config': ignored",
            file.display()
        )),
        "{stderr}"
    );
    let out = xpyd()
        .args(["check", "--deny-warnings"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    // A file without warnings passes either way.
    let clean = root().join("examples/quickstart.yaml");
    let out = xpyd()
        .args(["check", "--deny-warnings"])
        .arg(&clean)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
