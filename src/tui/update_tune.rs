//! `update` for tuning: knob panel keys, gathered writes, undo and redo,
//! sweeps. Pure like the rest of `update`: the file is written, restored and
//! swept by the runtime, through the returned effects.

use super::action::{Change, Effect, SearchFailure};
use super::app::App;
use super::keymap::{self, KnobCommand};
use super::tuning::{EditSource, KnobPanel, PendingWrite, SweepState, SweepStatus, COALESCE};
use crate::tune::{sweep_values, Knob, KnobKind};
use crossterm::event::{KeyCode, KeyEvent};

/// `w`: open the panel on the selected experiment (or close it).
pub fn toggle_panel(app: &mut App) -> Vec<Effect> {
    if app.tuning.panel.take().is_some() {
        return flush(app);
    }
    let Some(exp) = app.selected_experiment() else {
        app.message = Some("no experiment to tune yet".into());
        return vec![];
    };
    app.tuning.panel = Some(KnobPanel {
        experiment: exp.name.clone(),
        sel: 0,
        cursor: 0,
        typing: None,
    });
    vec![]
}

/// The knobs of the panel's experiment and the selected one.
fn panel_knobs(app: &App) -> Option<(Vec<Knob>, usize)> {
    let p = app.tuning.panel.as_ref()?;
    let exp = app.experiments().iter().find(|e| e.name == p.experiment)?;
    let ks = app.tuning.knobs_of(exp);
    // One past the file's knobs: the explorer's target load.
    let sel = p.sel.min(ks.len());
    Some((ks, sel))
}

/// The selected knob (as shown, pending value included) and the list cursor.
fn selected_knob(app: &App) -> Option<(Knob, usize)> {
    let (ks, sel) = panel_knobs(app)?;
    let cursor = app.tuning.panel.as_ref().map_or(0, |p| p.cursor);
    ks.into_iter().nth(sel).map(|k| (k, cursor))
}

/// Keys while the panel is open. It is modal: what it does not use is ignored.
pub fn panel_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(text) = app.tuning.panel.as_mut().and_then(|p| p.typing.as_mut()) {
        match key.code {
            KeyCode::Char(c) => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Esc => {
                if let Some(p) = app.tuning.panel.as_mut() {
                    p.typing = None;
                }
            }
            KeyCode::Enter => return enter_typed(app),
            _ => {}
        }
        return vec![];
    }
    let Some(cmd) = keymap::knob_lookup(&key) else {
        return vec![];
    };
    if on_target(app) {
        if let Some(effects) = super::update_sizing::target_command(app, cmd) {
            return effects;
        }
    }
    let list_knob = selected_knob(app).map(|(k, _)| match k.kind {
        KnobKind::List { candidates } => Some(candidates.len()),
        _ => None,
    });
    match (cmd, list_knob.flatten()) {
        (KnobCommand::Close, _) => {
            app.tuning.panel = None;
            return flush(app);
        }
        (KnobCommand::Up, _) => move_field(app, -1),
        (KnobCommand::Down, _) => move_field(app, 1),
        // On a list, Left/Right move along the values; + and - switch one.
        (KnobCommand::Left, Some(n)) => move_cursor(app, -1, n),
        (KnobCommand::Right, Some(n)) => move_cursor(app, 1, n),
        (KnobCommand::Left | KnobCommand::Minus, _) => return step(app, false),
        (KnobCommand::Right | KnobCommand::Plus, _) => return step(app, true),
        (KnobCommand::Toggle, Some(_)) => return toggle(app),
        (KnobCommand::Toggle, None) => {}
        (KnobCommand::Type, _) => {
            if let Some(p) = app.tuning.panel.as_mut() {
                p.typing = Some(String::new());
            }
        }
        (KnobCommand::Sweep, _) => return start_sweep(app),
        (KnobCommand::Undo, _) => return undo(app, true),
        (KnobCommand::Redo, _) => return undo(app, false),
        (KnobCommand::Quit, _) => {
            app.quit = true;
            return vec![Effect::Quit];
        }
    }
    vec![]
}

/// The panel's selection is the target-load field (after the file's knobs).
pub fn on_target(app: &App) -> bool {
    panel_knobs(app).is_some_and(|(ks, sel)| sel == ks.len())
}

fn move_field(app: &mut App, d: i64) {
    // The file's knobs and the target load.
    let n = panel_knobs(app).map_or(0, |(ks, _)| ks.len() + 1);
    if let Some(p) = app.tuning.panel.as_mut() {
        p.sel = (p.sel as i64 + d).clamp(0, n.saturating_sub(1) as i64) as usize;
        p.cursor = 0;
    }
}

