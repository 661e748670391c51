//! The one key table: `update` looks keys up here and the help popup is generated
//! from it, so help can never drift from the real bindings.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, independent of which key it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    Rerun,
    FetchDb,
    Edit,
    Yank,
    Deploy,
    FocusNext,
    FocusPrev,
    Focus(usize),
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Filter,
    CycleView,
    SortNext,
    SortReverse,
    SetBaseline,
    Zoom,
    SolView,
    ChartX,
    ChartY,
    GrowTop,
    ShrinkTop,
    GrowLeft,
    ShrinkLeft,
    Enter,
    Escape,
    Knobs,
    Target,
    Undo,
    Redo,
    Sweep,
}

/// One key with its label for the help popup.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    pub label: &'static str,
}

const fn k(c: char, label: &'static str) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
        label,
    }
}
const fn code(code: KeyCode, label: &'static str) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
        label,
    }
}
const fn ctrl(c: char, label: &'static str) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
        label,
    }
}

pub struct Binding {
    pub keys: &'static [Key],
    pub command: Command,
    pub help: &'static str,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[k('?', "?")],
        command: Command::Help,
        help: "toggle this help",
    },
    Binding {
        keys: &[k('q', "q"), ctrl('c', "Ctrl-C")],
        command: Command::Quit,
        help: "quit",
    },
    Binding {
        keys: &[k('r', "r")],
        command: Command::Rerun,
        help: "rerun the search now",
    },
    Binding {
        keys: &[k('F', "F")],
        command: Command::FetchDb,
        help: "fetch the measured database (xpyd db fetch)",
    },
    Binding {
        keys: &[k('e', "e")],
        command: Command::Edit,
        help: "open FILE in $EDITOR",
    },
    Binding {
        keys: &[k('y', "y")],
        command: Command::Yank,
        help: "write the selected candidate as a YAML snippet",
    },
    Binding {
        keys: &[k('d', "d")],
        command: Command::Deploy,
        help: "write the selected candidate's deploy bundle",
    },
    Binding {
        keys: &[k('w', "w")],
        command: Command::Knobs,
        help: "knob panel: tune the selected experiment",
    },
    Binding {
        keys: &[k('T', "T")],
        command: Command::Target,
        help: "target load (12 req/s, c64): GPUs each experiment needs",
    },
    Binding {
        keys: &[k('u', "u")],
        command: Command::Undo,
        help: "undo the explorer's last write to FILE",
    },
    Binding {
        keys: &[ctrl('r', "Ctrl-R")],
        command: Command::Redo,
        help: "redo the write undone last",
    },
    Binding {
        keys: &[k('x', "x")],
        command: Command::Sweep,
        help: "sweep isl, or the w panel's field, around it",
    },
    Binding {
        keys: &[code(KeyCode::Tab, "Tab")],
        command: Command::FocusNext,
        help: "focus next pane",
    },
    Binding {
        keys: &[code(KeyCode::BackTab, "Shift-Tab")],
        command: Command::FocusPrev,
        help: "focus previous pane",
    },
    Binding {
        keys: &[
            k('1', "1"),
            k('2', "2"),
            k('3', "3"),
            k('4', "4"),
            k('5', "5"),
            k('6', "6"),
        ],
        command: Command::Focus(0),
        help: "focus pane 1..6",
    },
    Binding {
        keys: &[k('k', "k"), code(KeyCode::Up, "Up")],
        command: Command::Up,
        help: "select previous / scroll up",
    },
    Binding {
        keys: &[k('j', "j"), code(KeyCode::Down, "Down")],
        command: Command::Down,
        help: "select next / scroll down",
    },
    Binding {
        keys: &[code(KeyCode::PageUp, "PgUp"), ctrl('u', "Ctrl-U")],
        command: Command::PageUp,
        help: "page up",
    },
    Binding {
        keys: &[code(KeyCode::PageDown, "PgDn"), ctrl('d', "Ctrl-D")],
        command: Command::PageDown,
        help: "page down",
    },
    Binding {
        keys: &[k('g', "g"), code(KeyCode::Home, "Home")],
        command: Command::First,
        help: "first row",
    },
    Binding {
        keys: &[k('G', "G"), code(KeyCode::End, "End")],
        command: Command::Last,
        help: "last row",
    },
    Binding {
        keys: &[code(KeyCode::Enter, "Enter")],
        command: Command::Enter,
        help: "experiment: show its candidates",
    },
    Binding {
        keys: &[k('/', "/")],
        command: Command::Filter,
        help: "filter candidates (Enter keeps, Esc clears)",
    },
    Binding {
        keys: &[k('v', "v")],
        command: Command::CycleView,
        help: "candidates: top-N / pareto / all feasible",
    },
    Binding {
        keys: &[k('s', "s")],
        command: Command::SortNext,
        help: "sort candidates by the next column",
    },
    Binding {
        keys: &[k('S', "S")],
        command: Command::SortReverse,
        help: "reverse the sort order",
    },
    Binding {
        keys: &[k('b', "b")],
        command: Command::SetBaseline,
        help: "compare against the selected experiment",
    },
    Binding {
        keys: &[k('z', "z")],
        command: Command::Zoom,
        help: "zoom the focused pane",
    },
    Binding {
        keys: &[k('o', "o")],
        command: Command::SolView,
        help: "breakdown: measured steps / SOL_FULL (speed of light)",
    },
    Binding {
        keys: &[k('a', "a")],
        command: Command::ChartX,
        help: "chart x: tok/s/user, TTFT, TPOT, latency, concurrency",
    },
    Binding {
        keys: &[k('A', "A")],
        command: Command::ChartY,
        help: "chart y axis: tok/s/gpu_cluster, tok/s/gpu, req/s",
    },
    Binding {
        keys: &[k('+', "+"), k('=', "=")],
        command: Command::GrowTop,
        help: "taller top band",
    },
    Binding {
        keys: &[k('-', "-")],
        command: Command::ShrinkTop,
        help: "shorter top band",
    },
    Binding {
        keys: &[k('>', ">")],
        command: Command::GrowLeft,
        help: "wider left column",
    },
    Binding {
        keys: &[k('<', "<")],
        command: Command::ShrinkLeft,
        help: "narrower left column",
    },
    Binding {
        keys: &[code(KeyCode::Esc, "Esc")],
        command: Command::Escape,
        help: "close help / clear filter / close the sweep",
    },
];

