//! Reads a configuration file and the files it includes into one token stream.
//!
//! As in keepalived, `include` is handled before any other parsing: a line
//! whose first word is `include` is replaced by the tokens of every file its
//! patterns match. Relative patterns are relative to the directory of the
//! file that holds the `include` line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostics, Location};
use super::lexer::{decode, tokenize, Token, TokenKind};

/// Deeper nesting than this is almost surely a loop through symlinks or globs.
const MAX_INCLUDE_DEPTH: usize = 32;

const INCLUDE_KEYWORDS: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea", "includet",
];

/// Reads `path` and everything it includes.
pub fn read_tokens(path: &Path, diagnostics: &mut Diagnostics) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut open_files = Vec::new();
    let top = Location::whole(&path.display().to_string());
    read_file_into(path, &top, true, &mut open_files, &mut tokens, diagnostics);
    tokens
}

/// Tokenizes configuration text that is not in a file (e.g. built from
/// command-line flags). `include` is not honoured there.
pub fn read_text(text: &str, name: &str, diagnostics: &mut Diagnostics) -> Vec<Token> {
    tokenize(text, &Arc::from(name), diagnostics)
}

/// Tokenizes the contents of one file as read from disk (not necessarily
/// UTF-8), before its `include` lines are expanded.
pub fn read_bytes(bytes: &[u8], file: &Arc<str>, diagnostics: &mut Diagnostics) -> Vec<Token> {
    let text = decode(bytes, file, diagnostics);
    tokenize(&text, file, diagnostics)
}

fn read_file_into(
    path: &Path,
    included_at: &Location,
    is_top: bool,
    open_files: &mut Vec<PathBuf>,
    tokens: &mut Vec<Token>,
    diagnostics: &mut Diagnostics,
) {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if open_files.contains(&canonical) {
        diagnostics.error(included_at, format!("{} includes itself", path.display()));
        return;
    }
    if open_files.len() >= MAX_INCLUDE_DEPTH {
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
    let file: Arc<str> = Arc::from(path.display().to_string());
    let file_tokens = read_bytes(&bytes, &file, diagnostics);
    drop(bytes);
    open_files.push(canonical);
    let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let mut index = 0;
    let mut at_line_start = true;
    while index < file_tokens.len() {
        let token = &file_tokens[index];
        let is_include = at_line_start
            && INCLUDE_KEYWORDS
                .iter()
                .any(|keyword| token.is_plain_word(keyword));
        if !is_include {
            at_line_start = token.kind == TokenKind::LineEnd;
            tokens.push(token.clone());
            index += 1;
            continue;
        }
        let include_at = token.at.clone();
        index += 1;
        let mut patterns = Vec::new();
        while index < file_tokens.len() && file_tokens[index].kind != TokenKind::LineEnd {
            match file_tokens[index].word() {
                Some(word) => patterns.push((word.to_string(), file_tokens[index].at.clone())),
                None => diagnostics.error(
                    &file_tokens[index].at,
                    "unexpected brace in an include line",
                ),
            }
            index += 1;
        }
        if patterns.is_empty() {
            diagnostics.error(&include_at, "include needs a file name or pattern");
        }
        for (pattern, pattern_at) in patterns {
            for included in expand_pattern(&directory, &pattern, &pattern_at, diagnostics) {
                read_file_into(
                    &included,
                    &pattern_at,
                    false,
                    open_files,
                    tokens,
                    diagnostics,
                );
            }
        }
    }
    open_files.pop();
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
