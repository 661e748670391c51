//! Parity of the reference-compatible verbs with the reference's own
//! outputs (`tests/fixtures/reference_verbs/<verb>/<case>/`: the exact
//! command in `cmd.txt`, its console output in `stdout.txt`). Each case's
//! command line is parsed by xpyd's own clap definitions, so the flag names
//! and aliases are exercised too. Needs the measured database; skips with a
//! message otherwise.

use clap::Parser;
use std::path::{Path, PathBuf};
use xpyd::run::Session;
use xpyd::verbs;

fn session() -> Option<Session> {
    match Session::open_in_memory(None) {
        Ok(s) if s.database_info().kind == "measured" => Some(s),
        _ => {
            eprintln!("SKIP: no measured database (run `xpyd db fetch` or set XPYD_SYSTEMS_DIR)");
            None
        }
    }
}

fn root(verb: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference_verbs")
        .join(verb)
}

/// Cases of `verb` that the reference ran successfully: (name, argv after the verb, stdout).
fn ok_cases(verb: &str) -> Vec<(String, Vec<String>, String)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root(verb))
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cmd.txt").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let cmd = std::fs::read_to_string(d.join("cmd.txt")).expect("cmd.txt");
        let mut lines = cmd.lines();
        let line = lines.next().unwrap_or_default().replace('\\', "");
        if !lines.next().unwrap_or_default().contains("status=ok") {
            continue;
        }
        let prefix = format!("aiconfigurator cli {verb} ");
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let tmp = std::env::temp_dir().join(format!("xpyd-verbs-{}-{verb}", std::process::id()));
        let argv: Vec<String> = rest
            .split_whitespace()
            .map(|t| t.replace("SAVE_DIR", &tmp.display().to_string()))
            .collect();
        let stdout = std::fs::read_to_string(d.join("stdout.txt")).expect("stdout.txt");
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push((name, argv, stdout));
    }
    out
}

/// The number after `label` on the reference's console output (commas dropped).
fn value(stdout: &str, label: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.replace(',', "").parse().ok())
}

#[derive(Parser)]
struct EstimateCli {
    #[command(flatten)]
    a: verbs::estimate::EstimateArgs,
}

fn close(ours: f64, theirs: f64, rel: f64) -> bool {
    (ours - theirs).abs() <= rel * theirs.abs().max(1e-9)
}

#[test]
fn estimate_equals_the_reference() {
    let Some(session) = session() else { return };
    let mut compared = Vec::new();
    for (name, argv, stdout) in ok_cases("estimate") {
        let cli = EstimateCli::try_parse_from(std::iter::once("estimate".to_string()).chain(argv))
            .unwrap_or_else(|e| panic!("{name}: flags do not parse: {e}"));
        let res = verbs::estimate::estimate(&session, &cli.a);
        let e = match res {
            Ok(e) => e,
            Err(m) if m.contains("is not supported") => {
                eprintln!("{name}: not compared ({m})");
                continue;
            }
            Err(m) => panic!("{name}: {m}"),
        };
        let (ttft, tpot) = (value(&stdout, "TTFT:"), value(&stdout, "TPOT:"));
        let (ttft, tpot) = (ttft.expect("TTFT"), tpot.expect("TPOT"));
        assert!(
            close(e.row.ttft_ms, ttft, 1e-4),
            "{name}: TTFT {} vs reference {ttft}",
            e.row.ttft_ms
        );
        assert!(
            close(e.row.tpot_ms, tpot, 1e-4),
            "{name}: TPOT {} vs reference {tpot}",
            e.row.tpot_ms
        );
        let tpg = value(&stdout, "tokens/s/gpu:").expect("tokens/s/gpu");
        assert!(
            close(e.row.tokens_per_s_per_gpu, tpg, 1e-3),
            "{name}: tokens/s/gpu {} vs reference {tpg}",
            e.row.tokens_per_s_per_gpu
        );
        if let Some(c) = value(&stdout, "Concurrency:") {
            assert_eq!(e.row.concurrency.round(), c, "{name}: concurrency");
        }
        if let Some(m) = value(&stdout, "Memory (GPU):") {
            assert!(
                close(e.row.memory_gib, m, 1e-3),
                "{name}: memory {} vs {m}",
                e.row.memory_gib
            );
        }
        let warned = stdout.contains("exceeds estimated KV cache capacity");
        assert_eq!(
            e.kv_warning.is_some(),
            warned,
            "{name}: KV-capacity warning"
        );
        compared.push(name);
    }
    eprintln!("estimate cases compared: {compared:?}");
    assert!(
        compared.len() >= 8,
        "only {} estimate cases compared",
        compared.len()
    );
}

#[test]
fn estimate_reports_the_reference_ooms() {
    let Some(session) = session() else { return };
    let mut seen = 0;
    for d in std::fs::read_dir(root("estimate"))
        .expect("fixtures")
        .flatten()
    {
        let name = d.file_name().to_string_lossy().into_owned();
        if !name.ends_with("FAILED_oom") {
            continue;
        }
        let cmd = std::fs::read_to_string(d.path().join("cmd.txt")).expect("cmd");
        let line = cmd.lines().next().unwrap_or_default().replace('\\', "");
        let argv = line
            .trim_start_matches("aiconfigurator cli estimate ")
            .split_whitespace();
        let cli =
            EstimateCli::try_parse_from(std::iter::once("estimate").chain(argv)).expect("flags");
        match verbs::estimate::estimate(&session, &cli.a) {
            Err(m) if m.contains("is not supported") => continue,
            Err(m) => assert!(m.starts_with("OOM"), "{name}: {m}"),
            Ok(e) => panic!(
                "{name}: priced ({} ms TTFT) but the reference ran out of memory",
                e.row.ttft_ms
            ),
        }
        seen += 1;
    }
    assert!(seen >= 2, "only {seen} OOM cases checked");
}
