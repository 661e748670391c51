//! `update` for the explorer's target load (the sizing question): a field
//! of the knob panel that lives in the explorer, not in the file. With a
//! target set, the experiments and compare panes show the GPUs each
//! experiment needs to serve it.

use super::action::Effect;
use super::app::App;
use super::keymap::KnobCommand;
use super::tuning::KnobPanel;
use crate::tune::sizing::parse_target;
use crate::verbs::recommend::LoadTarget;

/// Two significant digits: a round starting value.
fn round2(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor() - 1.0);
    (v / mag).round() * mag
}

/// A target to start from: what the selected experiment's best row serves.
fn starting(app: &App, concurrency: bool) -> LoadTarget {
    let best = app.selected_experiment().and_then(|e| e.best.as_ref());
    if concurrency {
        LoadTarget::Concurrency(round2(best.map_or(64.0, |r| r.concurrency)))
    } else {
        LoadTarget::RequestRate(round2(best.map_or(1.0, |r| r.request_rate)))
    }
}

/// What a panel key does on the target field; `None` for keys handled the
/// same on every field (moving, closing, undo).
pub fn target_command(app: &mut App, cmd: KnobCommand) -> Option<Vec<Effect>> {
    let t = app.tuning.target;
    app.tuning.target = match cmd {
        KnobCommand::Plus | KnobCommand::Right => Some(match t {
            None => starting(app, false),
            Some(LoadTarget::RequestRate(r)) => LoadTarget::RequestRate(r * 2.0),
            Some(LoadTarget::Concurrency(c)) => LoadTarget::Concurrency(c * 2.0),
        }),
        KnobCommand::Minus | KnobCommand::Left => t.map(|t| match t {
            LoadTarget::RequestRate(r) => LoadTarget::RequestRate(r / 2.0),
            LoadTarget::Concurrency(c) => LoadTarget::Concurrency((c / 2.0).max(1.0)),
        }),
        // Space: a request rate becomes a concurrency and back.
        KnobCommand::Toggle => Some(starting(
            app,
            matches!(t, None | Some(LoadTarget::RequestRate(_))),
        )),
        KnobCommand::Type => {
            if let Some(p) = app.tuning.panel.as_mut() {
                p.typing = Some(String::new());
            }
            t
        }
        KnobCommand::Sweep => {
            app.message = Some("the target load cannot be swept; it is not in the file".into());
            t
        }
        _ => return None,
    };
    Some(vec![])
}

/// Enter on the target field: `12.5` (req/s), `c64` (concurrency) or `off`.
pub fn enter_target(app: &mut App, typed: &str) {
    match parse_target(typed) {
        Ok(t) => app.tuning.target = t,
        Err(e) => app.message = Some(e),
    }
}

/// `T`: the panel open on the target field with its prompt.
pub fn open_target_prompt(app: &mut App) {
    let Some(exp) = app.selected_experiment() else {
        app.message = Some("no experiment to size yet".into());
        return;
    };
    let n = app.tuning.knobs_of(exp).len();
    let experiment = exp.name.clone();
    app.tuning.panel = Some(KnobPanel {
        experiment,
        sel: n,
        cursor: 0,
        typing: Some(String::new()),
    });
}
