//! Terminal setup and restore, the panic hook, the input thread, and suspending for
//! `$EDITOR`. The terminal is restored on every exit path: normal return, error, panic.

use super::action::Action;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Once, OnceLock};
use std::thread::JoinHandle;
use std::thread::ThreadId;
use std::time::Duration;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether we changed the terminal and still owe a restore.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOKS: Once = Once::new();

pub fn enter() -> io::Result<Term> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let mut t = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    t.clear()?;
    Ok(t)
}

/// Undo [`enter`]. Idempotent, so the panic hook, the guard and the normal path can all call it.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let r1 = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let r2 = disable_raw_mode();
    r1.and(r2)
}

/// Restores the terminal when dropped, e.g. when `run` returns early with `?`.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = restore() {
            log::error!("restoring the terminal failed: {e}");
        }
    }
}

/// The thread that owns the terminal (the one that called [`install_hooks`]).
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// color-eyre's report and panic hooks, with the terminal restored before a panic prints.
/// Panics on other threads (the search thread and rayon's workers inside the engine) are
/// caught by the worker and shown in the app, so they are only logged: tearing the screen
/// down under a running app would leave it drawing into the normal screen.
pub fn install_hooks() {
    let _ = UI_THREAD.set(std::thread::current().id());
    HOOKS.call_once(|| {
        let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default().into_hooks();
        // Another front end may already have installed a report hook; keep theirs.
        let _ = eyre_hook.install();
        let panic_hook = panic_hook.into_panic_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
            if !on_ui {
                log::error!(
                    "panic on thread {:?}: {info}",
                    std::thread::current().name().unwrap_or("unnamed")
                );
                return;
            }
            let _ = restore();
            log::error!("panic: {info}");
            panic_hook(info);
        }));
    });
}

enum Ctl {
    Pause,
    Resume,
}

/// The thread turning terminal events into actions. It can be paused so an external
/// program (the editor) gets the keyboard to itself.
pub struct Input {
    ctl: Sender<Ctl>,
    ack: Receiver<()>,
    _handle: JoinHandle<()>,
}

impl Input {
    pub fn spawn(tx: Sender<Action>) -> io::Result<Input> {
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let (ack_tx, ack_rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("xpyd-input".into())
            .spawn(move || input_loop(tx, ctl_rx, ack_tx))?;
        Ok(Input {
            ctl: ctl_tx,
            ack: ack_rx,
            _handle: handle,
        })
    }

    /// Returns once the thread has stopped reading the terminal.
    pub fn pause(&self) {
        if self.ctl.send(Ctl::Pause).is_ok() {
            let _ = self.ack.recv_timeout(Duration::from_secs(1));
        }
    }

    pub fn resume(&self) {
        let _ = self.ctl.send(Ctl::Resume);
    }
}

fn input_loop(tx: Sender<Action>, ctl: Receiver<Ctl>, ack: Sender<()>) {
    loop {
        match ctl.try_recv() {
            Ok(Ctl::Pause) => {
                let _ = ack.send(());
                // Wait for Resume; a closed channel means the app is gone.
                loop {
                    match ctl.recv() {
                        Ok(Ctl::Resume) => break,
                        Ok(Ctl::Pause) => {
                            let _ = ack.send(());
                        }
                        Err(_) => return,
                    }
                }
            }
            Ok(Ctl::Resume) => {}
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        // Short polls so a pause request is honoured quickly.
        match event::poll(Duration::from_millis(50)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                log::error!("terminal input: {e}");
                return;
            }
        }
        let action = match event::read() {
            Ok(Event::Key(k)) => Action::Key(k),
            Ok(Event::Mouse(m)) => Action::Mouse(m),
            Ok(Event::Resize(w, h)) => Action::Resize(w, h),
            Ok(_) => continue,
            Err(e) => {
                log::error!("terminal input: {e}");
                return;
            }
        };
        if tx.send(action).is_err() {
            return;
        }
    }
}

/// `$VISUAL`, then `$EDITOR`, then `vi`; split on whitespace so `code -w` works.
pub fn editor_command() -> (String, Vec<String>) {
    let raw = std::env::var("VISUAL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".into());
    let mut parts = raw.split_whitespace().map(str::to_string);
    let prog = parts.next().unwrap_or_else(|| "vi".into());
    (prog, parts.collect())
}
