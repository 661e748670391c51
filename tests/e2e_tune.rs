//! Tuning end to end in a real terminal: the shipped `xpyd` binary in tmux on
//! a temp exp YAML (real engine: measured database when found, built-in SOL
//! specs otherwise). `w` `+` steps isl: the file on disk changes in that one
//! line, the re-search shows the edit and the delta; `u` puts the file back
//! byte for byte; `x` sweeps isl and draws its points. Skips without tmux.

mod tmux_common;

use std::time::Duration;
use tmux_common::{gen_at_least, tmux_available, Tmux};

/// Two small experiments, with a comment and CRLF-free layout the write must keep.
const FILE: &str = "# tuning e2e\nqwen_agg:\n  mode: patch\n  serving_mode: agg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 8\n  system_name: h100_sxm\n  isl: 2000   # prompt tokens\n  osl: 200\nqwen_disagg:\n  mode: patch\n  serving_mode: disagg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 8\n  system_name: h100_sxm\n  isl: 2000\n  osl: 200\n";

#[test]
fn knob_step_undo_and_sweep_in_tmux() {
    if !tmux_available() {
        eprintln!("SKIPPED e2e_tune: tmux is not installed (apt-get install tmux)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("exp.yaml");
    std::fs::write(&file, FILE).expect("writing exp.yaml");
    let run = format!(
        "cd '{}' && XPYD_LOG='{}' XPYD_STEP_CACHE='{}' '{}' exp.yaml; echo EXITED $?; sleep 60",
        dir.path().display(),
        dir.path().join("tui.log").display(),
        dir.path().join("steps").display(),
        env!("CARGO_BIN_EXE_xpyd"),
    );
    let tmux = Tmux::start(format!("xpyd-e2e-tune-{}", std::process::id()), &run);
    let long = Duration::from_secs(120);
    tmux.wait_for_within(long, "the first results", |s| {
        s.contains("gen 1") && s.contains("qwen_disagg") && s.contains("tok/s/gpu")
    });

    // w opens the panel on the selected experiment; + doubles isl.
    tmux.keys(&["w"]);
    tmux.wait_for("the knob panel", |s| s.contains("knobs: qwen_agg"));
    tmux.keys(&["+"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let written = loop {
        let now = std::fs::read_to_string(&file).expect("reading exp.yaml");
        if now != FILE {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the knob never wrote the file; screen:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Exactly one line differs, and only in its value.
    let changed: Vec<(&str, &str)> = FILE
        .lines()
        .zip(written.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        vec![(
            "  isl: 2000   # prompt tokens",
            "  isl: 4000   # prompt tokens"
        )]
    );
    assert_eq!(FILE.lines().count(), written.lines().count());
    // The re-search shows the edit, named as a knob's, and the delta.
    let s = tmux.wait_for_within(long, "the re-search after the knob", |s| {
        gen_at_least(s, 2) && s.contains("isl 2000 → 4000 (knob)")
    });
    assert!(
        s.contains('%'),
        "a delta against the previous results:\n{s}"
    );

    // u restores the file byte for byte, and says so.
    tmux.keys(&["u"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read(&file).expect("reading exp.yaml") != FILE.as_bytes() {
        assert!(
            std::time::Instant::now() < deadline,
            "undo did not restore the file; screen:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.wait_for_within(long, "the re-search after undo", |s| {
        gen_at_least(s, 3) && s.contains("isl 4000 → 2000 (undo)")
    });

    // x sweeps the selected field (isl) and draws every point.
    tmux.keys(&["x"]);
    tmux.wait_for("the sweep chart", |s| s.contains("sweep isl"));
    tmux.wait_for_within(long, "the sweep to finish", |s| s.contains("done 9/9"));
    assert_eq!(
        std::fs::read(&file).expect("reading exp.yaml"),
        FILE.as_bytes(),
        "a sweep never writes the file"
    );

    // Esc closes the panel, Esc the sweep; q quits cleanly.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the panel closed", |s| !s.contains("knobs: qwen_agg"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the sweep closed", |s| !s.contains("sweep isl"));
    tmux.keys(&["q"]);
    tmux.wait_for("the app to exit", |s| s.contains("EXITED 0"));
}
