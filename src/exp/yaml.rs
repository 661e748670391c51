//! A small spanned YAML node tree.
//!
//! Why not `serde_saphyr` + `Spanned<T>` or `serde_yaml`: the loader must point
//! at every key and every value (including keys it does not know, duplicate
//! keys and list elements) and must keep key order. `serde_yaml` is archived
//! and has no positions; deserializing through serde gives positions only for
//! fields we wrap, loses unknown/duplicate keys, and stops at the first error.
//! So we read the event stream of `granit-parser` (the parser serde-saphyr
//! itself is built on) and build a tree where each mapping is an ordered list
//! of entries, each with a key position and a value position. Validation is
//! then done by hand in `schema/`, which lets it report every problem.
//!
//! Scalars keep their source text and whether they were plain (unquoted), so
//! the schema stage decides types the way YAML 1.2 core schema would
//! (`"8"` is a string, `8` a number).

use granit_parser::{Event, Marker, Parser, ScalarStyle};
use std::collections::HashMap;

/// 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        // granit lines are 1-based, columns 0-based.
        Pos {
            line: m.line().max(1),
            col: m.col() + 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null`, or nothing after `key:`.
    Null,
    Scalar {
        text: String,
        /// Unquoted plain scalar (may be a number or boolean); quoted and block
        /// scalars, and `!!str`-tagged ones, are always strings.
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// Human description of the node's kind, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Scalar { text, plain } => {
                if *plain && (text.parse::<f64>().is_ok()) {
                    format!("the number {}", clip(text))
                } else {
                    format!("the string '{}'", clip(text))
                }
            }
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }
}

/// Shorten a value for quoting in messages (char-safe, never splits UTF-8).
pub fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Upper bound on nodes, counting alias expansions, so alias bombs cannot blow up memory.
const MAX_NODES: usize = 200_000;

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// Entries that came from `<<` merge keys; explicit keys win over them.
        merged: Vec<Entry>,
        key: Option<(String, Pos, bool)>,
    },
}

/// Parse `text` into a tree. `Ok(None)` for a file with no document (empty or comments only).
pub fn parse(text: &str) -> Result<Option<Node>, (Pos, String)> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut docs = 0usize;
    let mut nodes = 0usize;

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                return Err((Pos::from_marker(e.marker()), e.info()));
            }
        };
        let pos = Pos::from_marker(&span.start);
        let done: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
            Event::DocumentStart(..) => {
                docs += 1;
                if docs > 1 {
                    return Err((
                        pos,
                        "more than one YAML document ('---'): an exp file holds exactly one".into(),
                    ));
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    nodes = nodes.saturating_add(count(n));
                    let mut n = n.clone();
                    n.pos = pos;
                    Some((n, 0))
                }
                None => return Err((pos, "alias refers to an unknown anchor".into())),
            },
            Event::UnresolvedAlias(_) => {
                return Err((pos, "alias refers to an unknown anchor".into()))
            }
            Event::Anchor(..) => None,
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                let tagged_str = tag.as_ref().map(|t| t.suffix() == "str").unwrap_or(false);
                let plain = matches!(style, ScalarStyle::Plain) && !tagged_str;
                let value = if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    }
                };
                Some((Node { value, pos }, anchor))
            }
            Event::SequenceStart(_, anchor, _) => {
                nodes += 1;
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(_, anchor, _) => {
                nodes += 1;
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    merged: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((
                    Node {
                        value: Value::Seq(items),
                        pos,
                    },
                    anchor,
                )),
                _ => return Err((pos, "unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    mut entries,
                    merged,
                    ..
                }) => {
                    for m in merged {
                        if !entries.iter().any(|e| e.key == m.key) {
                            entries.push(m);
                        }
                    }
                    Some((
                        Node {
                            value: Value::Map(entries),
                            pos,
                        },
                        anchor,
                    ))
                }
                _ => return Err((pos, "unbalanced mapping".into())),
            },
            #[allow(unreachable_patterns)]
            _ => None,
        };
        if nodes > MAX_NODES {
            return Err((
                pos,
                format!("document too large: more than {MAX_NODES} YAML nodes (after expanding aliases)"),
            ));
        }
        let Some((node, anchor)) = done else { continue };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merged,
                key,
                ..
            }) => match key.take() {
                None => match node.value {
                    Value::Scalar { text, plain } => *key = Some((text, node.pos, plain)),
                    Value::Null => *key = Some((String::new(), node.pos, true)),
                    _ => {
                        return Err((
                            node.pos,
                            "mapping keys must be plain names, not lists or mappings".into(),
                        ))
                    }
                },
                Some((k, key_pos, plain)) => {
                    if plain && k == "<<" {
                        merge_into(merged, node)?;
                    } else {
                        entries.push(Entry {
                            key: k,
                            key_pos,
                            value: node,
                        });
                    }
                }
            },
        }
    }
    Ok(root)
}

/// YAML merge key: `<<: *base` or `<<: [*a, *b]`; the first source wins among merges.
fn merge_into(merged: &mut Vec<Entry>, node: Node) -> Result<(), (Pos, String)> {
    let pos = node.pos;
    let sources = match node.value {
        Value::Map(entries) => vec![entries],
        Value::Seq(items) => {
            let mut v = Vec::new();
            for it in items {
                match it.value {
                    Value::Map(e) => v.push(e),
                    _ => return Err((it.pos, "'<<' merge list must contain mappings".into())),
                }
            }
            v
        }
        _ => {
            return Err((
                pos,
                "'<<' merge key needs a mapping or a list of mappings".into(),
            ))
        }
    };
    for src in sources {
        for e in src {
            if !merged.iter().any(|m| m.key == e.key) {
                merged.push(e);
            }
        }
    }
    Ok(())
}

fn count(n: &Node) -> usize {
    // Iterative so that a deep tree cannot overflow the stack.
    let mut total = 0usize;
    let mut todo = vec![n];
    while let Some(n) = todo.pop() {
        total += 1;
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: &Node) -> &Vec<Entry> {
        match &n.value {
            Value::Map(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn keeps_order_positions_and_duplicates() {
        let t = "b: 1\na:\n  - x\n  - 'y'\nb: ~\n";
        let root = parse(t).unwrap().unwrap();
        let e = map(&root);
        assert_eq!(
            e.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["b", "a", "b"]
        );
        assert_eq!(e[1].key_pos, Pos { line: 2, col: 1 });
        assert_eq!(e[0].value.pos, Pos { line: 1, col: 4 });
        assert_eq!(e[2].value.value, Value::Null);
        match &e[1].value.value {
            Value::Seq(items) => {
                assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
                assert_eq!(
                    items[1].value,
                    Value::Scalar {
                        text: "y".into(),
                        plain: false
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merge_keys_and_aliases() {
        let t = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n";
        let root = parse(t).unwrap().unwrap();
        let c = &map(&root)[1].value;
        let e = map(c);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].key, "y");
        assert_eq!(e[1].key, "x");
    }

    #[test]
    fn empty_and_errors() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert!(parse("a: *nope\n").is_err());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut t = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            t.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&t).unwrap_err();
        assert!(err.1.contains("too large"), "{err:?}");
    }
}
