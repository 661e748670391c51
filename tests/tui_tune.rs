//! Tuning in the explorer as a state machine (knob panel, gathered writes,
//! undo/redo, edit source, sweeps) and its runtime half on a real file
//! (write through `xpyd set`'s path, byte-exact undo, conflicts).

mod tui_common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::Duration;
use tui_common::*;
use xpyd::report::RunReport;
use xpyd::tui::tuning::{EditSource, SweepStatus, COALESCE};
use xpyd::tui::{update, Action, Change, Effect, SearchFailure};

fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// The app a moment later (ticks carry the time).
fn later(app: &mut xpyd::tui::App, d: Duration) -> Vec<Effect> {
    let now = app.now + d;
    update(app, Action::Tick(now))
}

fn set_values(effects: &[Effect]) -> Vec<(Vec<(String, String)>, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetValues { edits, label } => Some((edits.clone(), label.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn rapid_steps_gather_into_one_write_after_a_quiet_moment() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "w");
    assert!(app.tuning.panel.is_some());
    // isl is the first field: two steps up in quick succession.
    let mut effects = update(&mut app, key('+'));
    effects.extend(update(&mut app, key('+')));
    assert!(set_values(&effects).is_empty(), "nothing written mid-burst");
    assert!(set_values(&later(&mut app, COALESCE / 2)).is_empty());
    let out = set_values(&later(&mut app, COALESCE));
    assert_eq!(
        out,
        vec![(
            vec![("qwen_agg.isl".to_string(), "16000".to_string())],
            "isl 4000 → 16000".to_string()
        )]
    );
    // Written once: later ticks do not write again.
    assert!(set_values(&later(&mut app, COALESCE * 2)).is_empty());
}

#[test]
fn a_step_on_another_field_writes_the_first_at_once() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "w+j");
    let effects = update(&mut app, key('-'));
    assert_eq!(
        set_values(&effects),
        vec![(
            vec![("qwen_agg.isl".to_string(), "8000".to_string())],
            "isl 4000 → 8000".to_string()
        )]
    );
    // Closing the panel writes what is still gathering (osl halved).
    let effects = update(&mut app, code(KeyCode::Esc));
    assert_eq!(set_values(&effects)[0].1, "osl 1000 → 500");
    assert!(app.tuning.panel.is_none());
}

#[test]
fn list_knobs_toggle_the_value_under_the_cursor() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "w");
    // Fields: isl osl prefix ttft tpot total_gpus backend system db, then lists.
    for _ in 0..10 {
        press(&mut app, "j");
    }
    // tp_list [1,2,4,8]; candidates 1 2 4 8 16 32 64: cursor to 16, switch on.
    for _ in 0..4 {
        update(&mut app, code(KeyCode::Right));
    }
    update(&mut app, key('+'));
    press(&mut app, "w"); // closing writes it
    let last = app.tuning.pending.clone().expect("a pending write");
    assert_eq!(last.value.yaml(), "[1, 2, 4, 8, 16]");
    assert_eq!(last.knob.key, "config.worker_config.tp_list");
}

#[test]
fn enter_types_an_exact_value_and_bad_text_writes_nothing() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "wjjj"); // ttft
    update(&mut app, code(KeyCode::Enter));
    press(&mut app, "1500");
    let effects = update(&mut app, code(KeyCode::Enter));
    assert_eq!(
        set_values(&effects),
        vec![(
            vec![("qwen_agg.ttft".to_string(), "1500".to_string())],
            "ttft 1000 → 1500".to_string()
        )]
    );
    update(&mut app, code(KeyCode::Enter));
    press(&mut app, "soon");
    let effects = update(&mut app, code(KeyCode::Enter));
    assert!(set_values(&effects).is_empty());
    assert!(app
        .message
        .as_deref()
        .unwrap_or("")
        .contains("not a number"));
}

fn change(label: &str) -> Change {
    Change {
        before: b"isl: 4000\n".to_vec(),
        after: b"isl: 8000\n".to_vec(),
        label: label.into(),
        changed: true,
    }
}

#[test]
fn undo_and_redo_move_writes_between_the_stacks() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    assert!(update(&mut app, key('u')).is_empty(), "nothing to undo yet");
    update(&mut app, Action::KnobWritten(Ok(change("isl 4000 → 8000"))));
    assert_eq!(app.tuning.undo.len(), 1);
    let effects = update(&mut app, key('u'));
    assert_eq!(
        effects,
        vec![Effect::Restore {
            change: change("isl 4000 → 8000"),
            undo: true
        }]
    );
    update(
        &mut app,
        Action::Restored {
            change: change("isl 4000 → 8000"),
            undo: true,
            result: Ok(()),
        },
    );
    assert_eq!((app.tuning.undo.len(), app.tuning.redo.len()), (0, 1));
    assert_eq!(app.tuning.own_write, Some(EditSource::Undo));
    let effects = update(&mut app, ctrl('r'));
    assert!(matches!(effects[..], [Effect::Restore { undo: false, .. }]));
    // The file changed meanwhile: the redo is refused and kept.
    update(
        &mut app,
        Action::Restored {
            change: change("isl 4000 → 8000"),
            undo: false,
            result: Err("the file was changed by someone else since; not overwritten".into()),
        },
    );
    assert_eq!(app.tuning.redo.len(), 1);
    assert!(app
        .message
        .as_deref()
        .unwrap_or("")
        .contains("someone else"));
}

