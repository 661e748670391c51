//! End to end in a real terminal: the explorer runs in a detached tmux session of fixed
//! size on a temp YAML; the test edits the file (rename-save, broken save, fix), reads the
//! screen with `tmux capture-pane -p`, quits with `q` and checks the terminal came back.
//!
//! It drives `examples/tui_demo` with `--fake` (stand-in searcher over a fixture report)
//! by default; `XPYD_E2E_ENGINE=real XPYD_E2E_FILE=exp.yaml` drives the real engine instead
//! once `run_file` is wired. Skips (with a message) only when tmux is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod tmux_common;
use tmux_common::{gen_at_least, tmux_available, Tmux};

fn demo_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--example", "tui_demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build --example tui_demo");
    assert!(status.success(), "building examples/tui_demo failed");
    // tests live in target/<profile>/deps; examples in target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> folder");
    profile_dir.join("examples").join("tui_demo")
}

const BOTH: &str = "qwen_agg:\n  mode: patch\n  serving_mode: agg\nqwen_disagg:\n  mode: patch\n  serving_mode: disagg\n";
const AGG_ONLY: &str = "qwen_agg:\n  mode: patch\n  serving_mode: agg\n";
const BROKEN: &str = "qwen_agg:\n  mode: patch\n  serving_mode: [agg\nqwen_disagg: {\n";

fn has_line_col(s: &str) -> bool {
    // "exp.yaml:4:1"-style location after the file name.
    s.split("exp.yaml:").skip(1).any(|rest| {
        let mut parts = rest.splitn(3, ':');
        let a = parts.next().unwrap_or("");
        let b: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()) && !b.is_empty()
    })
}

/// Two small real experiments with the fixture's names, so the same screen checks apply.
const REAL_BOTH: &str = "qwen_agg:\n  mode: patch\n  serving_mode: agg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 8\n  system_name: h100_sxm\n  isl: 2000\n  osl: 200\nqwen_disagg:\n  mode: patch\n  serving_mode: disagg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 8\n  system_name: h100_sxm\n  isl: 2000\n  osl: 200\n";

#[test]
fn live_session_in_tmux() {
    let real = std::env::var("XPYD_E2E_ENGINE").is_ok_and(|v| v == "real");
    session(if real {
        Variant::DemoRealEngine
    } else {
        Variant::DemoFake
    });
}

/// The shipped `xpyd` binary itself, on the real engine (measured database when
/// one is found, built-in SOL specs otherwise).
#[test]
fn real_binary_session_in_tmux() {
    session(Variant::RealBinary);
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    DemoFake,
    DemoRealEngine,
    RealBinary,
}

