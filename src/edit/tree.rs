//! A byte-spanned YAML tree for editing.
//!
//! The loader's tree (`exp/yaml.rs`) keeps line:col positions and expands
//! aliases and merges, which is what validation wants. Editing needs the
//! opposite: byte ranges of what is written, aliases left unexpanded (so an
//! edit can tell a shared value from its own) and the presentation (flow or
//! block, quoting). Both are built from the same granit-parser events.

use granit_parser::{Event, Options, Parser, ScalarStyle};
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte range of the written value. Block collections span from their
    /// first item to the end of their last one; an empty `key:` value is an
    /// empty range at the end of its key.
    pub start: usize,
    pub end: usize,
    /// Anchor id (`&name`) on this node, if any.
    pub anchor: Option<usize>,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Scalar { text: String, style: ScalarStyle },
    Alias(usize),
    Seq { items: Vec<Node>, flow: bool },
    Map { entries: Vec<Entry>, flow: bool },
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_start: usize,
    pub key_end: usize,
    pub value: Node,
}

impl Node {
    /// `~`, `null` or nothing: a value that a mapping may replace.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, style: ScalarStyle::Plain }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn is_block_collection(&self) -> bool {
        matches!(
            self.kind,
            Kind::Seq { flow: false, .. } | Kind::Map { flow: false, .. }
        )
    }
}

#[derive(Debug)]
pub(crate) struct Doc {
    pub root: Option<Node>,
    /// Anchored nodes by id, for following `<<: *base`.
    pub anchors: HashMap<usize, Node>,
    pub anchor_names: HashMap<usize, String>,
    /// How many aliases refer to each anchor id.
    pub alias_uses: HashMap<usize, usize>,
}

impl Doc {
    pub fn anchor_name(&self, id: usize) -> String {
        self.anchor_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "?".into())
    }

    /// Whether some alias in the file refers to this node.
    pub fn is_shared(&self, n: &Node) -> Option<String> {
        let id = n.anchor?;
        (self.alias_uses.get(&id).copied().unwrap_or(0) > 0).then(|| self.anchor_name(id))
    }
}

enum Frame {
    Seq(Node),
    Map(Node, Option<(String, usize, usize)>),
}

/// Parse `text`; the error is (line, column, message).
pub(crate) fn parse(text: &str) -> Result<Doc, (usize, usize, String)> {
    let mut opts = Options::default();
    opts.emit_anchor_events = true;
    let mut doc = Doc {
        root: None,
        anchors: HashMap::new(),
        anchor_names: HashMap::new(),
        alias_uses: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut docs = 0;
    for item in Parser::new_from_str_with_options(text, opts) {
        let (event, span) =
            item.map_err(|e| (e.marker().line(), e.marker().col() + 1, e.info()))?;
        let r = span.byte_range().unwrap_or(0..0);
        let done = match event {
            Event::DocumentStart(..) => {
                docs += 1;
                if docs > 1 {
                    return Err((
                        span.start.line(),
                        span.start.col() + 1,
                        "more than one YAML document".into(),
                    ));
                }
                None
            }
            Event::Anchor(id, name) => {
                doc.anchor_names.insert(id, name.into_owned());
                None
            }
            Event::Alias(id) => {
                *doc.alias_uses.entry(id).or_insert(0) += 1;
                Some(Node {
                    kind: Kind::Alias(id),
                    start: r.start,
                    end: r.end,
                    anchor: None,
                })
            }
            Event::Scalar(t, style, anchor, _) => Some(Node {
                kind: Kind::Scalar {
                    text: t.into_owned(),
                    style,
                },
                start: r.start,
                end: r.end,
                anchor: (anchor != 0).then_some(anchor),
            }),
            Event::SequenceStart(_, anchor, _) => {
                let flow = text.as_bytes().get(r.start) == Some(&b'[');
                stack.push(Frame::Seq(Node {
                    kind: Kind::Seq {
                        items: Vec::new(),
                        flow,
                    },
                    start: r.start,
                    end: r.start,
                    anchor: (anchor != 0).then_some(anchor),
                }));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                let flow = text.as_bytes().get(r.start) == Some(&b'{');
                stack.push(Frame::Map(
                    Node {
                        kind: Kind::Map {
                            entries: Vec::new(),
                            flow,
                        },
                        start: r.start,
                        end: r.start,
                        anchor: (anchor != 0).then_some(anchor),
                    },
                    None,
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let mut n = match stack.pop() {
                    Some(Frame::Seq(n)) | Some(Frame::Map(n, _)) => n,
                    None => return Err((0, 0, "unbalanced collection".into())),
                };
                n.end = match &n.kind {
                    Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. } => r.end,
                    Kind::Seq { items, .. } => items.last().map_or(n.start, |i| i.end),
                    Kind::Map { entries, .. } => entries.last().map_or(n.start, |e| e.value.end),
                    _ => n.end,
                };
                Some(n)
            }
            _ => None,
        };
        let Some(node) = done else { continue };
        if let Some(id) = node.anchor {
            doc.anchors.insert(id, node.clone());
        }
        match stack.last_mut() {
            None => doc.root = Some(node),
            Some(Frame::Seq(Node {
                kind: Kind::Seq { items, .. },
                ..
            })) => items.push(node),
            Some(Frame::Map(
                Node {
                    kind: Kind::Map { entries, .. },
                    ..
                },
                key,
            )) => match key.take() {
                None => match node.kind {
                    Kind::Scalar { text, .. } => *key = Some((text, node.start, node.end)),
                    _ => return Err((0, 0, "mapping keys must be plain names".into())),
                },
                Some((k, ks, ke)) => entries.push(Entry {
                    key: k,
                    key_start: ks,
                    key_end: ke,
                    value: node,
                }),
            },
            Some(_) => return Err((0, 0, "malformed event stream".into())),
        }
    }
    Ok(doc)
}