fn move_cursor(app: &mut App, d: i64, n: usize) {
    if let Some(p) = app.tuning.panel.as_mut() {
        p.cursor = (p.cursor as i64 + d).clamp(0, n.saturating_sub(1) as i64) as usize;
    }
}

/// `+`/`-`: one step of the selected knob, gathered with the steps before it.
fn step(app: &mut App, up: bool) -> Vec<Effect> {
    let Some((knob, cursor)) = selected_knob(app) else {
        return vec![];
    };
    match knob.step(&knob.value, up, cursor) {
        Some(v) => gather(app, knob, v),
        None => {
            app.message = Some(format!("{}: no further step that way", knob.label));
            vec![]
        }
    }
}

/// Space on a list: the value under the cursor on if off, off if on.
fn toggle(app: &mut App) -> Vec<Effect> {
    let Some((knob, cursor)) = selected_knob(app) else {
        return vec![];
    };
    let on = knob.step(&knob.value, true, cursor);
    match on.or_else(|| knob.step(&knob.value, false, cursor)) {
        Some(v) => gather(app, knob, v),
        None => vec![],
    }
}

/// Enter in the prompt: the typed value, written at once.
fn enter_typed(app: &mut App) -> Vec<Effect> {
    let typed = app
        .tuning
        .panel
        .as_mut()
        .and_then(|p| p.typing.take())
        .unwrap_or_default();
    if on_target(app) {
        super::update_sizing::enter_target(app, &typed);
        return vec![];
    }
    let Some((knob, _)) = selected_knob(app) else {
        return vec![];
    };
    match knob.parse(&typed) {
        Ok(v) if v == knob.value => vec![],
        Ok(v) => {
            let mut effects = gather(app, knob, v);
            effects.extend(flush(app));
            effects
        }
        Err(e) => {
            app.message = Some(e);
            vec![]
        }
    }
}

/// Add a step to the pending write (same knob) or start a new one; a
/// pending write of another knob goes out first.
fn gather(app: &mut App, knob: Knob, value: crate::tune::KnobValue) -> Vec<Effect> {
    let experiment = app
        .tuning
        .panel
        .as_ref()
        .map(|p| p.experiment.clone())
        .unwrap_or_default();
    let mut effects = Vec::new();
    let same =
        app.tuning.pending.as_ref().is_some_and(|p| {
            p.due.is_some() && p.experiment == experiment && p.knob.key == knob.key
        });
    if !same {
        effects.extend(flush(app));
    }
    let due = Some(app.now + COALESCE);
    match app.tuning.pending.as_mut() {
        Some(p) if same => {
            p.value = value;
            p.due = due;
        }
        _ => {
            app.tuning.pending = Some(PendingWrite {
                experiment,
                from: knob.value.clone(),
                knob,
                value,
                due,
            })
        }
    }
    effects
}

/// Write the gathered steps now (panel closed, another knob, the deadline).
pub fn flush(app: &mut App) -> Vec<Effect> {
    let Some(p) = app.tuning.pending.as_mut().filter(|p| p.due.is_some()) else {
        return vec![];
    };
    p.due = None;
    if p.value == p.from {
        // Stepped there and back: nothing to write.
        app.tuning.pending = None;
        return vec![];
    }
    vec![Effect::SetValues {
        edits: vec![(format!("{}.{}", p.experiment, p.knob.key), p.value.yaml())],
        label: p.label(),
    }]
}

/// Timer: a run of steps that has gone quiet is written.
pub fn on_tick(app: &mut App) -> Vec<Effect> {
    match app.tuning.pending.as_ref().and_then(|p| p.due) {
        Some(due) if due <= app.now => flush(app),
        _ => vec![],
    }
}

/// The runtime wrote (or refused to write) the gathered value.
pub fn on_written(app: &mut App, result: Result<Change, String>) -> Vec<Effect> {
    match result {
        Ok(c) if c.changed => {
            app.message = Some(format!(
                "wrote {} ({} undoes)",
                c.label,
                keymap::key_label(keymap::Command::Undo)
            ));
            app.tuning.undo.push(c);
            app.tuning.redo.clear();
            app.tuning.own_write = Some(EditSource::Knob);
        }
        Ok(_) => {
            app.tuning.pending = None;
        }
        Err(e) => {
            app.tuning.pending = None;
            app.message = Some(first_line(&e));
        }
    }
    vec![]
}

