//! `update(state, action) -> effects`: the only place state changes. No I/O here;
//! anything that touches the world is returned as an [`Effect`].

use super::action::{Action, Effect, SearchFailure};
use super::app::{App, FetchState, PaneId, Running};
use super::keymap::{self, Command};
use super::layout::{self, ensure_visible};
use super::update_tune;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};

/// Start a new search generation. The runtime cancels the one in flight.
pub fn request_search(app: &mut App) -> Effect {
    app.generation += 1;
    app.running = Some(Running {
        generation: app.generation,
        started: app.now,
        planned: 0,
        done: 0,
        partial: 0.0,
        streamed: Vec::new(),
    });
    Effect::Search {
        generation: app.generation,
    }
}

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(app, key),
        Action::Mouse(m) => {
            on_mouse(app, m);
            vec![]
        }
        Action::Resize(w, h) => {
            app.size = (w, h);
            clamp_all(app);
            vec![]
        }
        Action::Tick(now) => {
            app.now = now;
            update_tune::on_tick(app)
        }
        Action::FileChanged => {
            let mut effects = update_tune::on_file_changed(app);
            effects.push(request_search(app));
            effects
        }
        Action::WatchError(e) => {
            app.message = Some(format!("watcher: {e}"));
            vec![]
        }
        Action::Progress { generation, msg } => {
            if let Some(r) = app.running.as_mut() {
                if r.generation == generation {
                    r.apply(&msg);
                }
            }
            vec![]
        }
        Action::SearchDone {
            generation,
            elapsed,
            result,
        } => {
            on_search_done(app, generation, elapsed, result);
            vec![]
        }
        Action::Written(r) => {
            app.message = Some(match r {
                Ok(p) => format!("wrote {}", p.display()),
                Err(e) => format!("could not write snippet: {e}"),
            });
            vec![]
        }
        Action::EditorClosed(r) => {
            if let Err(e) = r {
                app.message = Some(format!("editor: {e}"));
            }
            vec![]
        }
        Action::FetchProgress(p) => {
            if let Some(FetchState::Running { progress, .. }) = app.fetch.as_mut() {
                *progress = Some(p);
            }
            vec![]
        }
        Action::FetchDone(result) => on_fetch_done(app, result),
        Action::KnobWritten(r) => update_tune::on_written(app, r),
        Action::Restored {
            change,
            undo,
            result,
        } => {
            update_tune::on_restored(app, change, undo, result);
            vec![]
        }
        Action::SweepPoint { id, point } => {
            update_tune::on_sweep_point(app, id, point);
            vec![]
        }
        Action::SweepDone { id, result } => {
            update_tune::on_sweep_done(app, id, result);
            vec![]
        }
    }
}

/// `F`: start the fetch unless it runs already or the results are measured.
fn start_fetch(app: &mut App) -> Vec<Effect> {
    if matches!(app.fetch, Some(FetchState::Running { .. })) {
        app.message = Some("the database is being fetched already".into());
        return vec![];
    }
    if app
        .report
        .as_ref()
        .is_some_and(|r| r.database.kind != "builtin")
    {
        app.message = Some("the measured database is in use already".into());
        return vec![];
    }
    app.fetch = Some(FetchState::Running {
        started: app.now,
        progress: None,
    });
    vec![Effect::FetchDatabase]
}

/// A finished fetch: on success the searcher reopens the database and the file
/// is searched again on it; a failure stays on screen with the manual command.
fn on_fetch_done(app: &mut App, result: Result<std::path::PathBuf, String>) -> Vec<Effect> {
    match result {
        Ok(path) => {
            app.fetch = Some(FetchState::Installed(path));
            vec![Effect::ReopenDatabase, request_search(app)]
        }
        Err(e) => {
            app.fetch = Some(FetchState::Failed(e));
            vec![]
        }
    }
}

