//! The whole file: the experiments it defines, the optional `exps` list, and
//! the order they run in.

use super::experiment::parse_exp;
use super::raw::RawExp;
use super::reader::Cx;
use crate::exp::diag::Diag;
use crate::exp::suggest::did_you_mean;
use crate::exp::yaml::{clip, Entry, Node, Pos, Value};
use std::collections::HashMap;

/// Parse the whole file: run order and the raw experiments. Experiments with any
/// error are left out (their errors are in `d`).
pub fn parse_file(root: Option<&Node>, d: &mut Diag) -> Vec<RawExp> {
    let top = Cx { exp: None };
    let Some(root) = root else {
        d.err(
            None,
            "",
            Pos::default(),
            "file is empty: expected a mapping of experiment names to experiments",
            None,
        );
        return Vec::new();
    };
    let entries = match &root.value {
        Value::Map(e) => e,
        _ => {
            d.err(
                None,
                "",
                root.pos,
                format!(
                    "top level must be a mapping of experiment names to experiments, found {}",
                    root.kind_name()
                ),
                None,
            );
            return Vec::new();
        }
    };

    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut exps_node: Option<&Node> = None;
    let mut defined: Vec<&Entry> = Vec::new();
    for e in entries {
        if let Some(first) = seen.get(&e.key) {
            let msg = if e.key == "exps" {
                format!("'exps' is defined twice (first at line {})", first.line)
            } else {
                format!(
                    "experiment '{}' is defined twice (first at line {})",
                    clip(&e.key),
                    first.line
                )
            };
            d.err(
                None,
                &e.key,
                e.key_pos,
                msg,
                Some("experiment names must be unique".into()),
            );
            continue;
        }
        seen.insert(e.key.clone(), e.key_pos);
        if e.key == "exps" {
            exps_node = Some(&e.value);
        } else {
            defined.push(e);
        }
    }

    // Run order: `exps` when given, else file order.
    let mut order: Vec<&Entry> = Vec::new();
    if let Some(n) = exps_node {
        if let Some(items) = top.seq(d, "exps", n, "[exp_a, exp_b]") {
            let names: Vec<&str> = defined.iter().map(|e| e.key.as_str()).collect();
            for (i, it) in items.iter().enumerate() {
                let p = format!("exps[{i}]");
                let Some(name) = top.string(d, &p, it) else {
                    continue;
                };
                match defined.iter().find(|e| e.key == name.v) {
                    Some(e) => {
                        if order.iter().any(|o| o.key == name.v) {
                            d.warn(
                                None,
                                &p,
                                name.pos,
                                format!(
                                    "experiment '{}' is listed twice; it runs once",
                                    clip(&name.v)
                                ),
                                None,
                            );
                        } else {
                            order.push(e);
                        }
                    }
                    None => {
                        let hint = did_you_mean(&name.v, names.iter().copied()).or_else(|| {
                            if names.is_empty() {
                                None
                            } else {
                                Some(format!("defined experiments: {}", names.join(", ")))
                            }
                        });
                        d.err(
                            None,
                            &p,
                            name.pos,
                            format!("experiment '{}' is not defined in this file", clip(&name.v)),
                            hint,
                        );
                    }
                }
            }
            for e in &defined {
                if !order.iter().any(|o| o.key == e.key) && !items.is_empty() {
                    d.warn(
                        None,
                        &e.key,
                        e.key_pos,
                        format!(
                            "experiment '{}' is not listed in exps and will not run",
                            clip(&e.key)
                        ),
                        None,
                    );
                }
            }
        }
    } else {
        order = defined.clone();
    }

    if defined.is_empty() {
        d.err(
            None,
            "",
            root.pos,
            "no experiments defined: add a top-level key per experiment",
            None,
        );
        return Vec::new();
    }

    let mut out = Vec::new();
    for e in order {
        let before = d.errors.len();
        let raw = parse_exp(e, d);
        if d.errors.len() == before {
            if let Some(r) = raw {
                out.push(r);
            }
        }
    }
    out
}