/// The loader's located message can span lines; the status line has one.
fn first_line(e: &str) -> String {
    e.lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `u` (`undo`) or Ctrl-r: put the file back as it was before (after) the
/// last write, unless it changed since.
pub fn undo(app: &mut App, undo: bool) -> Vec<Effect> {
    let stack = if undo {
        &mut app.tuning.undo
    } else {
        &mut app.tuning.redo
    };
    match stack.pop() {
        Some(change) => vec![Effect::Restore { change, undo }],
        None => {
            app.message = Some(format!("nothing to {}", if undo { "undo" } else { "redo" }));
            vec![]
        }
    }
}

pub fn on_restored(app: &mut App, change: Change, undo: bool, result: Result<(), String>) {
    let (verb, source) = if undo {
        ("undid", EditSource::Undo)
    } else {
        ("redid", EditSource::Redo)
    };
    match result {
        Ok(()) => {
            app.message = Some(format!("{verb} {}", change.label));
            app.tuning.own_write = Some(source);
            if undo {
                app.tuning.redo.push(change);
            } else {
                app.tuning.undo.push(change);
            }
        }
        Err(e) => {
            app.message = Some(format!(
                "cannot {}: {e}",
                if undo { "undo" } else { "redo" }
            ));
            // The entry stays: putting the file back as it was makes it valid again.
            if undo {
                app.tuning.undo.push(change);
            } else {
                app.tuning.redo.push(change);
            }
        }
    }
}

/// A search result is on screen: a written value is now the report's, and
/// the edit it shows is named after who made it. When the results did not
/// change (`unchanged`), the edit named before stays.
pub fn on_results(app: &mut App, unchanged: bool) {
    if app.tuning.pending.as_ref().is_some_and(|p| p.due.is_none()) {
        app.tuning.pending = None;
    }
    let own = app.tuning.own_write.take();
    if unchanged {
        return;
    }
    if own.is_some() && app.last_edit.is_some() {
        // The status line's edit segment says it now ("wrote …" would repeat it).
        app.message = None;
    }
    let source = own.unwrap_or(EditSource::Editor);
    app.tuning.edit_source = app.last_edit.as_ref().map(|_| source);
}

/// The file changed on disk: a sweep of the old file is moot.
pub fn on_file_changed(app: &mut App) -> Vec<Effect> {
    match app.tuning.sweep.as_mut() {
        Some(s) if s.status == SweepStatus::Running => {
            s.status = SweepStatus::Cancelled;
            vec![Effect::CancelSweep]
        }
        _ => vec![],
    }
}

/// `x`: sweep the selected knob (isl when the panel is closed) around its
/// value, in the background.
pub fn start_sweep(app: &mut App) -> Vec<Effect> {
    let knobs = match app.tuning.panel {
        Some(_) => selected_knob(app).map(|(k, _)| k),
        None => app
            .selected_experiment()
            .and_then(|e| crate::tune::knobs(e).into_iter().next()),
    };
    let Some(knob) = knobs else {
        app.message = Some("no experiment to sweep yet".into());
        return vec![];
    };
    let (Some(key), crate::tune::KnobValue::Num(current)) = (knob.vary_key(), &knob.value) else {
        app.message = Some(format!(
            "{} cannot be swept: choose isl, osl, prefix, ttft, tpot or total_gpus",
            knob.label
        ));
        return vec![];
    };
    let (unit, isl) = match (&knob.kind, app.selected_experiment()) {
        (KnobKind::Gpus { unit }, e) => (*unit, e.map_or(0, |e| e.isl)),
        (KnobKind::Prefix { isl }, _) => (1, *isl),
        (_, e) => (1, e.map_or(0, |e| e.isl)),
    };
    let values = sweep_values(key, *current, unit, isl);
    app.tuning.sweep_id += 1;
    let id = app.tuning.sweep_id;
    app.tuning.sweep = Some(SweepState {
        id,
        key,
        current: *current,
        values: values.clone(),
        points: Vec::new(),
        status: SweepStatus::Running,
    });
    vec![Effect::StartSweep { id, key, values }]
}

pub fn on_sweep_point(app: &mut App, id: u64, point: crate::sweep::SweepPoint) {
    if let Some(s) = app.tuning.sweep.as_mut().filter(|s| s.id == id) {
        s.points.push(point);
    }
}

pub fn on_sweep_done(app: &mut App, id: u64, result: Result<(), SearchFailure>) {
    if let Some(s) = app.tuning.sweep.as_mut().filter(|s| s.id == id) {
        s.status = match result {
            Ok(()) => SweepStatus::Done,
            Err(SearchFailure::Cancelled) => SweepStatus::Cancelled,
            Err(e) => SweepStatus::Failed(e),
        };
    }
}

/// Esc outside the panel: close the sweep chart (stopping the sweep).
pub fn close_sweep(app: &mut App) -> Option<Vec<Effect>> {
    let s = app.tuning.sweep.take()?;
    Some(if s.status == SweepStatus::Running {
        vec![Effect::CancelSweep]
    } else {
        vec![]
    })
}
