//! `update` as a pure state machine: focus, selection bounds, sorting, filtering,
//! stale marking, generation discarding, resize, mouse, export.

mod tui_common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::time::Duration;
use tui_common::*;
use xpyd::exp::{ExpError, LoadError};
use xpyd::tui::app::{CandView, PaneId, SortKey};
use xpyd::tui::update::request_search;
use xpyd::tui::{update, Action, Effect, SearchFailure};

fn load_error() -> SearchFailure {
    SearchFailure::Load(LoadError {
        file: "exp.yaml".into(),
        errors: vec![ExpError {
            experiment: Some("qwen_agg".into()),
            key_path: "config.worker_config.tp_list".into(),
            line: 12,
            col: 14,
            message: "expected a list of integers, found a string".into(),
            hint: Some("write tp_list: [1, 2, 4]".into()),
            source_line: Some("      tp_list: four".into()),
        }],
    })
}

#[test]
fn tab_cycles_focus_through_all_panes_both_ways() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let mut seen = vec![app.focus];
    for _ in 0..6 {
        update(&mut app, code(KeyCode::Tab));
        seen.push(app.focus);
    }
    assert_eq!(seen.first(), seen.last(), "six Tabs come back around");
    assert_eq!(
        &seen[..6],
        &PaneId::ALL,
        "Tab visits panes in their numbered order"
    );
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    assert_eq!(app.focus, PaneId::WhyNot);
    press(&mut app, "3");
    assert_eq!(app.focus, PaneId::Candidates);
    assert_eq!(app.lower, PaneId::Candidates);
}

#[test]
fn selections_stay_in_bounds() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    let n_exp = app.experiments().len();
    for _ in 0..10 {
        press(&mut app, "j");
    }
    assert_eq!(app.sel_exp, n_exp - 1);
    for _ in 0..10 {
        press(&mut app, "k");
    }
    assert_eq!(app.sel_exp, 0);
    press(&mut app, "3v"); // candidates, pareto view
    assert_eq!(app.cand.view, CandView::Pareto);
    let n = app.candidates().len();
    assert!(n > 3);
    press(&mut app, "G");
    assert_eq!(app.cand.sel, n - 1);
    update(&mut app, code(KeyCode::PageDown));
    assert_eq!(app.cand.sel, n - 1);
    press(&mut app, "g");
    assert_eq!(app.cand.sel, 0);
    update(&mut app, code(KeyCode::PageUp));
    assert_eq!(app.cand.sel, 0);
    update(&mut app, code(KeyCode::PageDown));
    assert!(app.cand.sel > 0 && app.cand.sel < n);
    // The window follows the selection.
    assert!(app.cand.offset <= app.cand.sel);
}

#[test]
fn switching_experiment_resets_candidate_selection() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "3jj");
    assert_eq!(app.cand.sel, 2);
    press(&mut app, "1j");
    assert_eq!(app.sel_exp, 1);
    assert_eq!(app.cand.sel, 0);
}

#[test]
fn sort_cycles_columns_and_reverses() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "3v"); // pareto rows: tok/s/user ascending in the report
    assert_eq!(app.cand.sort, SortKey::Rank);
    press(&mut app, "s");
    assert_eq!(app.cand.sort, SortKey::TokGpu);
    assert!(app.cand.descending, "throughput sorts best-first");
    let v: Vec<f64> = app
        .candidates()
        .iter()
        .map(|(_, r)| r.tokens_per_s_per_gpu)
        .collect();
    assert!(v.windows(2).all(|w| w[0] >= w[1]), "{v:?}");
    press(&mut app, "S");
    let v: Vec<f64> = app
        .candidates()
        .iter()
        .map(|(_, r)| r.tokens_per_s_per_gpu)
        .collect();
    assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
    press(&mut app, "ss"); // TokUser, then Ttft (ascending)
    assert_eq!(app.cand.sort, SortKey::Ttft);
    assert!(!app.cand.descending);
    for _ in 0..SortKey::ALL.len() - 3 {
        press(&mut app, "s");
    }
    assert_eq!(
        app.cand.sort,
        SortKey::Rank,
        "cycle wraps to the report order"
    );
}

