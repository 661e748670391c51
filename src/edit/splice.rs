//! Working out one edit's [`Splice`](super::Splice) from the parsed tree:
//! replace a value in place (keeping its quoting and list style), or insert an
//! absent key where a person would put it, with the file's indentation and
//! line endings; refuse paths through shared anchors, aliases and merges.

use super::format::{inline, style_of, NewValue, Style};
use super::tree::{Doc, Entry, Kind, Node};
use super::{EditError, Splice};
use granit_parser::ScalarStyle;

pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) doc: &'a Doc,
    pub(super) key: &'a str,
    pub(super) eol: &'static str,
    pub(super) step: usize,
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
    pub(super) fn splice(
        &self,
        root: &Node,
        segs: &[String],
        new: &NewValue,
    ) -> Result<Splice, EditError> {
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
pub(super) fn indent_step(text: &str, root: &Node) -> usize {
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
