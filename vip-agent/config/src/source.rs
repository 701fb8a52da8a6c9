//! Reads a configuration file and the files it includes into one statement tree.
//!
//! As in keepalived, `include` is handled before any other parsing: a line
//! whose first word is `include` is replaced by the lines of every file its
//! patterns match. Relative patterns are relative to the directory of the
//! file that holds the `include` line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostics, Location};
use super::lexer::{decode, lines, tokenize_line, LineTokens, TokenKind};
use super::parser::{Tree, TreeBuilder};

/// Deeper nesting than this is almost surely a loop through symlinks or globs.
const MAX_INCLUDE_DEPTH: usize = 32;

const INCLUDE_KEYWORDS: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea", "includet",
];

/// Reads `path` and everything it includes.
pub fn read_file(path: &Path, diagnostics: &mut Diagnostics) -> Tree {
    let mut reader = Reader::default();
    let top = Location::whole(&path.display().to_string());
    reader.read_file(path, &top, true, diagnostics);
    reader.builder.finish(diagnostics)
}

/// Reads configuration text that is not in a file (e.g. built from
/// command-line flags). `include` is not honoured there.
pub fn read_text(text: &str, name: &str, diagnostics: &mut Diagnostics) -> Tree {
    let mut reader = Reader::default();
    reader.read_lines(text, name, None, diagnostics);
    reader.builder.finish(diagnostics)
}

/// Reads the contents of one file as read from disk (not necessarily
/// UTF-8); `include` is not honoured there either.
pub fn read_bytes(bytes: &[u8], name: &str, diagnostics: &mut Diagnostics) -> Tree {
    let mut reader = Reader::default();
    let text = decode(bytes, &Arc::new(name.to_string()), diagnostics);
    reader.read_lines(&text, name, None, diagnostics);
    reader.builder.finish(diagnostics)
}

#[derive(Default)]
struct Reader {
    builder: TreeBuilder,
    tokens: LineTokens,
    /// The files being read, outermost first, to catch include loops.
    open_files: Vec<PathBuf>,
}

impl Reader {
    fn read_file(
        &mut self,
        path: &Path,
        included_at: &Location,
        is_top: bool,
        diagnostics: &mut Diagnostics,
    ) {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.open_files.contains(&canonical) {
            diagnostics.error(included_at, format!("{} includes itself", path.display()));
            return;
        }
        if self.open_files.len() >= MAX_INCLUDE_DEPTH {
            diagnostics.error(
                included_at,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files"),
            );
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                let message = format!("cannot read {}: {error}", path.display());
                if is_top {
                    diagnostics.error(included_at, message);
                } else {
                    // keepalived's plain `include` does not fail on an unreadable file.
                    diagnostics.warning(included_at, message);
                }
                return;
            }
        };
        let name = path.display().to_string();
        let text = decode(&bytes, &Arc::new(name.clone()), diagnostics);
        self.open_files.push(canonical);
        let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.read_lines(&text, &name, Some(&directory), diagnostics);
        self.open_files.pop();
    }

    /// Feeds the lines of one file's text to the tree; with a directory,
    /// `include` lines are replaced by the files they name.
    fn read_lines(
        &mut self,
        text: &str,
        name: &str,
        directory: Option<&Path>,
        diagnostics: &mut Diagnostics,
    ) {
        let file_name = Arc::new(name.to_string());
        let file = self.builder.file(file_name.clone());
        for (number, line) in lines(text) {
            tokenize_line(line, number, &file_name, &mut self.tokens, diagnostics);
            let is_include = directory.is_some()
                && self.tokens.tokens().first().is_some_and(|first| {
                    INCLUDE_KEYWORDS
                        .iter()
                        .any(|keyword| self.tokens.is_plain_word(first, keyword))
                });
            match directory {
                Some(directory) if is_include => {
                    let at = |col| Location::new(file_name.clone(), number, col);
                    let mut patterns = Vec::new();
                    for token in &self.tokens.tokens()[1..] {
                        match token.kind {
                            TokenKind::Word { .. } => {
                                patterns.push((self.tokens.text(token).to_string(), at(token.col)))
                            }
                            _ => diagnostics
                                .error(&at(token.col), "unexpected brace in an include line"),
                        }
                    }
                    if patterns.is_empty() {
                        diagnostics.error(
                            &at(self.tokens.tokens()[0].col),
                            "include needs a file name or pattern",
                        );
                    }
                    for (pattern, pattern_at) in patterns {
                        for included in
                            expand_pattern(directory, &pattern, &pattern_at, diagnostics)
                        {
                            self.read_file(&included, &pattern_at, false, diagnostics);
                        }
                    }
                }
                _ => self.builder.line(&self.tokens, number, file, diagnostics),
            }
        }
    }
}

fn expand_pattern(
    directory: &Path,
    pattern: &str,
    at: &Location,
    diagnostics: &mut Diagnostics,
) -> Vec<PathBuf> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        directory.join(pattern)
    };
    let full_text = full.display().to_string();
    let paths = match glob::glob(&full_text) {
        Ok(paths) => paths,
        Err(error) => {
            diagnostics.error(at, format!("bad include pattern {pattern}: {error}"));
            return Vec::new();
        }
    };
    let mut matched: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|path| path.is_file())
        .collect();
    matched.sort();
    if matched.is_empty() {
        diagnostics.warning(at, format!("include {pattern} matches no file"));
    }
    matched
}