#[test]
fn filter_narrows_candidates_and_esc_clears() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "1j"); // qwen_disagg
    press(&mut app, "vv"); // all feasible
    assert_eq!(app.cand.view, CandView::Feasible);
    let all = app.candidates().len();
    press(&mut app, "/");
    assert!(app.cand.editing);
    assert_eq!(app.focus, PaneId::Candidates);
    press(&mut app, "d:tp4");
    let some = app.candidates();
    assert!(!some.is_empty() && some.len() < all);
    assert!(some.iter().all(|(_, r)| r
        .decode
        .as_ref()
        .is_some_and(|d| d.parallel.starts_with("tp4"))));
    // While typing, letters are text, not commands: 'q' did not quit.
    press(&mut app, "q");
    assert!(!app.quit);
    assert!(app.candidates().is_empty());
    update(&mut app, code(KeyCode::Backspace));
    update(&mut app, code(KeyCode::Enter));
    assert!(!app.cand.editing);
    assert_eq!(app.cand.filter, "d:tp4");
    update(&mut app, code(KeyCode::Esc));
    assert!(app.cand.filter.is_empty());
    assert_eq!(app.candidates().len(), all);
}

#[test]
fn load_error_keeps_last_results_and_marks_them_stale() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    let before = app.report.clone();
    update(&mut app, Action::FileChanged);
    assert!(app.is_running());
    let generation = app.generation;
    update(
        &mut app,
        Action::SearchDone {
            generation,
            elapsed: Duration::from_millis(3),
            result: Err(load_error()),
        },
    );
    assert!(app.stale);
    assert_eq!(app.report, before, "last good results stay");
    assert!(matches!(app.error, Some(SearchFailure::Load(_))));
    assert!(!app.is_running());
    let text = screen(&app);
    assert!(text.contains("12:14"), "line:col shown:\n{text}");
    assert!(
        text.contains("tp_list: four"),
        "offending line shown:\n{text}"
    );
    assert!(text.contains("stale"), "stale marked:\n{text}");
    // Fixing the file clears the error and the stale mark.
    update(&mut app, Action::FileChanged);
    let generation = app.generation;
    update(
        &mut app,
        Action::SearchDone {
            generation,
            elapsed: Duration::from_millis(3),
            result: Ok(load("report_errors.json")),
        },
    );
    assert!(!app.stale);
    assert!(app.error.is_none());
    assert_eq!(app.experiments()[0].name, "llama8b_agg");
}

#[test]
fn load_error_without_previous_results_is_not_stale() {
    let mut app = xpyd::tui::App::new("x.yaml", (80, 24), std::time::Instant::now());
    request_search(&mut app);
    let generation = app.generation;
    update(
        &mut app,
        Action::SearchDone {
            generation,
            elapsed: Duration::ZERO,
            result: Err(load_error()),
        },
    );
    assert!(!app.stale);
    assert!(app.error.is_some());
}

#[test]
fn results_of_older_generations_are_discarded() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    let shown = app.shown_generation;
    let effects = update(&mut app, Action::FileChanged);
    let g1 = app.generation;
    assert_eq!(effects, vec![Effect::Search { generation: g1 }]);
    update(&mut app, Action::FileChanged);
    let g2 = app.generation;
    assert!(g2 > g1);
    // The slow first search finishes after the second save: dropped.
    update(
        &mut app,
        Action::SearchDone {
            generation: g1,
            elapsed: Duration::ZERO,
            result: Ok(load("report_errors.json")),
        },
    );
    assert_eq!(app.shown_generation, shown);
    assert_eq!(app.experiments()[0].name, "qwen_agg");
    assert!(app.is_running(), "generation {g2} still runs");
    // Stale progress is ignored too.
    update(
        &mut app,
        Action::Progress {
            generation: g1,
            msg: xpyd::tui::ProgressMsg::Planned(vec!["a".into(), "b".into()]),
        },
    );
    assert_eq!(app.running.as_ref().map(|r| r.planned), Some(0));
    // A stale error is dropped as well: nothing becomes stale.
    update(
        &mut app,
        Action::SearchDone {
            generation: g1,
            elapsed: Duration::ZERO,
            result: Err(load_error()),
        },
    );
    assert!(!app.stale && app.error.is_none());
    update(
        &mut app,
        Action::SearchDone {
            generation: g2,
            elapsed: Duration::ZERO,
            result: Ok(load("report_errors.json")),
        },
    );
    assert_eq!(app.shown_generation, g2);
    assert_eq!(app.experiments()[0].name, "llama8b_agg");
}

