//! Every pane rendered into a `TestBackend` at 80×24 and 160×48 against the fixture
//! reports, compared as text with insta (`tests/snapshots/`).

mod tui_common;

use insta::assert_snapshot;
use std::time::Duration;
use tui_common::*;
use xpyd::exp::{ExpError, LoadError};
use xpyd::tui::app::PaneId;
use xpyd::tui::{update, Action, SearchFailure};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn focus(app: &mut xpyd::tui::App, p: PaneId) {
    press(app, &(p.index() + 1).to_string());
}

#[test]
fn every_pane_qwen() {
    for (w, h) in SIZES {
        for p in PaneId::ALL {
            let mut app = app_with(load("report_qwen.json"), w, h);
            focus(&mut app, p);
            assert_snapshot!(format!("qwen_{w}x{h}_{}", p.index() + 1), screen(&app));
        }
    }
}

#[test]
fn every_pane_zoomed_at_80x24() {
    for p in PaneId::ALL {
        let mut app = app_with(load("report_qwen.json"), 80, 24);
        // The disagg experiment, its second candidate: exercises the xPyD arithmetic.
        press(&mut app, "j3j");
        focus(&mut app, p);
        press(&mut app, "z");
        assert_snapshot!(
            format!("qwen_disagg_zoom_80x24_{}", p.index() + 1),
            screen(&app)
        );
    }
}

#[test]
fn main_screen_disagg_selected_160x48() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "j3jj");
    assert_snapshot!("qwen_disagg_main_160x48", screen(&app));
}

#[test]
fn errors_fixture_panes() {
    for (w, h) in SIZES {
        for (i, exp) in ["llama8b_agg", "dsv3_disagg", "bad_system"]
            .iter()
            .enumerate()
        {
            let mut app = app_with(load("report_errors.json"), w, h);
            for _ in 0..i {
                press(&mut app, "j");
            }
            assert_eq!(
                app.selected_experiment().map(|e| e.name.as_str()),
                Some(*exp)
            );
            // The compact layout shows Why not when focused; the wide one shows all.
            focus(&mut app, PaneId::WhyNot);
            assert_snapshot!(format!("errors_{w}x{h}_{exp}"), screen(&app));
        }
    }
}

#[test]
fn load_error_banner_over_stale_results() {
    for (w, h) in SIZES {
        let mut app = app_with(load("report_qwen.json"), w, h);
        update(&mut app, Action::FileChanged);
        let generation = app.generation;
        update(
            &mut app,
            Action::SearchDone {
                generation,
                elapsed: Duration::from_millis(2),
                result: Err(SearchFailure::Load(LoadError {
                    file: "qwen3_32b.yaml".into(),
                    errors: vec![ExpError {
                        experiment: Some("qwen_disagg".into()),
                        key_path: "config.decode_worker_config.tp_list".into(),
                        line: 27,
                        col: 16,
                        message: "expected a sequence".into(),
                        hint: None,
                        source_line: Some("      tp_list: 1, 2, 4".into()),
                    }],
                })),
            },
        );
        assert_snapshot!(format!("load_error_{w}x{h}"), screen(&app));
    }
}

#[test]
fn help_popup_and_filter_prompt() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    press(&mut app, "?");
    assert_snapshot!("help_80x24", screen(&app));
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "jvv/d:tp2 bs3");
    assert_snapshot!("filter_160x48", screen(&app));
}

#[test]
fn running_first_search_shows_placeholder_and_gauge() {
    let mut app = xpyd::tui::App::new("exp.yaml", (80, 24), std::time::Instant::now());
    xpyd::tui::update::request_search(&mut app);
    let later = app.now + Duration::from_millis(1500);
    update(&mut app, Action::Tick(later));
    let text = screen(&app);
    assert!(text.contains("searching..."), "{text}");
    assert!(text.contains("1.5s"), "{text}");
    assert_snapshot!("first_search_80x24", text);
}

#[test]
fn database_fetch_progress_and_failure_at_80x24() {
    use xpyd::system::fetch::FetchProgress;
    let mut app = app_with(load("report_errors.json"), 80, 24);
    press(&mut app, "F");
    update(
        &mut app,
        Action::FetchProgress(FetchProgress::Downloading {
            bytes: 23_400_000,
            total: Some(61_200_000),
        }),
    );
    assert_snapshot!("fetch_progress_80x24", screen(&app));
    update(
        &mut app,
        Action::FetchDone(Err(
            "pip could not download aiconfigurator-core==0.12.0: \"python3\": ERROR: Could not \
             find a version that satisfies the requirement aiconfigurator-core==0.12.0 (from \
             versions: none); \"pip\": No such file or directory (os error 2)"
                .into(),
        )),
    );
    assert_snapshot!("fetch_failed_80x24", screen(&app));
}

