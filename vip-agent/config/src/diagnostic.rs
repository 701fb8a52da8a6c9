//! Errors and warnings about a configuration, each tied to a place in a file.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The name of a configuration file, shared by every location in it. A thin
/// pointer (not `Arc<str>`): a location is kept for every value read, so its
/// size is paid once per line of a large file.
pub type FileName = Arc<String>;

/// A place in a configuration file; `line` and `col` count from 1. Line 0
/// means "no particular line" (e.g. values given on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: FileName,
    pub line: u32,
    pub col: u32,
}

impl Location {
    pub fn new(file: FileName, line: u32, col: u32) -> Self {
        Location { file, line, col }
    }

    /// A location for things that do not come from a file line.
    pub fn whole(file: &str) -> Self {
        Location {
            file: Arc::new(file.to_string()),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a configuration. `Display` gives `file:line:col: message`
/// (or `file: message` when there is no line), the form editors jump to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Diagnostic {
    /// Shared with the file's locations: a file may give a warning per line.
    pub file: FileName,
    pub line: u32,
    pub col: u32,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(at: &Location, message: impl Into<String>) -> Self {
        Self::new(at, Severity::Error, message)
    }

    pub fn warning(at: &Location, message: impl Into<String>) -> Self {
        Self::new(at, Severity::Warning, message)
    }

    fn new(at: &Location, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            file: at.file.clone(),
            line: at.line,
            col: at.col,
            severity,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: warning: message` for warnings, the plain form for errors.
    pub fn with_severity(&self) -> String {
        match self.severity {
            Severity::Error => self.to_string(),
            Severity::Warning => format!("{}: warning: {}", self.position(), self.message),
        }
    }

    fn position(&self) -> String {
        if self.line == 0 {
            self.file.to_string()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position(), self.message)
    }
}

/// Collects diagnostics while reading; reading goes on after an error so that
/// every problem in a file is reported in one run.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.items.push(Diagnostic::error(at, message));
    }

    pub fn warning(&mut self, at: &Location, message: impl Into<String>) {
        self.items.push(Diagnostic::warning(at, message));
    }
}