/// What a key does inside the knob panel (`w`), which is modal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnobCommand {
    Up,
    Down,
    Plus,
    Minus,
    Left,
    Right,
    Toggle,
    Type,
    Sweep,
    Undo,
    Redo,
    Close,
    Quit,
}

pub struct KnobBinding {
    pub keys: &'static [Key],
    pub command: KnobCommand,
    pub help: &'static str,
}

pub const KNOB_BINDINGS: &[KnobBinding] = &[
    KnobBinding {
        keys: &[k('k', "k"), code(KeyCode::Up, "Up")],
        command: KnobCommand::Up,
        help: "previous field",
    },
    KnobBinding {
        keys: &[k('j', "j"), code(KeyCode::Down, "Down")],
        command: KnobCommand::Down,
        help: "next field",
    },
    KnobBinding {
        keys: &[k('+', "+"), k('=', "=")],
        command: KnobCommand::Plus,
        help: "step up (×2, +10% SLA, next GPUs); list: on",
    },
    KnobBinding {
        keys: &[k('-', "-")],
        command: KnobCommand::Minus,
        help: "step down; list: value off",
    },
    KnobBinding {
        keys: &[code(KeyCode::Left, "Left")],
        command: KnobCommand::Left,
        help: "step down; list: previous value",
    },
    KnobBinding {
        keys: &[code(KeyCode::Right, "Right")],
        command: KnobCommand::Right,
        help: "step up; list: next value",
    },
    KnobBinding {
        keys: &[k(' ', "Space")],
        command: KnobCommand::Toggle,
        help: "list: switch the value under the cursor",
    },
    KnobBinding {
        keys: &[code(KeyCode::Enter, "Enter")],
        command: KnobCommand::Type,
        help: "type an exact value (Enter writes, Esc cancels)",
    },
    KnobBinding {
        keys: &[k('x', "x")],
        command: KnobCommand::Sweep,
        help: "sweep this field around its value",
    },
    KnobBinding {
        keys: &[k('u', "u")],
        command: KnobCommand::Undo,
        help: "undo the last write",
    },
    KnobBinding {
        keys: &[ctrl('r', "Ctrl-R")],
        command: KnobCommand::Redo,
        help: "redo",
    },
    KnobBinding {
        keys: &[code(KeyCode::Esc, "Esc"), k('w', "w")],
        command: KnobCommand::Close,
        help: "close the panel",
    },
    KnobBinding {
        keys: &[ctrl('c', "Ctrl-C")],
        command: KnobCommand::Quit,
        help: "quit",
    },
];

fn matches(kk: &Key, key: &KeyEvent) -> bool {
    let mods = key.modifiers - KeyModifiers::SHIFT;
    let code_matches = match (kk.code, key.code) {
        (KeyCode::Char(a), KeyCode::Char(c)) => a == c,
        (a, c) => a == c,
    };
    code_matches && kk.mods == mods
}

/// The knob-panel command bound to `key`, if any.
pub fn knob_lookup(key: &KeyEvent) -> Option<KnobCommand> {
    KNOB_BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|kk| matches(kk, key)))
        .map(|b| b.command)
}

/// The command bound to `key`, if any. Shift is ignored for characters because
/// terminals disagree on whether `G` arrives with SHIFT set.
pub fn lookup(key: &KeyEvent) -> Option<Command> {
    for b in BINDINGS {
        for (i, kk) in b.keys.iter().enumerate() {
            if matches(kk, key) {
                return Some(match b.command {
                    Command::Focus(_) => Command::Focus(i),
                    c => c,
                });
            }
        }
    }
    None
}

/// The first key bound to `cmd`, as the help popup spells it (banners name
/// keys through this so they cannot drift from the table).
pub fn key_label(cmd: Command) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| b.command == cmd)
        .and_then(|b| b.keys.first())
        .map_or("?", |k| k.label)
}

/// `(keys, description)` lines for the help popup, in table order: the
/// main keys, then a heading line (empty keys) and the knob panel's.
pub fn help_lines() -> Vec<(String, &'static str)> {
    let main = BINDINGS.iter().map(|b| {
        let keys: Vec<&str> = b.keys.iter().map(|k| k.label).collect();
        let keys = if matches!(b.command, Command::Focus(_)) {
            "1..6".to_string()
        } else {
            keys.join(" ")
        };
        (keys, b.help)
    });
    let knobs = KNOB_BINDINGS.iter().map(|b| {
        let keys: Vec<&str> = b.keys.iter().map(|k| k.label).collect();
        (keys.join(" "), b.help)
    });
    main.chain(std::iter::once((String::new(), "in the knob panel (w):")))
        .chain(knobs)
        .collect()
}
