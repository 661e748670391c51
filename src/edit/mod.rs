//! Format-preserving edits of an exp file: `xpyd set FILE KEY=VALUE...`.
//!
//! An edit is a [`Splice`]: one byte range of the file and its replacement,
//! worked out from the byte spans of the parsed tree ([`tree`]). Only the
//! edited value's bytes change (or, for an absent key, new lines are inserted
//! in the mapping it belongs to); comments, order, quoting, list style, blank
//! lines and line endings elsewhere stay as they were. [`set_file`] checks the
//! whole result with a caller-supplied validator (the real loader in the CLI)
//! and replaces the file atomically.
//!
//! Anchors: a value that is, or sits inside, an anchored node used elsewhere
//! through an alias is refused, as is a path through an alias or through a key
//! that only exists by a `<<` merge; setting a merged leaf key writes an
//! explicit key, which overrides the merge for this mapping only.

mod format;
mod key;
mod restore;
mod splice;
mod tree;
mod write;

pub use restore::{restore, RestoreError};
pub use write::write_atomic;

use format::parse_value;
use splice::{indent_step, Ctx};
use std::path::Path;
use tree::Kind;

/// Why an edit cannot be made; names the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditError {
    pub key: String,
    pub message: String,
}

impl EditError {
    fn new(key: &str, message: impl Into<String>) -> EditError {
        EditError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for EditError {}

/// Replace `text[start..end]` with `text` (an insertion when `start == end`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Splice {
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + self.text.len());
        out.push_str(&text[..self.start]);
        out.push_str(&self.text);
        out.push_str(&text[self.end..]);
        out
    }
}

/// The new text of the file after setting `key` to `value` (pure).
pub fn plan_edit(text: &str, key: &str, value: &str) -> Result<String, EditError> {
    Ok(plan_splice(text, key, value)?.apply(text))
}

/// Several edits, applied in order, each to the result of the one before.
pub fn plan_edits<K: AsRef<str>, V: AsRef<str>>(
    text: &str,
    edits: &[(K, V)],
) -> Result<String, EditError> {
    let mut cur = text.to_string();
    for (k, v) in edits {
        cur = plan_edit(&cur, k.as_ref(), v.as_ref())?;
    }
    Ok(cur)
}

/// The one splice that sets `key` to `value` in `text`.
pub fn plan_splice(text: &str, key: &str, value: &str) -> Result<Splice, EditError> {
    let path = key::parse_key(key)?;
    let new = parse_value(key, value)?;
    let doc = tree::parse(text).map_err(|(l, c, m)| {
        EditError::new(
            key,
            format!("the file is not valid YAML (line {l}, column {c}): {m}"),
        )
    })?;
    let Some(root) = &doc.root else {
        return Err(EditError::new(key, "the file has no experiments"));
    };
    let Kind::Map { entries, .. } = &root.kind else {
        return Err(EditError::new(
            key,
            "the top level of the file is not a mapping",
        ));
    };
    // An experiment name may itself contain dots: take the shortest prefix of
    // the key that names a top-level entry.
    let split = (1..=path.len())
        .find(|&j| entries.iter().any(|e| e.key == path[..j].join(".")))
        .ok_or_else(|| {
            let names: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            EditError::new(
                key,
                format!(
                    "no experiment '{}' in the file (it has: {})",
                    path[0],
                    names.join(", ")
                ),
            )
        })?;
    let mut segs = vec![path[..split].join(".")];
    segs.extend(path[split..].iter().cloned());
    let ctx = Ctx {
        text,
        doc: &doc,
        key,
        eol: if text.contains("\r\n") { "\r\n" } else { "\n" },
        step: indent_step(text, root),
    };
    ctx.splice(root, &segs, &new)
}

/// What [`set_file`] did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The file's bytes before the write, to restore them exactly (undo).
    pub previous: Vec<u8>,
    /// The text now in the file.
    pub text: String,
    /// False when the edits left the text as it was (nothing was written).
    pub changed: bool,
}

#[derive(Debug)]
pub enum SetError {
    Read(String),
    Edit(EditError),
    /// The edited file would not load; the loader's located message.
    Invalid(String),
    Write(String),
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::Read(m) | SetError::Write(m) => f.write_str(m),
            SetError::Edit(e) => write!(f, "{e}"),
            SetError::Invalid(m) => write!(
                f,
                "the edited file would not load, nothing was written:\n{m}"
            ),
        }
    }
}

impl std::error::Error for SetError {}

/// Apply `edits` to the file at `path`, check the result with `validate`
/// (e.g. the real loader) and replace the file atomically. On any error the
/// file is left untouched.
pub fn set_file<K: AsRef<str>, V: AsRef<str>>(
    path: &Path,
    edits: &[(K, V)],
    validate: impl Fn(&str) -> Result<(), String>,
) -> Result<Outcome, SetError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| SetError::Read(format!("{shown}: {e}")))?;
    if meta.len() > crate::exp::MAX_FILE_BYTES {
        return Err(SetError::Read(format!(
            "{shown}: file is larger than 1 MiB"
        )));
    }
    let previous = std::fs::read(path).map_err(|e| SetError::Read(format!("{shown}: {e}")))?;
    let text = std::str::from_utf8(&previous)
        .map_err(|e| SetError::Read(format!("{shown}: not valid UTF-8: {e}")))?;
    let new = plan_edits(text, edits).map_err(SetError::Edit)?;
    validate(&new).map_err(SetError::Invalid)?;
    let changed = new != text;
    if changed {
        write_atomic(path, new.as_bytes())
            .map_err(|e| SetError::Write(format!("writing {shown}: {e}")))?;
    }
    Ok(Outcome {
        previous,
        text: new,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "a:\n  isl: 4000 # in\n  name: 'x'\n  config:\n    tp_list: [1,2]\n    pp:\n      - 1\n      - 2\n";

    #[test]
    fn replaces_only_the_value() {
        assert_eq!(
            plan_edit(F, "a.isl", "8000").unwrap(),
            F.replace("4000", "8000")
        );
        assert_eq!(
            plan_edit(F, "a.name", "y").unwrap(),
            F.replace("'x'", "'y'")
        );
        assert_eq!(
            plan_edit(F, "a.config.tp_list", "[2, 4]").unwrap(),
            F.replace("[1,2]", "[2,4]")
        );
        assert_eq!(
            plan_edit(F, "a.config.pp", "[4]").unwrap(),
            F.replace("- 1\n      - 2", "- 4")
        );
        assert_eq!(
            plan_edit(F, "a.config.pp", "[4, 5, 6]").unwrap(),
            F.replace("- 1\n      - 2", "- 4\n      - 5\n      - 6")
        );
    }

    #[test]
    fn inserts_absent_keys() {
        assert_eq!(
            plan_edit(F, "a.osl", "10").unwrap(),
            F.replace("'x'\n", "'x'\n  osl: 10\n")
        );
        assert_eq!(
            plan_edit(F, "a.config.w.tp_list", "[2]").unwrap(),
            format!("{F}    w:\n      tp_list: [2]\n")
        );
    }

    #[test]
    fn anchors_are_refused() {
        let t = "a: &b\n  isl: 1\nc:\n  <<: *b\n";
        assert!(plan_edit(t, "a.isl", "2")
            .unwrap_err()
            .message
            .contains("&b"));
        assert_eq!(
            plan_edit(t, "c.isl", "2").unwrap(),
            "a: &b\n  isl: 1\nc:\n  <<: *b\n  isl: 2\n"
        );
    }
}
