//! Thousands of random keys, clicks, wheel turns, resizes and search results fed into
//! `update` and rendered: nothing may panic and every selection must stay in range.

mod tui_common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use std::time::Duration;
use tui_common::*;
use xpyd::exp::{ExpError, LoadError};
use xpyd::tui::{update, Action, App, ProgressMsg, SearchFailure};

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const KEYS: &str = "?qreyjkgGvsSbz+-<>/123456 abcdp:tx";

fn random_action(rng: &mut Rng, app: &App, reports: &[xpyd::report::RunReport]) -> Action {
    let (w, h) = app.size;
    match rng.below(100) {
        0..=59 => {
            let c = KEYS.as_bytes()[rng.below(KEYS.len() as u64) as usize] as char;
            // Quitting would end a real session; keep the state machine going instead.
            let c = if c == 'q' { 'k' } else { c };
            key(c)
        }
        60..=71 => code(
            [
                KeyCode::Tab,
                KeyCode::BackTab,
                KeyCode::Up,
                KeyCode::Down,
                KeyCode::PageUp,
                KeyCode::PageDown,
                KeyCode::Home,
                KeyCode::End,
                KeyCode::Enter,
                KeyCode::Esc,
                KeyCode::Backspace,
                KeyCode::Left,
            ][rng.below(12) as usize],
        ),
        72..=79 => Action::Mouse(MouseEvent {
            kind: [
                MouseEventKind::Down(MouseButton::Left),
                MouseEventKind::ScrollDown,
                MouseEventKind::ScrollUp,
                MouseEventKind::Moved,
            ][rng.below(4) as usize],
            column: rng.below(w as u64 + 3) as u16,
            row: rng.below(h as u64 + 3) as u16,
            modifiers: KeyModifiers::NONE,
        }),
        80..=86 => Action::Resize(rng.below(200) as u16, rng.below(70) as u16),
        87..=89 => Action::FileChanged,
        90..=93 => {
            // Results for the current or an older generation.
            let generation = app.generation.saturating_sub(rng.below(2));
            let result = match rng.below(4) {
                0 => Err(SearchFailure::Load(LoadError {
                    file: "f.yaml".into(),
                    errors: vec![ExpError {
                        experiment: None,
                        key_path: "exps".into(),
                        line: rng.below(300) as usize,
                        col: rng.below(90) as usize,
                        message: "x".repeat(rng.below(300) as usize),
                        hint: None,
                        source_line: Some("y".repeat(rng.below(200) as usize)),
                    }],
                })),
                1 => Err(SearchFailure::Other("engine failed".into())),
                _ => Ok(reports[rng.below(reports.len() as u64) as usize].clone()),
            };
            Action::SearchDone {
                generation,
                elapsed: Duration::from_millis(rng.below(5000)),
                result,
            }
        }
        94..=96 => Action::Progress {
            generation: app.generation,
            msg: match rng.below(3) {
                0 => ProgressMsg::Planned(vec!["a".into(); rng.below(4) as usize]),
                1 => ProgressMsg::Partial {
                    experiment: "a".into(),
                    done_fraction: rng.below(150) as f64 / 100.0,
                    pareto: reports[0].experiments[0].pareto.clone(),
                },
                _ => ProgressMsg::ExperimentDone(Box::new(reports[0].experiments[0].clone())),
            },
        },
        97 => Action::Tick(app.now + Duration::from_millis(rng.below(400))),
        98 => Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        _ => Action::Written(Err("disk full".into())),
    }
}

fn check_invariants(app: &App) {
    let n_exp = app.experiments().len();
    assert!(
        app.sel_exp < n_exp.max(1),
        "sel_exp {} of {n_exp}",
        app.sel_exp
    );
    let n_c = app.candidates().len();
    assert!(
        app.cand.sel < n_c.max(1),
        "cand.sel {} of {n_c}",
        app.cand.sel
    );
    assert!(app.cand.offset <= app.cand.sel.max(app.cand.offset.min(app.cand.sel)));
    assert!((20..=80).contains(&app.split_top) && (20..=80).contains(&app.split_left));
}

#[test]
fn random_sessions_never_panic() {
    let reports = vec![load("report_qwen.json"), load("report_errors.json")];
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut app = app_with(reports[(seed % 2) as usize].clone(), 80, 24);
        for step in 0..400 {
            let a = random_action(&mut rng, &app, &reports);
            update(&mut app, a);
            check_invariants(&app);
            if step % 7 == 0 {
                let _ = screen(&app);
            }
        }
        let _ = screen(&app);
    }
}

#[test]
fn tiny_and_huge_terminals_render() {
    let reports = [load("report_qwen.json"), load("report_errors.json")];
    for r in reports {
        for (w, h) in [
            (1, 1),
            (2, 3),
            (10, 4),
            (20, 6),
            (79, 23),
            (300, 100),
            (1000, 10),
        ] {
            let mut app = app_with(r.clone(), w, h);
            for c in "123456zvG?".chars() {
                update(&mut app, key(c));
                let _ = screen(&app);
            }
        }
    }
}