fn session(variant: Variant) {
    if !tmux_available() {
        eprintln!("SKIPPED e2e_tmux: tmux is not installed (apt-get install tmux)");
        return;
    }
    // Loose screen checks only when driving an arbitrary user file.
    let real = variant == Variant::DemoRealEngine;
    let bin = if variant == Variant::RealBinary {
        PathBuf::from(env!("CARGO_BIN_EXE_xpyd"))
    } else {
        demo_binary()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("exp.yaml");
    let real_agg_only = REAL_BOTH
        .split("qwen_disagg:")
        .next()
        .unwrap_or(REAL_BOTH)
        .to_string();
    let (initial, both, agg_only) = if variant == Variant::RealBinary {
        (REAL_BOTH.to_string(), REAL_BOTH.to_string(), real_agg_only)
    } else if real {
        let src = std::env::var("XPYD_E2E_FILE").expect("XPYD_E2E_FILE names a real exp YAML");
        let text = std::fs::read_to_string(&src).expect("reading XPYD_E2E_FILE");
        (text.clone(), text.clone(), text)
    } else {
        (BOTH.to_string(), BOTH.to_string(), AGG_ONLY.to_string())
    };
    std::fs::write(&file, &initial).expect("writing exp.yaml");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report_qwen.json");
    // VISUAL/EDITOR=true: `e` suspends the app, "edits" and returns at once.
    let mut run = format!(
        "cd '{}' && VISUAL=true EDITOR=true XPYD_LOG='{}' XPYD_STEP_CACHE='{}' '{}'",
        dir.path().display(),
        dir.path().join("tui.log").display(),
        dir.path().join("steps").display(),
        bin.display()
    );
    if variant == Variant::DemoFake {
        run.push_str(&format!(" --fake '{}'", fixture.display()));
    }
    run.push_str(" exp.yaml; echo EXITED $?; sleep 60");
    let tmux = Tmux::start(
        format!("xpyd-e2e-{}-{}", std::process::id(), variant as u8),
        &run,
    );

    // 1. First results.
    let first = "the first results";
    if real {
        tmux.wait_for(first, |s| s.contains("gen 1") && s.contains("Experiments"));
    } else {
        tmux.wait_for(first, |s| {
            s.contains("gen 1") && s.contains("qwen_disagg") && s.contains("tok/s/gpu")
        });
    }
    let alt = tmux.cmd(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"]);
    assert_eq!(
        String::from_utf8_lossy(&alt.stdout).trim(),
        "1",
        "app uses the alternate screen"
    );

    // 2. Rename-save (temp file + rename, as vim/VS Code do): the screen follows.
    let tmp = dir.path().join(".exp.yaml.swp");
    std::fs::write(&tmp, &agg_only).expect("temp write");
    std::fs::rename(&tmp, &file).expect("rename save");
    if real {
        tmux.wait_for("a rerun after the rename-save", |s| gen_at_least(s, 2));
    } else {
        tmux.wait_for("qwen_disagg gone after the rename-save", |s| {
            // Its row in the experiments pane (the status line may name the edit).
            gen_at_least(s, 2) && !s.contains("■ qwen_disagg")
        });
    }

    // 3. Broken save: error with line:col, last results kept and marked stale.
    std::fs::write(&file, BROKEN).expect("broken save");
    // The whole frame, status bar included: a capture can land mid-frame.
    let s = tmux.wait_for("the load error with the results marked stale", |s| {
        s.contains("file has errors") && has_line_col(s) && s.contains("STALE")
    });
    assert!(
        s.contains("qwen_agg"),
        "last good results still shown:\n{s}"
    );

    // 4. Fix it (truncate-and-write): fresh results, no longer stale.
    std::fs::write(&file, &both).expect("fixing save");
    if real {
        tmux.wait_for("recovery", |s| {
            !s.contains("STALE") && !s.contains("file has errors")
        });
    } else {
        tmux.wait_for("recovery", |s| {
            !s.contains("STALE") && s.contains("qwen_disagg")
        });
    }

    // 5. Keys reach the app: help opens and closes, focus moves.
    tmux.keys(&["?"]);
    tmux.wait_for("the help popup", |s| s.contains("toggle this help"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", |s| !s.contains("toggle this help"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("Pareto focused", |s| s.contains("┏ 2 Pareto"));

    // 6. `e` hands the terminal to $EDITOR and takes it back.
    tmux.keys(&["e"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.wait_for("the app back after the editor", |s| {
        s.contains("┏ 2 Pareto") && s.contains("qwen_agg")
    });

    // 7. y writes the selected candidate next to the user and says where.
    if !real {
        tmux.keys(&["y"]);
        tmux.wait_for("the export message", |s| s.contains("wrote "));
        let snippet = dir.path().join("xpyd-qwen_agg-1.yaml");
        let text =
            std::fs::read_to_string(&snippet).expect("snippet written in the working folder");
        assert!(
            text.contains("worker_config:") && text.contains("tp_list: ["),
            "{text}"
        );

        // 7b. d writes the selected candidate's deploy bundle in a folder
        // beside the exp file and says where; its exp.yaml is y's pin.
        tmux.keys(&["d"]);
        let bundles = wait_for_bundles(dir.path(), 1);
        let name = bundles[0]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // y's message also names qwen_agg: wait for the folder's own name.
        tmux.wait_for("the bundle message", |s| {
            s.contains("wrote ") && s.contains(&name)
        });
        for f in [
            "k8s_deploy.yaml",
            "run_0.sh",
            "bench_run.sh",
            "k8s_bench.yaml",
        ] {
            assert!(bundles[0].join(f).is_file(), "{name}/{f} missing");
        }
        let pinned = std::fs::read_to_string(bundles[0].join("exp.yaml")).expect("bundle pin");
        assert_eq!(pinned, text, "the bundle's exp.yaml is the y snippet");
        if variant == Variant::RealBinary {
            rerun_matches_selected(&file, &snippet);
        }

        // Another view of the candidates, d again: a new folder, the first kept.
        tmux.keys(&["v", "d"]);
        wait_for_bundles(dir.path(), 2);
        assert!(bundles[0].join("exp.yaml").is_file());
    }

    // 8. Quit: the shell line after the app runs, and the normal screen is back.
    tmux.keys(&["q"]);
    tmux.wait_for("the app to exit", |s| s.contains("EXITED 0"));
    let alt = tmux.cmd(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"]);
    assert_eq!(
        String::from_utf8_lossy(&alt.stdout).trim(),
        "0",
        "alternate screen left"
    );
    let s = tmux.capture();
    assert!(!s.contains("Experiments"), "the app's screen is gone:\n{s}");

    // The real engine kept what it priced for the next process.
    if variant == Variant::RealBinary {
        let stored = walk_files(&dir.path().join("steps"));
        assert!(
            stored
                .iter()
                .any(|p| p.extension().is_some_and(|x| x == "bin")),
            "no step store written: {stored:?}"
        );
    }
}

/// The bundle folders `d` wrote beside the exp file.
fn bundle_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("qwen_agg-"))
        })
        .collect();
    v.sort();
    v
}

/// Wait until `d` has written `n` bundle folders (and no more).
fn wait_for_bundles(dir: &Path, n: usize) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let found = bundle_dirs(dir);
        if found.len() >= n || start.elapsed() > Duration::from_secs(20) {
            assert_eq!(found.len(), n, "bundle folders: {found:?}");
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `xpyd run` on the pinned snippet answers the candidate the explorer had
/// selected (the best of qwen_agg): same layout, batch and figures.
fn rerun_matches_selected(file: &Path, snippet: &Path) {
    let json = |p: &Path| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_xpyd"))
            .args(["run", "--format", "json"])
            .arg(p)
            .output()
            .expect("xpyd run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON report")
    };
    let key = |r: &serde_json::Value| {
        format!(
            "{} bs{} {:.2} tok/s/gpu TTFT {:.1} TPOT {:.2}",
            r["parallel"],
            r["bs"],
            r["tokens_per_s_per_gpu"].as_f64().unwrap_or(0.0),
            r["ttft_ms"].as_f64().unwrap_or(0.0),
            r["tpot_ms"].as_f64().unwrap_or(0.0)
        )
    };
    let all = json(file);
    let exp = all["experiments"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "qwen_agg"))
        .expect("qwen_agg in the report");
    let rerun = json(snippet);
    assert_eq!(
        key(&rerun["experiments"][0]["best"]),
        key(&exp["top"][0]),
        "the snippet reruns to the selected row"
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