fn on_search_done(
    app: &mut App,
    generation: u64,
    elapsed: std::time::Duration,
    result: Result<crate::report::RunReport, SearchFailure>,
) {
    // A result from an older generation is never drawn: a newer save replaced it.
    if generation != app.generation {
        return;
    }
    app.running = None;
    match result {
        Ok(report) => {
            app.last_search = Some(elapsed);
            app.shown_generation = generation;
            // Keep the selection by experiment name across reruns when possible.
            let prev_name = app.selected_experiment().map(|e| e.name.clone());
            // Nothing changed (a save seen twice, a comment edited): the ghost,
            // the deltas and the named edit stay those of the last real change.
            let unchanged = app
                .report
                .as_ref()
                .is_some_and(|old| crate::report::diff::same_results(old, &report));
            if !unchanged {
                // The results being replaced become the ghost to compare against.
                app.last_edit = app
                    .report
                    .as_ref()
                    // A switch of database is not an edit of the file.
                    .filter(|old| old.database == report.database)
                    .map(|old| crate::report::diff::describe_edit(old, &report))
                    .filter(|d| !d.is_empty());
                app.previous = app.report.take();
            }
            app.report = Some(report);
            if let Some(n) = prev_name {
                if let Some(i) = app.experiments().iter().position(|e| e.name == n) {
                    app.sel_exp = i;
                }
            }
            app.error = None;
            app.stale = false;
            update_tune::on_results(app, unchanged);
            app.refresh_axis_fronts();
            end_installed(app);
        }
        // Only a newer generation cancels, and that one is already current.
        Err(SearchFailure::Cancelled) => {}
        Err(e) => {
            app.error = Some(e);
            app.stale = app.report.is_some();
            end_installed(app);
        }
    }
    clamp_all(app);
}

/// The search after a fetch has ended: from now on the banner follows the report.
fn end_installed(app: &mut App) {
    if matches!(app.fetch, Some(FetchState::Installed(_))) {
        app.fetch = None;
    }
}

/// Bring every selection and offset back into range (after data or size changes).
pub fn clamp_all(app: &mut App) {
    let n_exp = app.experiments().len();
    app.sel_exp = app.sel_exp.min(n_exp.saturating_sub(1));
    let n_c = app.candidates().len();
    app.cand.sel = app.cand.sel.min(n_c.saturating_sub(1));
    let screen = screen(app);
    let vis_e = screen
        .rect(PaneId::Experiments)
        .map(layout::list_rows)
        .unwrap_or(1);
    app.exp_offset = ensure_visible(app.sel_exp, app.exp_offset.min(app.sel_exp), vis_e);
    let vis_c = cand_visible(app);
    app.cand.offset = ensure_visible(app.cand.sel, app.cand.offset.min(app.cand.sel), vis_c);
}

fn screen(app: &App) -> layout::Screen {
    let area = ratatui::layout::Rect::new(0, 0, app.size.0, app.size.1);
    layout::compute(area, app)
}

/// Rows the candidates table shows; when hidden (compact layout) a sensible page.
fn cand_visible(app: &App) -> usize {
    screen(app)
        .rect(PaneId::Candidates)
        .map(layout::table_rows)
        .unwrap_or(10)
        .max(1)
}

fn set_focus(app: &mut App, p: PaneId) {
    app.focus = p;
    if p.is_lower() {
        app.lower = p;
    }
    clamp_all(app);
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    // Key release/repeat events (kitty protocol) would double every press.
    if key.kind == KeyEventKind::Release {
        return vec![];
    }
    if app.cand.editing {
        filter_key(app, key);
        return vec![];
    }
    // The knob panel is modal, but `?` still opens the help over it.
    if app.tuning.panel.is_some() && !app.help && keymap::lookup(&key) != Some(Command::Help) {
        return update_tune::panel_key(app, key);
    }
    let Some(cmd) = keymap::lookup(&key) else {
        return vec![];
    };
    if app.help {
        // The help popup is modal; it scrolls and closes, nothing else.
        match cmd {
            Command::Help | Command::Escape => app.help = false,
            Command::Quit => {
                app.quit = true;
                return vec![Effect::Quit];
            }
            Command::Down => app.help_scroll = app.help_scroll.saturating_add(1),
            Command::Up => app.help_scroll = app.help_scroll.saturating_sub(1),
            _ => {}
        }
        return vec![];
    }
    on_command(app, cmd)
}