fn research(app: &mut xpyd::tui::App, report: RunReport) {
    update(app, Action::FileChanged);
    let generation = app.generation;
    update(
        app,
        Action::SearchDone {
            generation,
            elapsed: Duration::from_millis(100),
            result: Ok(report),
        },
    );
}

#[test]
fn the_status_line_says_who_made_the_edit() {
    let before = load("report_qwen.json");
    let mut after = before.clone();
    for e in &mut after.experiments {
        e.isl = 8000;
    }
    let mut app = app_with(before.clone(), 160, 48);
    update(&mut app, Action::KnobWritten(Ok(change("isl 4000 → 8000"))));
    research(&mut app, after);
    assert_eq!(app.tuning.edit_source, Some(EditSource::Knob));
    assert!(screen(&app).contains("edit: isl 4000 → 8000 (knob)"));
    // The next change came from an editor.
    research(&mut app, before);
    assert_eq!(app.tuning.edit_source, Some(EditSource::Editor));
    assert!(screen(&app).contains("edit: isl 8000 → 4000 (file saved)"));
}

#[test]
fn a_sweep_collects_points_and_an_edit_cancels_it() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let effects = update(&mut app, key('x'));
    let Some(Effect::StartSweep { id, key: k, values }) = effects.first().cloned() else {
        panic!("x starts a sweep: {effects:?}")
    };
    assert_eq!(k.name(), "isl");
    assert!(values.contains(&4000.0) && values.len() > 5);
    let report = load("report_qwen.json");
    let point = |v: f64| sweep_point(&report, v, 1.0);
    update(
        &mut app,
        Action::SweepPoint {
            id,
            point: point(values[0]),
        },
    );
    // A point of an older sweep is dropped.
    update(
        &mut app,
        Action::SweepPoint {
            id: id + 7,
            point: point(values[1]),
        },
    );
    assert_eq!(app.tuning.sweep.as_ref().map(|s| s.points.len()), Some(1));
    let s = screen(&app);
    assert!(s.contains("sweep isl"), "{s}");
    assert!(s.contains("running 1/"), "{s}");
    // The file changed: the sweep stops, its points stay.
    let effects = update(&mut app, Action::FileChanged);
    assert!(effects.contains(&Effect::CancelSweep));
    let sw = app.tuning.sweep.as_ref().expect("still shown");
    assert_eq!(sw.status, SweepStatus::Cancelled);
    update(
        &mut app,
        Action::SweepDone {
            id,
            result: Err(SearchFailure::Cancelled),
        },
    );
    // Esc closes the chart and the Pareto chart is back.
    update(&mut app, code(KeyCode::Esc));
    assert!(app.tuning.sweep.is_none());
}

#[test]
fn x_on_a_field_that_cannot_be_swept_says_so() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "wjjjjjj"); // backend
    let effects = update(&mut app, key('x'));
    assert!(effects.is_empty());
    assert!(app
        .message
        .as_deref()
        .unwrap_or("")
        .contains("cannot be swept"));
}