#[test]
fn warnings_marker_and_why_not_list() {
    for (w, h) in SIZES {
        let mut app = app_with(with_warnings(load("report_qwen.json")), w, h);
        focus(&mut app, PaneId::WhyNot);
        assert_snapshot!(format!("warnings_{w}x{h}"), screen(&app));
    }
}

/// `a` / `A` put other metrics on the chart: TTFT against tokens/s/gpu here,
/// with the TTFT target line and axis titles that say what is shown.
#[test]
fn chart_axes_of_your_choosing() {
    for (w, h) in SIZES {
        let mut app = app_with(load("report_qwen.json"), w, h);
        press(&mut app, "aA");
        let s = screen(&app);
        assert!(s.contains("TTFT ms"), "{s}");
        assert_snapshot!(format!("chart_ttft_vs_tokgpu_{w}x{h}"), s);
    }
}

/// After a re-search: the previous fronts stay drawn dimmed ("previous"), the
/// experiments and compare panes show how each best moved, and the status line
/// names the edit.
#[test]
fn ghost_front_and_deltas_after_an_edit() {
    for (w, h) in SIZES {
        let before = load("report_qwen.json");
        let mut after = before.clone();
        for e in &mut after.experiments {
            e.isl = 8000;
            let scale = if e.name == "qwen_agg" { 0.48 } else { 0.9 };
            for r in e.best.iter_mut().chain(&mut e.top).chain(&mut e.pareto) {
                r.tokens_per_s_per_gpu = (r.tokens_per_s_per_gpu * scale * 10.0).round() / 10.0;
                r.tokens_per_s_per_gpu_cluster =
                    (r.tokens_per_s_per_gpu_cluster * scale * 10.0).round() / 10.0;
            }
        }
        let mut app = app_with(before, w, h);
        update(&mut app, Action::FileChanged);
        let generation = app.generation;
        update(
            &mut app,
            Action::SearchDone {
                generation,
                elapsed: Duration::from_millis(300),
                result: Ok(after),
            },
        );
        assert_eq!(app.last_edit.as_deref(), Some("isl 4000 → 8000"));
        // The compare pane is the lower tab at 80 columns.
        press(&mut app, "5");
        let s = screen(&app);
        assert!(s.contains("isl 4000 → 8000"), "{s}");
        assert!(s.contains("−52%"), "{s}");
        assert_snapshot!(format!("ghost_and_deltas_{w}x{h}"), s);
    }
}

/// The knob panel (`w`) over the results: fields in order, the selected one
/// marked, a list knob's values with the cursor, a gathering step shown.
#[test]
fn knob_panel() {
    use crossterm::event::KeyCode;
    for (w, h) in SIZES {
        let mut app = app_with(load("report_qwen.json"), w, h);
        press(&mut app, "w+"); // isl doubled, not yet written
        for _ in 0..10 {
            press(&mut app, "j");
        }
        update(&mut app, code(KeyCode::Right));
        let s = screen(&app);
        assert!(s.contains("knobs: qwen_agg"), "{s}");
        assert!(s.contains("8000"), "{s}");
        assert_snapshot!(format!("knob_panel_{w}x{h}"), s);
    }
}

/// The sweep chart (`x`) with part of its points in, in the Pareto pane's place.
#[test]
fn sweep_chart() {
    for (w, h) in SIZES {
        let report = load("report_qwen.json");
        let mut app = app_with(report.clone(), w, h);
        let effects = update(&mut app, key('x'));
        let Some(xpyd::tui::Effect::StartSweep { id, values, .. }) = effects.first().cloned()
        else {
            panic!("x starts a sweep")
        };
        // Stand-in points: the fixture's best rows, thinner as isl grows.
        for v in values.iter().take(7) {
            let point = sweep_point(&report, *v, (4000.0 / v).sqrt());
            update(&mut app, Action::SweepPoint { id, point });
        }
        let s = screen(&app);
        assert!(s.contains("sweep isl"), "{s}");
        assert_snapshot!(format!("sweep_chart_{w}x{h}"), s);
    }
}