fn filter_key(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Enter => app.cand.editing = false,
        KeyCode::Esc => {
            app.cand.editing = false;
            app.cand.filter.clear();
        }
        KeyCode::Backspace => {
            app.cand.filter.pop();
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL) =>
        {
            app.cand.filter.push(c)
        }
        _ => {}
    }
    app.cand.sel = 0;
    app.cand.offset = 0;
    clamp_all(app);
}

pub fn on_command(app: &mut App, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Quit => {
            app.quit = true;
            return vec![Effect::Quit];
        }
        Command::Help => {
            app.help = true;
            app.help_scroll = 0;
        }
        Command::Rerun => return vec![request_search(app)],
        Command::FetchDb => return start_fetch(app),
        Command::Edit => return vec![Effect::OpenEditor],
        Command::Yank => return yank(app),
        Command::Deploy => return deploy(app),
        Command::Knobs => return update_tune::toggle_panel(app),
        Command::Target => super::update_sizing::open_target_prompt(app),
        Command::Undo => return update_tune::undo(app, true),
        Command::Redo => return update_tune::undo(app, false),
        Command::Sweep => return update_tune::start_sweep(app),
        Command::FocusNext => set_focus(app, app.focus.next()),
        Command::FocusPrev => set_focus(app, app.focus.prev()),
        Command::Focus(i) => set_focus(app, PaneId::ALL[i.min(PaneId::ALL.len() - 1)]),
        Command::Up => move_sel(app, -1),
        Command::Down => move_sel(app, 1),
        Command::PageUp => move_sel(app, -(page(app) as i64)),
        Command::PageDown => move_sel(app, page(app) as i64),
        Command::First => move_sel(app, i64::MIN / 2),
        Command::Last => move_sel(app, i64::MAX / 2),
        Command::Enter => {
            if matches!(app.focus, PaneId::Experiments | PaneId::Compare) {
                set_focus(app, PaneId::Candidates);
            }
        }
        Command::Filter => {
            app.cand.editing = true;
            set_focus(app, PaneId::Candidates);
        }
        Command::CycleView => {
            app.cand.view = app.cand.view.next();
            app.cand.sel = 0;
            app.cand.offset = 0;
            clamp_all(app);
        }
        Command::SortNext => {
            app.cand.sort = app.cand.sort.next();
            app.cand.descending = app.cand.sort.default_descending();
            clamp_all(app);
        }
        Command::SortReverse => app.cand.descending = !app.cand.descending,
        Command::SetBaseline => {
            app.baseline = app.selected_experiment().map(|e| e.name.clone());
        }
        Command::Zoom => {
            app.zoom = !app.zoom;
            clamp_all(app);
        }
        Command::SolView => app.sol_view = !app.sol_view,
        Command::ChartX => {
            app.x_axis = app.x_axis.next();
            app.refresh_axis_fronts();
        }
        Command::ChartY => {
            app.y_axis = app.y_axis.next();
            app.refresh_axis_fronts();
        }
        Command::GrowTop => resize_split(app, true, 5),
        Command::ShrinkTop => resize_split(app, true, -5),
        Command::GrowLeft => resize_split(app, false, 5),
        Command::ShrinkLeft => resize_split(app, false, -5),
        Command::Escape => {
            if !app.cand.filter.is_empty() {
                app.cand.filter.clear();
                clamp_all(app);
            } else if app.zoom {
                app.zoom = false;
                clamp_all(app);
            } else if let Some(effects) = update_tune::close_sweep(app) {
                return effects;
            } else {
                app.message = None;
                // A failed fetch's banner goes too (`F` tries again).
                if matches!(app.fetch, Some(FetchState::Failed(_))) {
                    app.fetch = None;
                }
            }
        }
    }
    vec![]
}

fn resize_split(app: &mut App, top: bool, delta: i16) {
    let v = if top {
        &mut app.split_top
    } else {
        &mut app.split_left
    };
    *v = (*v as i16 + delta).clamp(20, 80) as u16;
    clamp_all(app);
}