#[test]
fn progress_feeds_the_gauge() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    update(&mut app, key('r'));
    let g = app.generation;
    let send = |app: &mut xpyd::tui::App, msg| {
        update(app, Action::Progress { generation: g, msg });
    };
    send(
        &mut app,
        xpyd::tui::ProgressMsg::Planned(vec!["a".into(), "b".into()]),
    );
    send(
        &mut app,
        xpyd::tui::ProgressMsg::Partial {
            experiment: "a".into(),
            done_fraction: 0.5,
            pareto: Vec::new(),
        },
    );
    let f = app.running.as_ref().map(|r| r.fraction()).unwrap_or(-1.0);
    assert!((f - 0.25).abs() < 1e-9, "{f}");
    let done = Box::new(app.experiments()[0].clone());
    send(&mut app, xpyd::tui::ProgressMsg::ExperimentDone(done));
    let f = app.running.as_ref().map(|r| r.fraction()).unwrap_or(-1.0);
    assert!((f - 0.5).abs() < 1e-9, "{f}");
    let text = screen(&app);
    assert!(text.contains("1/2"), "{text}");
}

#[test]
fn resize_keeps_selection_visible_and_switches_layout() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "1j3vvG"); // disagg, all feasible, last row
    let sel = app.cand.sel;
    update(&mut app, Action::Resize(80, 24));
    assert_eq!(app.size, (80, 24));
    assert_eq!(app.cand.sel, sel);
    let s = xpyd::tui::layout::compute(ratatui::layout::Rect::new(0, 0, 80, 24), &app);
    assert!(s.compact);
    let rows = s
        .rect(PaneId::Candidates)
        .map(xpyd::tui::layout::table_rows)
        .unwrap_or(0);
    assert!(app.cand.offset <= sel && sel < app.cand.offset + rows.max(1));
    update(&mut app, Action::Resize(0, 0));
    update(&mut app, Action::Resize(3, 2));
    let _ = screen(&app);
    update(&mut app, Action::Resize(160, 48));
    let s = xpyd::tui::layout::compute(ratatui::layout::Rect::new(0, 0, 160, 48), &app);
    assert!(!s.compact && s.panes.len() == 6);
}

#[test]
fn split_keys_resize_the_layout_within_limits() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let before = app.split_top;
    press(&mut app, "+");
    assert_eq!(app.split_top, before + 5);
    for _ in 0..20 {
        press(&mut app, "-");
    }
    assert_eq!(app.split_top, 20);
    for _ in 0..20 {
        press(&mut app, ">");
    }
    assert_eq!(app.split_left, 80);
    press(&mut app, "4z");
    let s = xpyd::tui::layout::compute(ratatui::layout::Rect::new(0, 0, 160, 48), &app);
    assert_eq!(s.panes.len(), 1);
    assert_eq!(s.panes[0].0, PaneId::Breakdown);
}

