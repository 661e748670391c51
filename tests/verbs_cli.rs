//! The reference-compatible verbs as scripts call them: reference flag
//! names parse, flags xpyd does not model fail in one line with a non-zero
//! exit, every verb's help shows an example, and `new` writes a file that
//! `check` accepts. Built-in specs only, so no database is needed.

use std::process::Command;

fn xpyd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xpyd"));
    c.env("XPYD_SYSTEMS_DIR", "")
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("xpyd-verbs-cli-cache"),
        )
        .env("XPYD_STEP_CACHE", "off");
    c
}

#[test]
fn unsupported_reference_flags_fail_in_one_line() {
    for (verb, flag) in [
        ("estimate", "--enable-epd"),
        ("default", "--free-gpu-memory-fraction"),
        ("default", "--strict-sla"),
        ("recommend", "--request-latency"),
        ("new", "--image-height"),
    ] {
        let mut args = vec![
            verb,
            "--model",
            "Qwen/Qwen3-32B",
            "--system",
            "h200_sxm",
            flag,
        ];
        if flag.starts_with("--free")
            || flag.starts_with("--request")
            || flag.starts_with("--image")
        {
            args.push("0.5");
        }
        match verb {
            "default" | "new" => args.extend(["--total-gpus", "8"]),
            "recommend" => args.extend(["--target-request-rate", "5"]),
            _ => {}
        }
        let out = xpyd().args(&args).output().expect("run xpyd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{verb} {flag}: succeeded");
        assert_eq!(err.trim().lines().count(), 1, "{verb} {flag}: {err}");
        assert!(
            err.contains(&format!("{flag} is not supported")),
            "{verb} {flag}: {err}"
        );
    }
}

#[test]
fn every_verb_help_has_an_example() {
    for verb in ["new", "default", "estimate", "recommend", "support"] {
        let out = xpyd().args([verb, "--help"]).output().expect("run xpyd");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{verb} --help failed");
        assert!(
            help.contains("Example"),
            "{verb} --help has no example:\n{help}"
        );
        assert!(
            help.contains(&format!("xpyd {verb} --model")),
            "{verb}: example is not a command line"
        );
        assert!(
            help.contains("--model-path"),
            "{verb}: reference flag name missing"
        );
    }
}

#[test]
fn reference_aliases_parse() {
    // --bs, --tp, --p-*/--d-* and --model: the reference's spellings.
    let out = xpyd()
        .args([
            "estimate",
            "--model",
            "Qwen/Qwen3-32B",
            "--system",
            "h200_sxm",
            "--estimate-mode",
            "disagg",
            "--p-tp",
            "2",
            "--p-bs",
            "1",
            "--p-workers",
            "2",
            "--d-tp",
            "4",
            "--d-bs",
            "64",
            "--d-workers",
            "1",
            "--format",
            "json",
        ])
        .output()
        .expect("run xpyd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["mode"], "disagg");
    assert_eq!(v["row"]["num_total_gpus"], 8);
    assert_eq!(v["row"]["prefill"]["workers"], 2);
    // Exactly one load target is required, as in the reference (argparse exit 2).
    let out = xpyd()
        .args([
            "recommend",
            "--model",
            "Qwen/Qwen3-32B",
            "--system",
            "h200_sxm",
        ])
        .output()
        .expect("run xpyd");
    assert_eq!(out.status.code(), Some(2));
    // A disagg estimate without worker counts names the missing flag.
    let out = xpyd()
        .args([
            "estimate",
            "--model",
            "Qwen/Qwen3-32B",
            "--system",
            "h200_sxm",
            "--estimate-mode",
            "disagg",
            "--p-tp",
            "2",
        ])
        .output()
        .expect("run xpyd");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prefill-batch-size"));
}

#[test]
fn new_writes_a_file_check_accepts() {
    let dir = std::env::temp_dir().join(format!("xpyd-new-{}", std::process::id()));
    let file = dir.join("starter.yaml");
    let out = xpyd()
        .args([
            "new",
            "--model",
            "Qwen/Qwen3-32B",
            "--system",
            "h200_sxm",
            "--total-gpus",
            "8",
            "-o",
        ])
        .arg(&file)
        .output()
        .expect("run xpyd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("written");
    for key in [
        "exps:",
        "agg:",
        "disagg:",
        "tp_list:",
        "replica_config:",
        "advanced_tuning_config:",
        "isl: 4000",
        "tpot: 30.0",
    ] {
        assert!(text.contains(key), "starter lacks {key}:\n{text}");
    }
    let out = xpyd().arg("check").arg(&file).output().expect("run xpyd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok, 2 experiment(s)"));
    let _ = std::fs::remove_dir_all(&dir);
}
