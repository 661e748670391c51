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
mod tree;
mod write;

pub use write::write_atomic;

use format::{inline, parse_value, style_of, NewValue, Style};
use granit_parser::ScalarStyle;
use std::path::Path;
use tree::{Doc, Entry, Kind, Node};

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

struct Ctx<'a> {
    text: &'a str,
    doc: &'a Doc,
    key: &'a str,
    eol: &'static str,
    step: usize,
}

impl Ctx<'_> {
    fn err(&self, m: impl Into<String>) -> EditError {
        EditError::new(self.key, m)
    }

    fn shared_err(&self, at: &str, name: &str) -> EditError {
        self.err(format!(
            "'{at}' is anchored as &{name} and used elsewhere through *{name}; \
             changing it would change those places too, so it is refused \
             (write the value out where you want it changed)"
        ))
    }

    /// Walk `segs` from the root and build the splice.
    fn splice(&self, root: &Node, segs: &[String], new: &NewValue) -> Result<Splice, EditError> {
        let mut cur = root;
        let mut parent: Option<(&Entry, bool)> = None;
        for (i, seg) in segs.iter().enumerate() {
            let at = segs[..i].join(".");
            if let Some(name) = self.doc.is_shared(cur) {
                return Err(
                    self.shared_err(if at.is_empty() { "the top level" } else { &at }, &name)
                );
            }
            let (entries, flow) = match &cur.kind {
                Kind::Map { entries, flow } => (entries, *flow),
                Kind::Alias(id) => {
                    return Err(self.err(format!(
                        "'{at}' is an alias (*{}) of a value written elsewhere; \
                         setting '{seg}' inside it would change the original too, so it is refused",
                        self.doc.anchor_name(*id)
                    )))
                }
                _ if cur.is_null() => {
                    // `config:` with nothing under it: fill it in.
                    if let Some((entry, parent_flow)) = parent {
                        return self.fill_null(entry, parent_flow, &segs[i..], new);
                    }
                    return Err(self.err("the file has no experiments"));
                }
                Kind::Seq { .. } => {
                    return Err(self.err(format!(
                        "'{at}' is a list, not a mapping; it has no key '{seg}'"
                    )))
                }
                Kind::Scalar { .. } => {
                    return Err(self.err(format!(
                        "'{at}' is a single value, not a mapping; it has no key '{seg}'"
                    )))
                }
            };
            let last = i + 1 == segs.len();
            match entries.iter().find(|e| e.key == *seg) {
                Some(e) if last => return self.replace(e, new),
                Some(e) => {
                    parent = Some((e, flow));
                    cur = &e.value;
                }
                None if !last && self.merged_has(entries, seg, 0) => {
                    return Err(self.err(format!(
                        "'{at}.{seg}' comes from a '<<' merge; setting a key inside it would change \
                         every mapping that merges it, or drop its other keys here (merges are shallow), \
                         so it is refused: write '{seg}' out under '{at}' first"
                    )))
                }
                // Absent (or only merged, for a leaf: an explicit key overrides the merge).
                None => return self.insert(cur, entries, flow, &segs[i..], new),
            }
        }
        Err(self.err("empty key"))
    }

    /// Whether `seg` reaches this mapping through `<<: *anchor` (recursively).
    fn merged_has(&self, entries: &[Entry], seg: &str, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        let sources = |n: &Node| -> Vec<usize> {
            match &n.kind {
                Kind::Alias(id) => vec![*id],
                Kind::Seq { items, .. } => items
                    .iter()
                    .filter_map(|i| match i.kind {
                        Kind::Alias(id) => Some(id),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        entries.iter().filter(|e| e.key == "<<").any(|e| {
            let inline_map = match &e.value.kind {
                Kind::Map { entries, .. } => entries.iter().any(|x| x.key == seg),
                _ => false,
            };
            inline_map
                || sources(&e.value)
                    .into_iter()
                    .any(|id| match self.doc.anchors.get(&id) {
                        Some(Node {
                            kind: Kind::Map { entries, .. },
                            ..
                        }) => {
                            entries.iter().any(|x| x.key == seg)
                                || self.merged_has(entries, seg, depth + 1)
                        }
                        _ => false,
                    })
        })
    }

    /// Set an existing key's value.
    fn replace(&self, e: &Entry, new: &NewValue) -> Result<Splice, EditError> {
        let old = &e.value;
        if let Some(name) = self.doc.is_shared(old) {
            return Err(self.shared_err(self.key, &name));
        }
        if let Some(name) = self.shared_inside(old) {
            return Err(self.err(format!(
                "the old value defines anchor &{name}, which is used elsewhere through *{name}; \
                 replacing it would break those uses, so it is refused"
            )));
        }
        if let Kind::Scalar {
            style: ScalarStyle::Literal | ScalarStyle::Folded,
            ..
        } = old.kind
        {
            return Err(self.err("the old value is a block scalar ('|' or '>'); edit it by hand"));
        }
        let style = style_of(old, self.text);
        if old.start == old.end {
            // `key:` with nothing after it: the value goes after the colon.
            let at = self.after_colon(e)?;
            return Ok(Splice {
                start: at,
                end: at,
                text: format!(" {}", inline(new, &Style::default())),
            });
        }
        match (&old.kind, new) {
            // A block list stays a block list, one `- item` per line.
            (
                Kind::Seq {
                    flow: false,
                    items: olds,
                },
                NewValue::Seq(items),
            ) if !items.is_empty() && !olds.is_empty() => Ok(self.block_list(olds, items, &style)),
            // Another block collection becomes a flow value after the colon.
            _ if old.is_block_collection() => Ok(Splice {
                start: self.after_colon(e)?,
                end: old.end,
                text: format!(" {}", inline(new, &style)),
            }),
            _ => Ok(Splice {
                start: old.start,
                end: old.end,
                text: inline(new, &style),
            }),
        }
    }

    /// Rewrite a block list item by item, so the bytes between items (their
    /// comments, the `- ` marks) stay; extra items go on new lines after the
    /// last one, dropped ones go with their lines.
    fn block_list(&self, olds: &[Node], items: &[NewValue], style: &Style) -> Splice {
        let first = &olds[0];
        let last = &olds[olds.len() - 1];
        let mut out = String::new();
        let kept = items.len().min(olds.len());
        for (i, item) in items.iter().take(kept).enumerate() {
            out.push_str(&inline(item, style));
            if i + 1 < kept {
                out.push_str(&self.text[olds[i].end..olds[i + 1].start]);
            }
        }
        // The range runs to the end of the last item's line (before its line
        // break): the last kept item keeps its trailing comment, dropped items
        // leave with their lines.
        let line_end = |n: &Node| {
            let e = self.text[n.end..]
                .find('\n')
                .map_or(self.text.len(), |i| n.end + i);
            if self.text[..e].ends_with('\r') {
                e - 1
            } else {
                e
            }
        };
        let end = line_end(last);
        let kept_last = &olds[kept - 1];
        out.push_str(&self.text[kept_last.end..line_end(kept_last)]);
        // New items go in the `- ` column of the list.
        let dash = self.text[..last.start].rfind('-').unwrap_or(last.start);
        let indent = " ".repeat(col(self.text, dash));
        for item in items.iter().skip(olds.len()) {
            out.push_str(&format!("{}{indent}- {}", self.eol, inline(item, style)));
        }
        Splice {
            start: first.start,
            end,
            text: out,
        }
    }

    /// Name of an anchor defined inside `n` (below it) that an alias uses.
    fn shared_inside(&self, n: &Node) -> Option<String> {
        let mut todo: Vec<&Node> = match &n.kind {
            Kind::Seq { items, .. } => items.iter().collect(),
            Kind::Map { entries, .. } => entries.iter().map(|e| &e.value).collect(),
            _ => Vec::new(),
        };
        while let Some(x) = todo.pop() {
            if let Some(name) = self.doc.is_shared(x) {
                return Some(name);
            }
            match &x.kind {
                Kind::Seq { items, .. } => todo.extend(items.iter()),
                Kind::Map { entries, .. } => todo.extend(entries.iter().map(|e| &e.value)),
                _ => {}
            }
        }
        None
    }

    /// Byte offset just after the `:` that follows an entry's key.
    fn after_colon(&self, e: &Entry) -> Result<usize, EditError> {
        let rest = &self.text[e.key_end..];
        let skip = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[skip..].starts_with(':') {
            Ok(e.key_end + skip + 1)
        } else {
            Err(self.err(format!("cannot find the ':' after key '{}'", e.key)))
        }
    }

    /// Add `segs` (key, then any mappings to create under it) to a mapping.
    fn insert(
        &self,
        map: &Node,
        entries: &[Entry],
        flow: bool,
        segs: &[String],
        new: &NewValue,
    ) -> Result<Splice, EditError> {
        if flow {
            let item = format!(
                "{}: {}",
                key_text(&segs[0]),
                inline(&nest(&segs[1..], new), &Style::default())
            );
            return Ok(match entries.last() {
                Some(e) => Splice {
                    start: e.value.end,
                    end: e.value.end,
                    text: format!(", {item}"),
                },
                None => Splice {
                    start: map.start + 1,
                    end: map.start + 1,
                    text: item,
                },
            });
        }
        let Some(first) = entries.first() else {
            return Err(self.err("cannot insert into an empty block mapping"));
        };
        let indent = col(self.text, first.key_start);
        // A person puts a setting beside the other settings, before nested
        // blocks such as `config:`; a new block goes after everything.
        let after = if segs.len() == 1 {
            entries
                .iter()
                .rev()
                .find(|e| !matches!(e.value.kind, Kind::Map { flow: false, .. }))
        } else {
            entries.last()
        };
        let lines = self.block_lines(indent, segs, new);
        Ok(match after {
            Some(e) => {
                let (at, needs_eol) = line_after(self.text, e.value.end.max(e.key_end));
                let lead = if needs_eol { self.eol } else { "" };
                Splice {
                    start: at,
                    end: at,
                    text: format!("{lead}{lines}"),
                }
            }
            // Every entry is a nested block: go first, at the first key's line.
            None => {
                let at = line_start(self.text, first.key_start);
                let pad = &self.text[at..first.key_start];
                if !pad.chars().all(|c| c == ' ') {
                    return Err(self.err("cannot find where to insert the key"));
                }
                Splice {
                    start: at,
                    end: at,
                    text: lines,
                }
            }
        })
    }

    /// Fill `key:` / `key: ~` (null) with a mapping holding `segs`.
    fn fill_null(
        &self,
        entry: &Entry,
        parent_flow: bool,
        segs: &[String],
        new: &NewValue,
    ) -> Result<Splice, EditError> {
        let old = &entry.value;
        let value = nest(segs, new);
        if parent_flow {
            return self.replace(entry, &value);
        }
        let indent = col(self.text, entry.key_start) + self.step;
        let lines = self.block_lines(indent, segs, new);
        let (at, needs_eol) = line_after(self.text, old.end.max(entry.key_end));
        let lead = if needs_eol { self.eol } else { "" };
        if old.start == old.end {
            return Ok(Splice {
                start: at,
                end: at,
                text: format!("{lead}{lines}"),
            });
        }
        // `key: ~  # note`: drop the `~` (and the spaces before it), keep the rest of the line.
        let colon = self.after_colon(entry)?;
        Ok(Splice {
            start: colon,
            end: at,
            text: format!("{}{lead}{lines}", &self.text[old.end..at]),
        })
    }

    /// `key:` lines for each intermediate mapping, then `leaf: value`, each ending with EOL.
    fn block_lines(&self, indent: usize, segs: &[String], new: &NewValue) -> String {
        let mut out = String::new();
        for (j, s) in segs.iter().enumerate() {
            let pad = " ".repeat(indent + j * self.step);
            if j + 1 == segs.len() {
                out.push_str(&format!(
                    "{pad}{}: {}{}",
                    key_text(s),
                    inline(new, &Style::default()),
                    self.eol
                ));
            } else {
                out.push_str(&format!("{pad}{}:{}", key_text(s), self.eol));
            }
        }
        out
    }
}

/// `segs` = [a, b]: the value `{a: {b: new}}`; empty: `new` itself.
fn nest(segs: &[String], new: &NewValue) -> NewValue {
    segs.iter()
        .rev()
        .fold(new.clone(), |v, s| NewValue::Map(vec![(s.clone(), v)]))
}

fn key_text(k: &str) -> String {
    inline(
        &NewValue::Scalar {
            text: k.to_string(),
            quoted: None,
        },
        &Style::default(),
    )
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// Column (in characters) of byte `pos`.
fn col(text: &str, pos: usize) -> usize {
    text[line_start(text, pos)..pos].chars().count()
}

/// Start of the line after the one holding byte `end` (a value ending in a
/// line break, like a block scalar, already ends there). The flag says the
/// file ends without a line break, so the insertion must start with one.
fn line_after(text: &str, end: usize) -> (usize, bool) {
    if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
        return (end, false);
    }
    match text[end..].find('\n') {
        Some(i) => (end + i + 1, false),
        None => (text.len(), true),
    }
}

/// The file's indentation step: the smallest indent of a nested block mapping
/// relative to its parent's keys (2 when nothing is nested).
fn indent_step(text: &str, root: &Node) -> usize {
    let mut best: Option<usize> = None;
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        match &n.kind {
            Kind::Map {
                entries,
                flow: false,
            } => {
                for e in entries {
                    if let Kind::Map {
                        entries: inner,
                        flow: false,
                    } = &e.value.kind
                    {
                        if let Some(f) = inner.first() {
                            let d = col(text, f.key_start).saturating_sub(col(text, e.key_start));
                            if d > 0 {
                                best = Some(best.map_or(d, |b| b.min(d)));
                            }
                        }
                    }
                    todo.push(&e.value);
                }
            }
            Kind::Map { entries, .. } => todo.extend(entries.iter().map(|e| &e.value)),
            Kind::Seq { items, .. } => todo.extend(items.iter()),
            _ => {}
        }
    }
    best.unwrap_or(2)
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