#[test]
fn quit_rerun_edit_help_keys() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    press(&mut app, "?");
    assert!(app.help);
    assert!(screen(&app).contains("toggle this help"));
    update(&mut app, code(KeyCode::Esc));
    assert!(!app.help);
    let g = app.generation;
    assert_eq!(
        update(&mut app, key('r')),
        vec![Effect::Search { generation: g + 1 }]
    );
    assert_eq!(update(&mut app, key('e')), vec![Effect::OpenEditor]);
    let ctrl_c = Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut app, ctrl_c), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn yank_writes_a_pinned_snippet_for_disagg() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "1j3j"); // disagg, second top row
    let eff = update(&mut app, key('y'));
    let [Effect::WriteFile { path, contents }] = eff.as_slice() else {
        panic!("expected one WriteFile, got {eff:?}");
    };
    assert_eq!(path.to_string_lossy(), "xpyd-qwen_disagg-2.yaml");
    let row = app
        .selected_candidate()
        .cloned()
        .expect("a row is selected");
    let (p, d) = (row.prefill.expect("prefill"), row.decode.expect("decode"));
    assert!(contents.contains("prefill_worker_config:"));
    assert!(contents.contains("decode_worker_config:"));
    assert!(contents.contains(&format!("num_gpu_per_replica: [{}]", row.num_total_gpus)));
    assert!(contents.contains(&format!("max_prefill_worker: {}", p.workers)));
    assert!(contents.contains(&format!("max_decode_worker: {}", d.workers)));
    assert!(contents.contains(&format!("num_gpu_per_worker: [{}]", d.gpus_per_worker)));
    for k in [
        "tp_list",
        "pp_list",
        "dp_list",
        "moe_tp_list",
        "moe_ep_list",
    ] {
        assert_eq!(
            contents.matches(&format!(" {k}: [")).count(),
            2,
            "{k} in both workers"
        );
    }
    update(
        &mut app,
        Action::Written(Ok(std::path::PathBuf::from("/w/xpyd-qwen_disagg-2.yaml"))),
    );
    assert!(screen(&app).contains("wrote /w/xpyd-qwen_disagg-2.yaml"));
}

/// `d` asks the runtime for the selected candidate's bundle, in every view
/// of the candidates (top-N, Pareto, all feasible) and for disagg rows; the
/// bundle of that row builds (engine configs for both roles).
#[test]
fn deploy_key_bundles_the_selected_row_in_every_view() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "1j3j"); // disagg, second row
    let mut checked = 0;
    for view in 0..3 {
        if view > 0 {
            press(&mut app, "v");
        }
        let Some(selected) = app.selected_candidate().cloned() else {
            continue;
        };
        let eff = update(&mut app, key('d'));
        let [Effect::WriteBundle { exp, row }] = eff.as_slice() else {
            panic!("view {view}: expected one WriteBundle, got {eff:?}");
        };
        assert_eq!(**row, selected, "view {view}: the selected row");
        assert_eq!(exp.name, "qwen_disagg");
        let files = xpyd::deploy::bundle_files(exp, row, &Default::default())
            .unwrap_or_else(|e| panic!("view {view}: {e}"));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for f in [
            "prefill_config.yaml",
            "decode_config.yaml",
            "k8s_deploy.yaml",
            "exp.yaml",
        ] {
            assert!(names.contains(&f), "view {view}: {names:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "a row selected in every view");
    update(
        &mut app,
        Action::Written(Ok(std::path::PathBuf::from(
            "/w/qwen_disagg-p_tp1x3-d_tp4x1",
        ))),
    );
    assert!(screen(&app).contains("wrote /w/qwen_disagg-p_tp1x3-d_tp4x1"));
}

#[test]
fn yank_agg_snippet_is_valid_yaml_with_one_element_lists() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let eff = update(&mut app, key('y'));
    let [Effect::WriteFile { contents, .. }] = eff.as_slice() else {
        panic!("expected one WriteFile, got {eff:?}");
    };
    let v: serde_json::Value =
        serde_saphyr::from_str(contents).unwrap_or_else(|e| panic!("{e}\n{contents}"));
    let w = &v["qwen_agg_pinned"]["config"]["worker_config"];
    let best = app.selected_candidate().expect("best row");
    assert_eq!(
        w["tp_list"],
        serde_json::json!([best.gpus_per_worker.unwrap_or(0)])
    );
    assert_eq!(w["pp_list"], serde_json::json!([1]));
    assert_eq!(v["exps"], serde_json::json!(["qwen_agg_pinned"]));
    assert_eq!(v["qwen_agg_pinned"]["serving_mode"], "agg");
}

#[test]
fn mouse_click_focuses_and_selects_wheel_scrolls() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let s = xpyd::tui::layout::compute(ratatui::layout::Rect::new(0, 0, 160, 48), &app);
    let exps = s.rect(PaneId::Experiments).expect("experiments pane");
    let click = |x, y| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    update(&mut app, click(exps.x + 3, exps.y + 2));
    assert_eq!(app.focus, PaneId::Experiments);
    assert_eq!(app.sel_exp, 1);
    let cands = s.rect(PaneId::Candidates).expect("candidates pane");
    update(&mut app, click(cands.x + 5, cands.y + 3));
    assert_eq!(app.focus, PaneId::Candidates);
    assert_eq!(app.cand.sel, 1, "row under the header's second line");
    let bd = s.rect(PaneId::Breakdown).expect("breakdown pane");
    let wheel = Action::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: bd.x + 2,
        row: bd.y + 2,
        modifiers: KeyModifiers::NONE,
    });
    update(&mut app, wheel.clone());
    update(&mut app, wheel);
    assert_eq!(app.breakdown_scroll, 2);
    assert_eq!(
        app.focus,
        PaneId::Candidates,
        "the wheel does not steal focus"
    );
}

