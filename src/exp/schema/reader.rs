//! `Cx`: reads one value of the node tree — a string, a choice among names, a
//! number in range, a boolean, a list, a mapping — and reports a located error
//! when it is not what the key expects. Also duplicate and unknown keys.

use super::keys::{MAX_LIST_LEN, UNSUPPORTED_KEYS};
use super::raw::Sp;
use crate::exp::diag::Diag;
use crate::exp::suggest::did_you_mean;
use crate::exp::yaml::{clip, Entry, Node, Pos, Value};
use std::collections::HashMap;

/// Experiment name + key path context for messages.
pub(super) struct Cx<'a> {
    pub(super) exp: Option<&'a str>,
}

pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn allowed_hint(word: &str, names: &[&str]) -> String {
    let list = names.join(", ");
    match did_you_mean(word, names.iter().copied()) {
        Some(s) => format!("{s} allowed: {list}"),
        None => format!("allowed: {list}"),
    }
}

impl Cx<'_> {
    pub(super) fn string(&self, d: &mut Diag, path: &str, n: &Node) -> Option<Sp<String>> {
        match &n.value {
            Value::Scalar { text, .. } => Some(Sp {
                v: text.clone(),
                pos: n.pos,
            }),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a string, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// Optional string: `null` means "not set" (the seed writes `moe_backend: null`).
    pub(super) fn opt_string(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
    ) -> Option<Option<Sp<String>>> {
        if n.value == Value::Null {
            return Some(None);
        }
        self.string(d, path, n).map(Some)
    }

    pub(super) fn choice<T>(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        what: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Sp<T>> {
        let s = self.string(d, path, n)?;
        match parse(&s.v) {
            Some(v) => Some(Sp { v, pos: s.pos }),
            None => {
                d.err(
                    self.exp,
                    path,
                    s.pos,
                    format!("unknown {what} '{}'", clip(&s.v)),
                    Some(allowed_hint(&s.v, names)),
                );
                None
            }
        }
    }

    pub(super) fn int(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        min: u32,
        max: u32,
    ) -> Option<Sp<u32>> {
        let text = match &n.value {
            Value::Scalar { text, plain: true } => text.trim(),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a whole number, found {}", n.kind_name()),
                    None,
                );
                return None;
            }
        };
        let parsed = text.parse::<i64>().ok();
        let digits = text.trim_start_matches(['+', '-']);
        let too_long = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
        let v = match parsed {
            Some(v) => v,
            // All digits but beyond i64: report it as out of range, not as a type error.
            None if too_long => {
                let msg = if text.starts_with('-') {
                    format!("must be at least {min}, got {}", clip(text))
                } else {
                    format!("must be at most {max}, got {}", clip(text))
                };
                d.err(self.exp, path, n.pos, msg, None);
                return None;
            }
            None => {
                let msg = if text.parse::<f64>().is_ok() {
                    format!("expected a whole number, found {}", clip(text))
                } else {
                    format!("expected a whole number, found the string '{}'", clip(text))
                };
                d.err(self.exp, path, n.pos, msg, None);
                return None;
            }
        };
        if v < i64::from(min) {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at least {min}, got {v}"),
                None,
            );
            return None;
        }
        if v > i64::from(max) {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at most {max}, got {v}"),
                None,
            );
            return None;
        }
        // In range of u32 by the checks above.
        Some(Sp {
            v: v as u32,
            pos: n.pos,
        })
    }

    /// A finite number in `(0, max]` (or `[0, max]` when `zero_ok`).
    pub(super) fn float(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        zero_ok: bool,
        max: f64,
    ) -> Option<Sp<f64>> {
        let text = match &n.value {
            Value::Scalar { text, plain: true } => text.trim(),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a number, found {}", n.kind_name()),
                    None,
                );
                return None;
            }
        };
        let v = match text.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            Ok(_) => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a finite number, found {}", clip(text)),
                    None,
                );
                return None;
            }
            Err(_) => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a number, found the string '{}'", clip(text)),
                    None,
                );
                return None;
            }
        };
        let low_bad = if zero_ok { v < 0.0 } else { v <= 0.0 };
        if low_bad {
            let need = if zero_ok {
                "at least 0"
            } else {
                "greater than 0"
            };
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be {need}, got {text}"),
                None,
            );
            return None;
        }
        if v > max {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at most {max}, got {text}"),
                None,
            );
            return None;
        }
        Some(Sp { v, pos: n.pos })
    }

    pub(super) fn boolean(&self, d: &mut Diag, path: &str, n: &Node) -> Option<Sp<bool>> {
        let v = match &n.value {
            Value::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match v {
            Some(v) => Some(Sp { v, pos: n.pos }),
            None => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected true or false, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn seq<'n>(
        &self,
        d: &mut Diag,
        path: &str,
        n: &'n Node,
        example: &str,
    ) -> Option<&'n [Node]> {
        match &n.value {
            Value::Seq(items) => {
                if items.is_empty() {
                    d.err(self.exp, path, n.pos, "list must not be empty", None);
                    return None;
                }
                if items.len() > MAX_LIST_LEN {
                    d.err(
                        self.exp,
                        path,
                        n.pos,
                        format!(
                            "list has {} entries; at most {MAX_LIST_LEN} are allowed",
                            items.len()
                        ),
                        None,
                    );
                    return None;
                }
                Some(items)
            }
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a list like {example}, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// A list of whole numbers in `[min, max]`; repeated values are dropped with a warning.
    pub(super) fn int_list(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        min: u32,
        max: u32,
    ) -> Option<Sp<Vec<u32>>> {
        let items = self.seq(d, path, n, "[1, 2, 4]")?;
        let mut out: Vec<u32> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.int(d, &p, it, min, max) {
                Some(v) => {
                    if out.contains(&v.v) {
                        d.warn(
                            self.exp,
                            &p,
                            it.pos,
                            format!("value {} is listed twice; it is used once", v.v),
                            None,
                        );
                    } else {
                        out.push(v.v);
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(Sp { v: out, pos: n.pos })
    }

    pub(super) fn map<'n>(&self, d: &mut Diag, path: &str, n: &'n Node) -> Option<&'n [Entry]> {
        match &n.value {
            Value::Map(e) => Some(e),
            // `config:` with nothing under it: treat as an empty section.
            Value::Null => Some(&[]),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a mapping of keys, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// Report duplicate keys; returns false for the second and later occurrences.
    pub(super) fn first_time(
        &self,
        d: &mut Diag,
        seen: &mut HashMap<String, Pos>,
        path: &str,
        e: &Entry,
    ) -> bool {
        if let Some(first) = seen.get(&e.key) {
            d.err(
                self.exp,
                &join(path, &e.key),
                e.key_pos,
                format!("key is defined twice (first at line {})", first.line),
                Some("remove one of them".into()),
            );
            return false;
        }
        seen.insert(e.key.clone(), e.key_pos);
        true
    }

    pub(super) fn unknown(
        &self,
        d: &mut Diag,
        path: &str,
        e: &Entry,
        here: &[&str],
        elsewhere: &[(&[&str], &str)],
    ) {
        let hint = if let Some(s) = did_you_mean(&e.key, here.iter().copied()) {
            Some(s)
        } else if let Some((_, place)) = elsewhere
            .iter()
            .find(|(keys, _)| keys.contains(&e.key.as_str()))
        {
            Some(format!("it belongs {place}"))
        } else if UNSUPPORTED_KEYS.contains(&e.key.as_str()) {
            Some("xpyd does not support this setting; remove it".into())
        } else {
            let mut hint = None;
            for (keys, place) in elsewhere {
                if let Some(s) = did_you_mean(&e.key, keys.iter().copied()) {
                    hint = Some(format!("{s} it belongs {place}"));
                    break;
                }
            }
            hint
        };
        d.err(
            self.exp,
            &join(path, &e.key),
            e.key_pos,
            "unknown key",
            hint,
        );
    }
}