/// The runtime half on a real file: the write keeps every other byte, undo
/// puts the exact bytes back, and a file changed meanwhile is not overwritten.
#[test]
fn knob_write_and_undo_on_disk() {
    struct YamlOnly;
    impl xpyd::tui::Searcher for YamlOnly {
        fn run(
            &self,
            _: &std::path::Path,
            _: &xpyd::run::CancelToken,
            _: &(dyn Fn(xpyd::run::Progress) + Sync),
        ) -> Result<RunReport, xpyd::run::RunError> {
            Err(xpyd::run::RunError::Other("not searched here".into()))
        }
        fn set(
            &self,
            path: &std::path::Path,
            edits: &[(String, String)],
        ) -> Result<xpyd::edit::Outcome, String> {
            // Valid when every `isl` is a positive number.
            xpyd::edit::set_file(path, edits, |t: &str| {
                if t.lines()
                    .any(|l| l.split('#').next().map(str::trim) == Some("isl: 0"))
                {
                    Err("isl must be positive".into())
                } else {
                    Ok(())
                }
            })
            .map_err(|e| e.to_string())
        }
        fn sweep(
            &self,
            _: &std::path::Path,
            _: xpyd::exp::vary::VaryKey,
            _: &[f64],
            _: &xpyd::run::CancelToken,
            _: &(dyn Fn(&xpyd::sweep::SweepPoint) + Sync),
        ) -> Result<(), xpyd::run::RunError> {
            Err(xpyd::run::RunError::Other("not swept here".into()))
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("exp.yaml");
    let original = b"# mine\r\nqwen_agg:\r\n  isl: 4000   # prompt\r\n  osl: 1000\r\n";
    std::fs::write(&path, original).expect("write");
    let edits = vec![("qwen_agg.isl".to_string(), "8000".to_string())];
    let change =
        xpyd::tui::set_values(&YamlOnly, &path, &edits, "isl 4000 → 8000".into()).expect("written");
    let now = std::fs::read(&path).expect("read");
    assert_eq!(
        now,
        b"# mine\r\nqwen_agg:\r\n  isl: 8000   # prompt\r\n  osl: 1000\r\n".to_vec()
    );
    assert_eq!(change.before, original.to_vec());
    // An invalid value writes nothing.
    let bad = vec![("qwen_agg.isl".to_string(), "0".to_string())];
    assert!(xpyd::tui::set_values(&YamlOnly, &path, &bad, "isl → 0".into()).is_err());
    assert_eq!(std::fs::read(&path).expect("read"), now);
    // Undo restores byte for byte; redo goes forward again.
    xpyd::tui::restore(&path, &change, true).expect("undo");
    assert_eq!(std::fs::read(&path).expect("read"), original.to_vec());
    xpyd::tui::restore(&path, &change, false).expect("redo");
    assert_eq!(std::fs::read(&path).expect("read"), now);
    // Someone else saves; undo refuses and leaves their bytes.
    std::fs::write(&path, b"qwen_agg:\n  isl: 100\n").expect("write");
    let err = xpyd::tui::restore(&path, &change, true).expect_err("conflict");
    assert!(err.contains("changed by someone else"), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"qwen_agg:\n  isl: 100\n".to_vec()
    );
}

/// The sizing question: `T` takes a target load; the experiments pane shows
/// each experiment's GPUs for it and the compare pane ranks by them.
#[test]
fn a_target_load_sizes_every_experiment() {
    let report = load("report_qwen.json");
    let mut app = app_with(report.clone(), 160, 48);
    press(&mut app, "T");
    assert!(app
        .tuning
        .panel
        .as_ref()
        .is_some_and(|p| p.typing.is_some()));
    press(&mut app, "40");
    update(&mut app, code(KeyCode::Enter));
    let t = xpyd::verbs::recommend::LoadTarget::RequestRate(40.0);
    assert_eq!(app.tuning.target, Some(t));
    update(&mut app, code(KeyCode::Esc));
    let gpus: Vec<u32> = report
        .experiments
        .iter()
        .map(|e| {
            xpyd::tune::sizing::sized_best(e, t)
                .expect("both experiments meet the SLA")
                .total_gpus_used
        })
        .collect();
    press(&mut app, "5");
    let s = screen(&app);
    assert!(s.contains("GPUs for 40 req/s"), "{s}");
    assert!(s.contains("ranked by GPUs for 40 req/s"), "{s}");
    for g in &gpus {
        assert!(s.contains(&format!(" {g} = ")), "{g} GPUs shown:\n{s}");
    }
    // Fewest GPUs first in the compare pane.
    let (first, second) = if gpus[0] <= gpus[1] {
        ("qwen_agg", "qwen_disagg")
    } else {
        ("qwen_disagg", "qwen_agg")
    };
    let compare: Vec<&str> = s.lines().filter(|l| l.contains("= ")).collect();
    let pos = |n: &str| compare.iter().position(|l| l.contains(&format!("{n} ")));
    assert!(pos(first) < pos(second), "{s}");
    insta::assert_snapshot!("target_load_160x48", s);
    // In the panel, + doubles the target and Space turns it into a concurrency.
    press(&mut app, "T");
    update(&mut app, code(KeyCode::Esc)); // leave the prompt, keep the panel
    press(&mut app, "+");
    assert_eq!(
        app.tuning.target,
        Some(xpyd::verbs::recommend::LoadTarget::RequestRate(80.0))
    );
    press(&mut app, " ");
    assert!(matches!(
        app.tuning.target,
        Some(xpyd::verbs::recommend::LoadTarget::Concurrency(_))
    ));
}

/// A save seen twice (or a comment edit) searches again to the same results:
/// the ghost, the deltas and the named edit stay those of the real change.
#[test]
fn a_re_search_to_the_same_results_keeps_the_last_edit() {
    let before = load("report_qwen.json");
    let mut after = before.clone();
    for e in &mut after.experiments {
        e.isl = 8000;
    }
    let mut app = app_with(before.clone(), 160, 48);
    update(&mut app, Action::KnobWritten(Ok(change("isl 4000 → 8000"))));
    research(&mut app, after.clone());
    let mut again = after.clone();
    for e in &mut again.experiments {
        e.elapsed_ms += 5.0;
        e.engine_evaluations = 0;
    }
    research(&mut app, again);
    assert_eq!(app.last_edit.as_deref(), Some("isl 4000 → 8000"));
    assert_eq!(app.tuning.edit_source, Some(EditSource::Knob));
    assert_eq!(
        app.previous.as_ref().map(|p| p.experiments[0].isl),
        Some(4000)
    );
    // The next real change is an editor's.
    research(&mut app, before);
    assert_eq!(app.tuning.edit_source, Some(EditSource::Editor));
}
