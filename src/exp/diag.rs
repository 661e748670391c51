//! Collects located errors and warnings while loading one file.

use super::error::ExpError;
use super::yaml::Pos;

pub struct Diag<'t> {
    lines: Vec<&'t str>,
    pub errors: Vec<ExpError>,
    pub warnings: Vec<ExpError>,
}

impl<'t> Diag<'t> {
    pub fn new(text: &'t str) -> Self {
        Diag {
            lines: text.split('\n').collect(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn make(
        &self,
        exp: Option<&str>,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ExpError {
        let source_line = if pos.line == 0 {
            None
        } else {
            self.lines
                .get(pos.line - 1)
                .map(|l| l.trim_end_matches('\r').to_string())
        };
        ExpError {
            experiment: exp.map(str::to_string),
            key_path: path.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
            hint,
            source_line,
        }
    }

    pub fn err(
        &mut self,
        exp: Option<&str>,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let e = self.make(exp, path, pos, message, hint);
        self.errors.push(e);
    }

    pub fn warn(
        &mut self,
        exp: Option<&str>,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let e = self.make(exp, path, pos, message, hint);
        self.warnings.push(e);
    }

    /// Errors and warnings in file order (stable for equal positions).
    pub fn sort(&mut self) {
        self.errors.sort_by_key(|e| (e.line, e.col));
        self.warnings.sort_by_key(|e| (e.line, e.col));
    }
}