#[test]
fn baseline_key_picks_compare_baseline() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    press(&mut app, "5jb");
    assert_eq!(app.baseline.as_deref(), Some("qwen_disagg"));
    let text = screen(&app);
    assert!(text.contains("baseline qwen_disagg"), "{text}");
    assert!(text.contains('%'), "deltas shown:\n{text}");
}

#[test]
fn o_switches_the_breakdown_to_the_sol_full_view_and_back() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    let text = |app: &xpyd::tui::app::App| {
        xpyd::tui::panes::breakdown::lines(app, 80)
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!text(&app).contains("SOL_FULL"));
    press(&mut app, "o");
    assert!(app.sol_view);
    assert!(text(&app).contains("SOL_FULL"), "{}", text(&app));
    press(&mut app, "o");
    assert!(!app.sol_view);
    assert!(!text(&app).contains("SOL_FULL"));
}

#[test]
fn streamed_pareto_points_are_drawn_before_the_search_ends() {
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    update(&mut app, key('r'));
    let g = app.generation;
    let front = load("report_qwen.json").experiments[0].pareto.clone();
    assert!(!front.is_empty());
    update(
        &mut app,
        Action::Progress {
            generation: g,
            msg: xpyd::tui::ProgressMsg::Partial {
                experiment: "fresh".into(),
                done_fraction: 0.3,
                pareto: front,
            },
        },
    );
    let streamed = app.running.as_ref().map(|r| r.streamed.len()).unwrap_or(0);
    assert_eq!(streamed, 1);
    let text = screen(&app);
    assert!(text.contains("fresh (searching)"), "{text}");
    // A stale generation's points are ignored.
    update(
        &mut app,
        Action::Progress {
            generation: g - 1,
            msg: xpyd::tui::ProgressMsg::Partial {
                experiment: "old".into(),
                done_fraction: 0.3,
                pareto: Vec::new(),
            },
        },
    );
    assert!(app
        .running
        .as_ref()
        .is_some_and(|r| r.streamed.iter().all(|(n, _)| n != "old")));
}

// --- The in-place database fetch (`F`), with a fake fetcher -----------------

use std::path::PathBuf;
use xpyd::system::fetch::FetchProgress;
use xpyd::tui::app::FetchState;

/// report_errors.json ran on built-in SOL data; report_qwen.json on the measured database.
fn builtin_app() -> xpyd::tui::App {
    let app = app_with(load("report_errors.json"), 80, 24);
    assert!(app.on_builtin_db());
    app
}

#[test]
fn fetch_key_starts_a_fetch_only_on_builtin_data() {
    let mut app = app_with(load("report_qwen.json"), 80, 24);
    let text = screen(&app);
    assert!(!text.contains("built-in SOL"), "{text}");
    assert_eq!(update(&mut app, key('F')), vec![]);
    assert_eq!(app.fetch, None);
    assert!(app
        .message
        .as_deref()
        .unwrap_or("")
        .contains("in use already"));

    let mut app = builtin_app();
    let text = screen(&app);
    assert!(
        text.contains("built-in SOL data") && text.contains("F fetches it (xpyd db fetch)"),
        "the banner names the key and the command:\n{text}"
    );
    assert_eq!(update(&mut app, key('F')), vec![Effect::FetchDatabase]);
    assert!(matches!(
        app.fetch,
        Some(FetchState::Running { progress: None, .. })
    ));
    // A second press while it runs starts nothing.
    assert_eq!(update(&mut app, key('F')), vec![]);
    assert!(app.message.as_deref().unwrap_or("").contains("already"));
}

