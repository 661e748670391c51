//! The `xpyd set` corpus: `tests/set/<case>/{input.yaml, args.txt}` and either
//! `expected.yaml` (the exact bytes after the write) or `expected_error.txt`
//! (the message; the file must then be left untouched). Every case runs
//! through the library write path on a temporary copy; a few also run through
//! the real binary. `XPYD_UPDATE_SET=1` rewrites the expectations.

mod common;

use common::fake_catalog::FakeCatalog;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/set")
}

fn args(case: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(case.join("args.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn validate(text: &str) -> Result<(), String> {
    xpyd::exp::load_str(text, "input.yaml", &FakeCatalog)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn corpus_cases() {
    let update = std::env::var_os("XPYD_UPDATE_SET").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 20, "corpus went missing");
    let mut failures = Vec::new();
    for case in &dirs {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let input = std::fs::read(case.join("input.yaml")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("input.yaml");
        std::fs::write(&file, &input).unwrap();
        let result = xpyd::edit::set_file(&file, &args(case), validate);
        let after = std::fs::read(&file).unwrap();
        match result {
            Ok(out) => {
                assert_eq!(out.previous, input, "{name}: previous bytes");
                assert_eq!(out.text.as_bytes(), &after[..], "{name}: written text");
                if update {
                    std::fs::write(case.join("expected.yaml"), &after).unwrap();
                    let _ = std::fs::remove_file(case.join("expected_error.txt"));
                    continue;
                }
                match std::fs::read(case.join("expected.yaml")) {
                    Ok(want) if want == after => {}
                    Ok(want) => failures.push(format!(
                        "{name}: got\n{}\nwant\n{}",
                        String::from_utf8_lossy(&after),
                        String::from_utf8_lossy(&want)
                    )),
                    Err(_) => failures.push(format!("{name}: succeeded but expects an error")),
                }
            }
            Err(e) => {
                assert_eq!(after, input, "{name}: a failed set must not write");
                let got = format!("{e}\n");
                if update {
                    std::fs::write(case.join("expected_error.txt"), &got).unwrap();
                    let _ = std::fs::remove_file(case.join("expected.yaml"));
                    continue;
                }
                match std::fs::read_to_string(case.join("expected_error.txt")) {
                    Ok(want) if want == got => {}
                    Ok(want) => failures.push(format!("{name}: error\n{got}want\n{want}")),
                    Err(_) => failures.push(format!("{name}: failed: {got}")),
                }
            }
        }
        // Every accepted edit must be loadable; a no-op re-run changes nothing.
        if case.join("expected.yaml").exists() {
            let again = xpyd::edit::set_file(&file, &args(case), validate).unwrap();
            assert!(
                !again.changed,
                "{name}: setting the same values twice changed the file"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn xpyd_bin(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xpyd"));
    c.env("XPYD_SYSTEMS_DIR", "").env("XDG_CACHE_HOME", cache);
    c
}

/// The binary writes the same bytes as the library and prints nothing odd.
#[test]
fn binary_writes_expected_bytes() {
    for name in [
        "comment_kept_scalar",
        "crlf_replace_and_insert",
        "absent_config_block",
    ] {
        let case = corpus().join(name);
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let file = tmp.path().join("exp.yaml");
        std::fs::copy(case.join("input.yaml"), &file).unwrap();
        let pairs: Vec<String> = args(&case)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let out = xpyd_bin(&cache)
            .arg("set")
            .arg(&file)
            .args(&pairs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            std::fs::read(case.join("expected.yaml")).unwrap(),
            "{name}"
        );
    }
}

/// An invalid result: non-zero exit, a located error, the file untouched.
#[test]
fn binary_refuses_invalid_result() {
    let case = corpus().join("invalid_type_refused");
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let file = tmp.path().join("exp.yaml");
    std::fs::copy(case.join("input.yaml"), &file).unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = xpyd_bin(&cache)
        .arg("set")
        .arg(&file)
        .arg("qwen_agg.isl=lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was written") && err.contains("isl"),
        "{err}"
    );
    assert!(err.contains("exp.yaml:"), "error is located: {err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // Malformed arguments fail before anything is read.
    let out = xpyd_bin(&cache)
        .arg("set")
        .arg(&file)
        .arg("qwen_agg.isl")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

/// Permissions survive the atomic rename, and no temporary file is left.
#[cfg(unix)]
#[test]
fn write_keeps_permissions_and_leaves_no_temp() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("exp.yaml");
    std::fs::copy(corpus().join("comment_kept_scalar/input.yaml"), &file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    xpyd::edit::set_file(&file, &[("qwen_agg.isl", "123")], validate).unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "temporary file left behind");
}
