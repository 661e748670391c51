//! Rendering a new value in the style of the one it replaces.

use super::tree::{Kind, Node};
use super::EditError;
use granit_parser::ScalarStyle;

/// A value given on the command line, parsed as YAML.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NewValue {
    /// `quoted` is the style the user wrote, if they quoted it.
    Scalar {
        text: String,
        quoted: Option<Quote>,
    },
    Seq(Vec<NewValue>),
    Map(Vec<(String, NewValue)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Quote {
    Single,
    Double,
}

/// How the old value was written, so the new one can follow it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Style {
    /// Quote strings this way (the old scalar's, or the old list items').
    pub quote: Option<Quote>,
    /// `[1,2]` rather than `[1, 2]`.
    pub tight: bool,
    /// `[ 1, 2 ]`.
    pub padded: bool,
}

fn quote_of(style: ScalarStyle) -> Option<Quote> {
    match style {
        ScalarStyle::SingleQuoted => Some(Quote::Single),
        ScalarStyle::DoubleQuoted => Some(Quote::Double),
        _ => None,
    }
}

/// The style to keep from `old` (a scalar or a list of scalars).
pub(crate) fn style_of(old: &Node, text: &str) -> Style {
    let mut s = Style::default();
    match &old.kind {
        Kind::Scalar { style, .. } => s.quote = quote_of(*style),
        Kind::Seq { items, flow } => {
            s.quote = items.iter().find_map(|i| match &i.kind {
                Kind::Scalar { style, .. } => quote_of(*style),
                _ => None,
            });
            if *flow {
                let src = text.get(old.start..old.end).unwrap_or("");
                s.tight = src.contains(',') && !src.contains(", ");
                s.padded = src.starts_with("[ ") && src.len() > 3;
            }
        }
        _ => {}
    }
    s
}

/// Parse a command-line value as YAML (`8000`, `fp8`, `"x"`, `[2, 4]`, `{a: 1}`).
pub(crate) fn parse_value(key: &str, value: &str) -> Result<NewValue, EditError> {
    if value.trim().is_empty() {
        return Err(EditError::new(key, "empty value; write ~ for null"));
    }
    let doc = super::tree::parse(value).map_err(|(_, _, m)| {
        EditError::new(key, format!("value '{value}' is not valid YAML: {m}"))
    })?;
    let root = doc
        .root
        .ok_or_else(|| EditError::new(key, format!("value '{value}' is empty")))?;
    if !doc.anchor_names.is_empty() || !doc.alias_uses.is_empty() {
        return Err(EditError::new(
            key,
            "anchors and aliases are not allowed in a value",
        ));
    }
    convert(key, &root)
}

fn convert(key: &str, n: &Node) -> Result<NewValue, EditError> {
    Ok(match &n.kind {
        Kind::Scalar { text, style } => match style {
            ScalarStyle::Plain => NewValue::Scalar {
                text: text.clone(),
                quoted: None,
            },
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => NewValue::Scalar {
                text: text.clone(),
                quoted: quote_of(*style),
            },
            // Block scalars in a one-line argument are a mistake; keep them as strings.
            _ => NewValue::Scalar {
                text: text.clone(),
                quoted: Some(Quote::Double),
            },
        },
        Kind::Seq { items, .. } => NewValue::Seq(
            items
                .iter()
                .map(|i| convert(key, i))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map { entries, .. } => NewValue::Map(
            entries
                .iter()
                .map(|e| Ok((e.key.clone(), convert(key, &e.value)?)))
                .collect::<Result<_, EditError>>()?,
        ),
        Kind::Alias(_) => return Err(EditError::new(key, "aliases are not allowed in a value")),
    })
}

/// A plain scalar that YAML 1.2 core reads as something other than a string.
fn is_non_string(t: &str) -> bool {
    matches!(
        t,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    ) || t.parse::<f64>().is_ok()
        || t.starts_with("0x")
        || t.starts_with("0o")
        || matches!(t, ".inf" | "-.inf" | ".nan" | ".Inf" | ".NaN" | "-.Inf")
}

/// A string that can be written plain, in block and flow context alike, and
/// reads back as the same string. Deliberately narrow: anything else is quoted.
fn plain_safe(t: &str) -> bool {
    !t.is_empty()
        && !is_non_string(t)
        && t.chars()
            .all(|c| c.is_alphanumeric() || "._/-+".contains(c))
        && !t.starts_with(['-', '.'])
}

fn quoted(t: &str, q: Quote) -> String {
    // Single quotes cannot escape control characters; fall back to double.
    if q == Quote::Single && !t.chars().any(char::is_control) {
        return format!("'{}'", t.replace('\'', "''"));
    }
    let mut s = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// One scalar: numbers, booleans and null stay plain (quoting would turn them
/// into strings); strings keep the old quoting, or the user's, or go plain.
fn scalar(text: &str, user: Option<Quote>, style: &Style) -> String {
    match user {
        None if is_non_string(text) => text.to_string(),
        None if style.quote.is_none() && plain_safe(text) => text.to_string(),
        _ => quoted(text, style.quote.or(user).unwrap_or(Quote::Double)),
    }
}

/// The value on one line (flow style), following `style`.
pub(crate) fn inline(v: &NewValue, style: &Style) -> String {
    match v {
        NewValue::Scalar { text, quoted } => scalar(text, *quoted, style),
        NewValue::Seq(items) => {
            let sep = if style.tight { "," } else { ", " };
            let body: Vec<String> = items.iter().map(|i| inline(i, style)).collect();
            if style.padded && !items.is_empty() {
                format!("[ {} ]", body.join(sep))
            } else {
                format!("[{}]", body.join(sep))
            }
        }
        NewValue::Map(entries) => {
            let inner = Style::default();
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k, None, &inner), inline(v, &inner)))
                .collect();
            format!("{{{}}}", body.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str, q: Option<Quote>) -> NewValue {
        NewValue::Scalar {
            text: text.into(),
            quoted: q,
        }
    }

    #[test]
    fn scalars_keep_types_and_quotes() {
        let dq = Style {
            quote: Some(Quote::Double),
            ..Style::default()
        };
        let sq = Style {
            quote: Some(Quote::Single),
            ..Style::default()
        };
        let none = Style::default();
        assert_eq!(inline(&s("8000", None), &dq), "8000");
        assert_eq!(inline(&s("fp8", None), &dq), "\"fp8\"");
        assert_eq!(inline(&s("it's", None), &sq), "'it''s'");
        assert_eq!(inline(&s("fp8", None), &none), "fp8");
        assert_eq!(inline(&s("a: b", None), &none), "\"a: b\"");
        assert_eq!(inline(&s("8", Some(Quote::Single)), &none), "'8'");
        assert_eq!(inline(&s("true", None), &dq), "true");
    }

    #[test]
    fn values_parse_as_yaml() {
        assert_eq!(
            parse_value("k", "[2,4]").unwrap(),
            NewValue::Seq(vec![s("2", None), s("4", None)])
        );
        assert_eq!(
            parse_value("k", "'x'").unwrap(),
            s("x", Some(Quote::Single))
        );
        assert!(parse_value("k", "").is_err());
        assert!(parse_value("k", "[1, 2").is_err());
    }
}