fn page(app: &App) -> usize {
    let s = screen(app);
    let r = s.rect(app.focus);
    r.map(layout::table_rows).unwrap_or(10).max(1)
}

fn step(cur: usize, delta: i64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (cur as i64).saturating_add(delta).clamp(0, len as i64 - 1) as usize
}

fn move_sel(app: &mut App, delta: i64) {
    match app.focus {
        PaneId::Experiments | PaneId::Compare => {
            let n = app.experiments().len();
            let new = step(app.sel_exp, delta, n);
            if new != app.sel_exp {
                app.sel_exp = new;
                // A new experiment has different candidates; start at its best.
                app.cand.sel = 0;
                app.cand.offset = 0;
                app.breakdown_scroll = 0;
                app.whynot_scroll = 0;
            }
        }
        // The chart highlights the selected candidate, so it browses candidates too.
        PaneId::Pareto | PaneId::Candidates => {
            let n = app.candidates().len();
            let new = step(app.cand.sel, delta, n);
            if new != app.cand.sel {
                app.cand.sel = new;
                app.breakdown_scroll = 0;
            }
        }
        PaneId::Breakdown => app.breakdown_scroll = scroll(app.breakdown_scroll, delta),
        PaneId::WhyNot => app.whynot_scroll = scroll(app.whynot_scroll, delta),
    }
    clamp_all(app);
}

/// Text panes scroll freely downwards; the renderer stops at the content's end.
fn scroll(cur: u16, delta: i64) -> u16 {
    (cur as i64).saturating_add(delta).clamp(0, 10_000) as u16
}

fn yank(app: &mut App) -> Vec<Effect> {
    let (Some(exp), Some(row)) = (app.selected_experiment(), app.selected_candidate()) else {
        app.message = Some("no candidate selected".into());
        return vec![];
    };
    match crate::deploy::pinned_exp_yaml(exp, row) {
        Ok(contents) => vec![Effect::WriteFile {
            path: crate::deploy::file_name(exp, app.cand.sel),
            contents,
        }],
        Err(e) => {
            app.message = Some(format!("cannot export: {e}"));
            vec![]
        }
    }
}

/// `d`: the selected candidate's bundle; the runtime picks a fresh folder.
fn deploy(app: &mut App) -> Vec<Effect> {
    let (Some(exp), Some(row)) = (app.selected_experiment(), app.selected_candidate()) else {
        app.message = Some("no candidate selected".into());
        return vec![];
    };
    vec![Effect::WriteBundle {
        exp: Box::new(exp.clone()),
        row: Box::new(row.clone()),
    }]
}

fn on_mouse(app: &mut App, m: MouseEvent) {
    let s = screen(app);
    let Some((pane, rect)) = s.hit(m.column, m.row) else {
        return;
    };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if app.help {
                app.help = false;
                return;
            }
            set_focus(app, pane);
            // Row 0 is the border; tables have a header row under it.
            let inner_y = m.row.saturating_sub(rect.y + 1) as usize;
            match pane {
                PaneId::Experiments if m.row > rect.y => {
                    let i = app.exp_offset + inner_y;
                    if i < app.experiments().len() && i != app.sel_exp {
                        app.sel_exp = i;
                        app.cand.sel = 0;
                        app.cand.offset = 0;
                    }
                }
                PaneId::Candidates if m.row > rect.y + 1 => {
                    let i = app.cand.offset + inner_y - 1;
                    if i < app.candidates().len() {
                        app.cand.sel = i;
                    }
                }
                _ => {}
            }
            clamp_all(app);
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let d = if matches!(m.kind, MouseEventKind::ScrollDown) {
                1
            } else {
                -1
            };
            if app.help {
                app.help_scroll = scroll(app.help_scroll, d);
                return;
            }
            // The wheel scrolls what is under the pointer without stealing focus.
            let old = app.focus;
            app.focus = pane;
            move_sel(app, d);
            app.focus = old;
        }
        _ => {}
    }
}