#[test]
fn fake_fetch_progress_then_success_reopens_and_searches_again() {
    let mut app = builtin_app();
    update(&mut app, key('F'));
    let actions = run_fetcher(FakeFetcher {
        steps: download_steps(),
        outcome: Ok(PathBuf::from(
            "/cache/xpyd/aiconfigurator-core-0.12.0/systems",
        )),
    });
    assert_eq!(actions.len(), download_steps().len() + 1);
    let mut effects = Vec::new();
    let mut fractions = Vec::new();
    for a in actions {
        let is_progress = matches!(a, Action::FetchProgress(_));
        effects = update(&mut app, a);
        if is_progress {
            assert_eq!(effects, vec![], "progress only updates the state");
            let Some(fs @ FetchState::Running { progress, .. }) = &app.fetch else {
                panic!("still running: {:?}", app.fetch);
            };
            assert!(progress.is_some());
            fractions.push(fs.fraction());
            if let Some(FetchProgress::Downloading {
                bytes: 23_400_000, ..
            }) = progress
            {
                let text = screen(&app);
                assert!(text.contains("fetch 23.4/61.2 MB"), "{text}");
            }
            if let Some(FetchProgress::Unpacking { .. }) = progress {
                assert!(screen(&app).contains("unpacking"));
            }
        }
    }
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1]),
        "the bar never goes back: {fractions:?}"
    );
    // Success: reopen the database, then search the file again on it.
    let generation = app.generation;
    assert_eq!(
        effects,
        vec![Effect::ReopenDatabase, Effect::Search { generation }]
    );
    assert!(matches!(app.fetch, Some(FetchState::Installed(_))));
    assert!(screen(&app).contains("measured database installed"));
    // The new search answers from the measured database: the banner goes.
    update(
        &mut app,
        Action::SearchDone {
            generation,
            elapsed: Duration::from_millis(5),
            result: Ok(load("report_qwen.json")),
        },
    );
    assert_eq!(app.fetch, None);
    let text = screen(&app);
    assert!(
        !text.contains("built-in SOL") && !text.contains("installed"),
        "{text}"
    );
    assert!(text.contains("db SILICON measured"), "{text}");
}

#[test]
fn fake_fetch_failure_shows_the_reason_and_the_manual_command() {
    let mut app = builtin_app();
    update(&mut app, key('F'));
    let reason = "pip could not download aiconfigurator-core==0.12.0: \"python3\": \
                  /usr/bin/python3: No module named pip; \"pip\": No such file or directory";
    let actions = run_fetcher(FakeFetcher {
        steps: download_steps()[..1].to_vec(),
        outcome: Err(reason.into()),
    });
    let generation = app.generation;
    for a in actions {
        assert_eq!(update(&mut app, a), vec![], "a failure starts nothing");
    }
    assert_eq!(app.generation, generation, "no re-search after a failure");
    assert_eq!(app.fetch, Some(FetchState::Failed(reason.into())));
    let text = screen(&app);
    assert!(text.contains("database fetch failed"), "{text}");
    assert!(text.contains("No module named pip"), "{text}");
    assert!(text.contains("run it by hand: xpyd db fetch"), "{text}");
    // Esc hides it; the built-in banner is back, and F tries again.
    update(&mut app, code(KeyCode::Esc));
    assert_eq!(app.fetch, None);
    assert!(screen(&app).contains("F fetches it"));
    assert_eq!(update(&mut app, key('F')), vec![Effect::FetchDatabase]);
}

