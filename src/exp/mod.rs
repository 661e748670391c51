//! The exp YAML file: schema, defaults, validation, resolution into [`Task`]s.
//!
//! Loading runs in two stages:
//! 1. syntax/schema (`yaml.rs`, `schema/`): text → spanned node tree →
//!    typed raw experiments; every key and value keeps its `line:col`;
//! 2. resolution (`resolve/`): defaults and catalog checks → [`Task`].
//!
//! Every problem found is reported (not just the first), each with the
//! experiment, the key path, the position and the offending line.
pub mod catalog;
mod diag;
pub mod error;
pub mod parallel;
mod resolve;
mod schema;
mod suggest;
pub mod task;
pub mod vary;
mod yaml;

pub use catalog::{Catalog, Family, InferredQuant, ModelFacts, SupportedQuants, SystemFacts};
pub use error::{ExpError, LoadError};
pub use parallel::enumerate;
pub use resolve::{
    canonical_system, default_replica_sizes, fold_accept_rates, DEFAULT_ACCEPT_RATES,
};
pub use suggest::{did_you_mean, distance};
pub use task::{QuantExplicit, ReplicaConfig, Role, Roles, SearchSpace, Task, Tuning};

use std::io::Read;
use std::path::Path;

/// A loaded file: the experiments to run, in order, and non-fatal warnings.
#[derive(Clone, Debug)]
pub struct ExpFile {
    pub tasks: Vec<Task>,
    pub warnings: Vec<ExpError>,
}

/// Largest exp file accepted. Real files are a few KB; the cap keeps a stray
/// multi-GB path from being read into memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn whole_file_error(file: &str, message: String, line: usize, col: usize) -> LoadError {
    LoadError {
        file: file.to_string(),
        errors: vec![ExpError {
            experiment: None,
            key_path: String::new(),
            line,
            col,
            message,
            hint: None,
            source_line: None,
        }],
    }
}

/// Read and load an exp file. Refuses files over [`MAX_FILE_BYTES`] before reading them.
pub fn load_file(path: &Path, catalog: &dyn Catalog) -> Result<ExpFile, LoadError> {
    let (text, label) = read_text(path)?;
    load_str(&text, &label, catalog)
}

/// Like [`load_file`], but an experiment whose own settings are wrong (an
/// unsupported quant mode, an unknown model, ...) does not stop the others:
/// they load, and its errors come back beside them. Problems that are not
/// inside one experiment (syntax, top level, `exps`) still fail the file.
pub fn load_file_lenient(
    path: &Path,
    catalog: &dyn Catalog,
) -> Result<(ExpFile, Vec<ExpError>), LoadError> {
    let (text, label) = read_text(path)?;
    load_text_lenient(&text, &label, catalog, None)
}

/// [`load_file_lenient`] over text already read, with one workload or SLA
/// value set in every experiment as if it were written in the file (see [`vary`]).
pub fn load_text_lenient(
    text: &str,
    label: &str,
    catalog: &dyn Catalog,
    vary: Option<vary::Setting>,
) -> Result<(ExpFile, Vec<ExpError>), LoadError> {
    let patch = |r: &mut schema::RawExp| {
        if let Some(v) = vary {
            v.apply(r);
        }
    };
    let patch: &dyn Fn(&mut schema::RawExp) = &patch;
    match load_str_with(text, label, catalog, &[], patch) {
        Ok(f) => Ok((f, Vec::new())),
        Err(e) if e.errors.iter().all(|x| x.experiment.is_some()) => {
            let mut skip: Vec<String> = e
                .errors
                .iter()
                .filter_map(|x| x.experiment.clone())
                .collect();
            skip.dedup();
            let file = load_str_with(text, label, catalog, &skip, patch)?;
            Ok((file, e.errors))
        }
        Err(e) => Err(e),
    }
}

fn no_patch(_: &mut schema::RawExp) {}

