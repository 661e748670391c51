//! Located errors: every problem names the experiment, the key path and the
//! `line:col`, and quotes the offending line.

use std::fmt;

/// One problem in an exp YAML file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExpError {
    /// Experiment name, when the problem is inside one.
    pub experiment: Option<String>,
    /// Dotted key path inside the experiment (or at top level), e.g. `config.worker_config.tp_list`.
    pub key_path: String,
    /// 1-based line and column; 0 when the problem has no position (e.g. an empty file).
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// "did you mean ...", the allowed values, or how to fix it.
    pub hint: Option<String>,
    /// The offending source line, for display under the message.
    pub source_line: Option<String>,
}

impl fmt::Display for ExpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.col)?;
        }
        if let Some(e) = &self.experiment {
            write!(f, "experiment '{e}': ")?;
        }
        if !self.key_path.is_empty() {
            write!(f, "key '{}': ", self.key_path)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// All problems found in one file (loading reports every one it can, not just the first).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub struct LoadError {
    pub file: String,
    pub errors: Vec<ExpError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{e}", self.file)?;
            if let Some(line) = &e.source_line {
                write!(f, "\n    | {line}")?;
                if e.col > 0 {
                    write!(f, "\n    | {}^", " ".repeat(e.col - 1))?;
                }
            }
        }
        Ok(())
    }
}