#[test]
fn a_panicking_fetcher_is_a_failure_not_a_crash() {
    struct Boom;
    impl xpyd::tui::Fetcher for Boom {
        fn fetch(&self, _: &mut dyn FnMut(FetchProgress)) -> Result<PathBuf, String> {
            panic!("disk on fire")
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    xpyd::tui::fetcher::spawn(std::sync::Arc::new(Boom), tx)
        .expect("spawn")
        .join()
        .expect("the panic is caught inside the thread");
    let actions: Vec<Action> = rx.try_iter().collect();
    assert!(
        matches!(&actions[..], [Action::FetchDone(Err(e))] if e.contains("disk on fire")),
        "{actions:?}"
    );
}

/// The runtime half: `apply` hands `ReopenDatabase` to the worker's searcher
/// before the new search runs, so that search opens the fetched database.
#[test]
fn fetch_success_reopens_the_searchers_database_before_searching() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use xpyd::report::RunReport;
    use xpyd::run::{CancelToken, Progress, RunError};
    use xpyd::tui::{apply, Searcher, Worker};

    /// Built-in data until reopened, measured after.
    struct Reopenable {
        reopened: AtomicBool,
    }
    impl Searcher for Reopenable {
        fn run(
            &self,
            _: &std::path::Path,
            _: &CancelToken,
            _: &(dyn Fn(Progress) + Sync),
        ) -> Result<RunReport, RunError> {
            Ok(if self.reopened.load(Ordering::SeqCst) {
                load("report_qwen.json")
            } else {
                load("report_errors.json")
            })
        }
        fn reopen(&self) {
            self.reopened.store(true, Ordering::SeqCst);
        }
        fn set(
            &self,
            _: &std::path::Path,
            _: &[(String, String)],
        ) -> Result<xpyd::edit::Outcome, String> {
            Err("this test searcher writes nothing".into())
        }
        fn sweep(
            &self,
            _: &std::path::Path,
            _: xpyd::exp::vary::VaryKey,
            _: &[f64],
            _: &CancelToken,
            _: &(dyn Fn(&xpyd::sweep::SweepPoint) + Sync),
        ) -> Result<(), RunError> {
            Err(RunError::Other("this test searcher does not sweep".into()))
        }
    }

    let searcher = Arc::new(Reopenable {
        reopened: AtomicBool::new(false),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let mut worker = Worker::spawn(searcher.clone(), PathBuf::from("exp.yaml"), tx.clone())
        .expect("spawning the worker");
    let mut app = xpyd::tui::App::new("exp.yaml", (80, 24), std::time::Instant::now());
    let wait_for_search = |app: &mut xpyd::tui::App, worker: &mut Worker| loop {
        let a = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the worker answers");
        let done = matches!(a, Action::SearchDone { .. });
        apply(app, worker, a);
        if done && app.running.is_none() {
            return;
        }
    };
    apply(&mut app, &mut worker, Action::FileChanged);
    wait_for_search(&mut app, &mut worker);
    assert!(app.on_builtin_db());

    assert_eq!(
        apply(&mut app, &mut worker, key('F')),
        vec![Effect::FetchDatabase]
    );
    let leftover = apply(
        &mut app,
        &mut worker,
        Action::FetchDone(Ok(PathBuf::from("/cache/systems"))),
    );
    assert_eq!(leftover, vec![], "apply performs the reopen and the search");
    assert!(searcher.reopened.load(Ordering::SeqCst));
    wait_for_search(&mut app, &mut worker);
    assert!(
        !app.on_builtin_db(),
        "searched again on the measured database"
    );
    assert_eq!(app.fetch, None);
}

/// The chart's axes cycle with `a` / `A`; off the reference's pair, the front
/// per experiment is the library's over the explorer's rows, and it follows
/// new results.
#[test]
fn chart_axes_cycle_and_fronts_follow() {
    use xpyd::search::front::{front_by, XMetric, YMetric};
    let mut app = app_with(load("report_qwen.json"), 160, 48);
    assert!(app.default_axes() && app.axis_fronts.is_empty());
    press(&mut app, "a");
    assert_eq!(app.x_axis, XMetric::Ttft);
    assert_eq!(app.axis_fronts.len(), app.experiments().len());
    for (e, f) in app.experiments().iter().zip(&app.axis_fronts) {
        let pool: Vec<_> = if e.feasible.is_empty() {
            e.pareto.iter().chain(&e.top).cloned().collect()
        } else {
            e.feasible.clone()
        };
        assert_eq!(
            f,
            &front_by(&pool, XMetric::Ttft, YMetric::TokensPerGpuCluster)
        );
        assert!(!f.is_empty());
    }
    press(&mut app, "A");
    assert_eq!(app.y_axis, YMetric::TokensPerGpu);
    // Back to the reference's pair: the report's own fronts are drawn again.
    press(&mut app, "aaaaAA");
    assert!(app.default_axes() && app.axis_fronts.is_empty());
}