/// Read an exp file as UTF-8 text within the size cap; returns (text, label).
pub fn read_text(path: &Path) -> Result<(String, String), LoadError> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| whole_file_error(&label, format!("cannot read file: {e}"), 0, 0))?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(whole_file_error(
                &label,
                "is a directory, not an exp file".into(),
                0,
                0,
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(&label, meta.len()));
        }
    }
    // Read at most one byte past the cap: the size can change after the check.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| whole_file_error(&label, format!("cannot read file: {e}"), 0, 0))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(&label, bytes.len() as u64));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            // `good` is valid UTF-8 by construction.
            let prefix = std::str::from_utf8(good)
                .unwrap_or("")
                .replace("\r\n", "\n")
                .replace('\r', "\n");
            let line = prefix.matches('\n').count() + 1;
            let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let byte = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
            let mut err = whole_file_error(
                &label,
                format!("file is not valid UTF-8 (byte 0x{byte:02x}); save it as UTF-8"),
                line,
                col,
            );
            // Quote the line with the bad bytes replaced, so the caret still points at it.
            let lossy = String::from_utf8_lossy(&bytes)
                .replace("\r\n", "\n")
                .replace('\r', "\n");
            let quoted = lossy
                .split('\n')
                .nth(line - 1)
                .map(|l| l.trim_end_matches('\r').to_string());
            if let Some(e) = err.errors.first_mut() {
                e.source_line = quoted;
            }
            return Err(err);
        }
    };
    Ok((text.to_string(), label))
}

fn too_big(label: &str, len: u64) -> LoadError {
    whole_file_error(
        label,
        format!("file is {len} bytes; exp files are limited to {MAX_FILE_BYTES} bytes (1 MiB)"),
        0,
        0,
    )
}

/// Load exp YAML text. `file_label` is used in messages only.
pub fn load_str(text: &str, file_label: &str, catalog: &dyn Catalog) -> Result<ExpFile, LoadError> {
    load_str_skipping(text, file_label, catalog, &[])
}

/// [`load_str`] leaving out the experiments named in `skip` (and their problems).
fn load_str_skipping(
    text: &str,
    file_label: &str,
    catalog: &dyn Catalog,
    skip: &[String],
) -> Result<ExpFile, LoadError> {
    load_str_with(text, file_label, catalog, skip, &no_patch)
}

/// [`load_str_skipping`] with `patch` applied to each experiment before it is resolved.
fn load_str_with(
    text: &str,
    file_label: &str,
    catalog: &dyn Catalog,
    skip: &[String],
    patch: &dyn Fn(&mut schema::RawExp),
) -> Result<ExpFile, LoadError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(file_label, text.len() as u64));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // YAML treats CR, LF and CRLF as line breaks; normalise so our line numbers
    // and quoted lines agree with the parser's.
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        text
    };
    let mut d = diag::Diag::new(text);
    let root = match yaml::parse(text) {
        Ok(r) => r,
        Err((pos, msg)) => {
            let hint = syntax_hint(text, pos, &msg);
            d.err(None, "", pos, format!("YAML syntax error: {msg}"), hint);
            return Err(LoadError {
                file: file_label.to_string(),
                errors: d.errors,
            });
        }
    };
    let mut raws = schema::parse_file(root.as_ref(), &mut d);
    raws.iter_mut().for_each(patch);
    let mut tasks = Vec::new();
    for raw in raws.iter().filter(|r| !skip.contains(&r.name)) {
        if let Some(t) = resolve::resolve(raw, catalog, &mut d) {
            tasks.push(t);
        }
    }
    let skipped = |e: &ExpError| e.experiment.as_ref().is_some_and(|n| skip.contains(n));
    d.errors.retain(|e| !skipped(e));
    d.warnings.retain(|e| !skipped(e));
    d.sort();
    if !d.errors.is_empty() {
        return Err(LoadError {
            file: file_label.to_string(),
            errors: d.errors,
        });
    }
    Ok(ExpFile {
        tasks,
        warnings: d.warnings,
    })
}

/// Hints for YAML mistakes the parser reports obscurely.
fn syntax_hint(text: &str, pos: yaml::Pos, msg: &str) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let at = pos.line.checked_sub(1)?;
    // Tabs: the scanner often notices them a line late.
    for l in at.saturating_sub(1)..=(at + 1).min(lines.len().saturating_sub(1)) {
        if lines.get(l)?.trim_start_matches(' ').starts_with('\t') {
            return Some(format!(
                "line {} is indented with a tab; YAML indentation must use spaces",
                l + 1
            ));
        }
    }
    // An unclosed flow list/mapping makes the error surface on a later line.
    let mut open: Vec<(char, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate().take(at + 1) {
        let mut quote: Option<char> = None;
        for c in l.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => open.push((c, i + 1)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    if let Some((c, line)) = open.first() {
        if *line < pos.line {
            let close = if *c == '[' { ']' } else { '}' };
            return Some(format!(
                "the '{c}' opened on line {line} is never closed with '{close}'"
            ));
        }
    }
    if msg.contains("mapping values are not allowed") {
        return Some(
            "check the indentation: keys of one mapping must start in the same column".into(),
        );
    }
    None
}
