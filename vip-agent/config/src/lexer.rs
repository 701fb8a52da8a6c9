//! Splits keepalived.conf text into words, braces and line ends.
//!
//! keepalived's rules: `#` and `!` start a comment anywhere outside quotes;
//! `"` and `'` quote, the quotes are removed and the quoted part may hold
//! whitespace and shell-like escapes; quoted and unquoted parts that touch
//! form one word; an unquoted `{` or `}` is always a token of its own.
//! Line ends are kept because keepalived reads one statement per line.

use std::borrow::Cow;

use super::diagnostic::{Diagnostics, FileName, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word; `quoted` is true when any part of it was quoted, so that a
    /// quoted `"{"` or `"include"` is never mistaken for syntax.
    Word {
        quoted: bool,
    },
    Open,
    Close,
}

/// A token of one line; a word's text is in [`LineTokens`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Column of the token's first character, counted from 1.
    pub col: u32,
    start: usize,
    end: usize,
}

/// The tokens of one line, with the text of its words in one buffer. Lines
/// are read one at a time into the same `LineTokens`, so a file is never
/// held as tokens: its words go straight into the statement tree.
#[derive(Debug, Default)]
pub struct LineTokens {
    text: String,
    tokens: Vec<Token>,
}

impl LineTokens {
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The text of a word (empty for a brace).
    pub fn text(&self, token: &Token) -> &str {
        &self.text[token.start..token.end]
    }

    pub fn is_plain_word(&self, token: &Token, expected: &str) -> bool {
        token.kind == (TokenKind::Word { quoted: false }) && self.text(token) == expected
    }

    fn clear(&mut self) {
        self.text.clear();
        self.tokens.clear();
    }

    fn push(&mut self, kind: TokenKind, col: u32, start: usize) {
        self.tokens.push(Token {
            kind,
            col,
            start,
            end: self.text.len(),
        });
    }
}

/// The lines of a file's text, numbered from 1.
pub fn lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (u32::try_from(index + 1).unwrap_or(u32::MAX), line))
}

/// The text of a file that may not be UTF-8. keepalived reads bytes, and
/// old files carry Latin-1 in comments: bytes that are not UTF-8 are
/// accepted in a comment (which is dropped), and are an error anywhere
/// else, at the line and column of the first such byte.
pub fn decode<'b>(bytes: &'b [u8], file: &FileName, diagnostics: &mut Diagnostics) -> Cow<'b, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(bytes.len());
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if index > 0 {
            text.push('\n');
        }
        let bad = match std::str::from_utf8(line) {
            Ok(valid) => {
                text.push_str(valid);
                continue;
            }
            Err(error) => error.valid_up_to(),
        };
        match comment_start(line) {
            Some(comment) if comment <= bad => {
                // Everything before the comment is valid UTF-8.
                text.push_str(&String::from_utf8_lossy(&line[..comment]));
            }
            _ => {
                let valid = String::from_utf8_lossy(&line[..bad]);
                let line_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
                let col = u32::try_from(valid.chars().count() + 1).unwrap_or(u32::MAX);
                diagnostics.error(
                    &Location::new(file.clone(), line_number, col),
                    format!(
                        "byte 0x{:02x} is not UTF-8: outside comments the file must be UTF-8",
                        line[bad]
                    ),
                );
                text.push_str(&String::from_utf8_lossy(line));
            }
        }
    }
    Cow::Owned(text)
}

/// Byte offset of the `#` or `!` that starts a comment on `line`, by the
/// lexer's rules: outside quotes, where a backslash escapes the next byte.
fn comment_start(line: &[u8]) -> Option<usize> {
    let mut quote = None;
    let mut index = 0;
    while index < line.len() {
        let b = line[index];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => index += 1,
            Some(_) => {}
            None if b == b'#' || b == b'!' => return Some(index),
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None => {}
        }
        index += 1;
    }
    None
}

fn column_of(line: &str, byte_offset: usize) -> u32 {
    u32::try_from(line[..byte_offset].chars().count() + 1).unwrap_or(u32::MAX)
}

/// Tokenizes one line into `out` (replacing what it held). Problems (an
/// unterminated quote, a conditional `@` line) are reported into
/// `diagnostics`; the rest of the line is still read.
pub fn tokenize_line(
    line: &str,
    line_number: u32,
    file: &FileName,
    out: &mut LineTokens,
    diagnostics: &mut Diagnostics,
) {
    out.clear();
    let location = |column: u32| Location::new(file.clone(), line_number, column);
    let trimmed_start = line.len() - line.trim_start().len();
    let rest = &line[trimmed_start..];
    if rest.starts_with('@') {
        // keepalived's `@id` lines apply only on the node whose config-id
        // matches; silently taking or dropping them would change meaning.
        diagnostics.error(
            &location(column_of(line, trimmed_start)),
            "conditional configuration lines ('@ID ...') are not supported; \
             write one file per node instead",
        );
        return;
    }
    if rest.starts_with('$') {
        diagnostics.error(
            &location(column_of(line, trimmed_start)),
            "parameter definitions and substitution ('$NAME') are not supported",
        );
        return;
    }

    // The column of the character at `position`, counted from 1. (Not
    // `column_of`: counting from the line start for each token would make a
    // long line quadratic.)
    let col = |position: usize| u32::try_from(position + 1).unwrap_or(u32::MAX);
    let chars: Vec<char> = line.chars().collect();
    let mut position = 0;
    while position < chars.len() {
        let c = chars[position];
        if c.is_whitespace() {
            position += 1;
            continue;
        }
        if c == '#' || c == '!' {
            return;
        }
        if c == '{' || c == '}' {
            let kind = if c == '{' {
                TokenKind::Open
            } else {
                TokenKind::Close
            };
            out.push(kind, col(position), out.text.len());
            position += 1;
            continue;
        }
        let start = position;
        let text_start = out.text.len();
        let mut quoted = false;
        let mut ends_line = false;
        while position < chars.len() {
            let c = chars[position];
            if c.is_whitespace() || c == '{' || c == '}' {
                break;
            }
            if c == '#' || c == '!' {
                ends_line = true;
                break;
            }
            if c == '"' || c == '\'' {
                quoted = true;
                match read_quoted(&chars, position, c, &mut out.text) {
                    Some(next) => position = next,
                    None => {
                        diagnostics
                            .error(&location(col(position)), format!("unterminated quote {c}"));
                        position = chars.len();
                    }
                }
                continue;
            }
            out.text.push(c);
            position += 1;
        }
        out.push(TokenKind::Word { quoted }, col(start), text_start);
        if ends_line {
            return;
        }
    }
}

/// Reads a quoted part starting at the opening quote; returns the index after
/// the closing quote, or None when the line ends first.
fn read_quoted(chars: &[char], open: usize, quote: char, out: &mut String) -> Option<usize> {
    let mut position = open + 1;
    while position < chars.len() {
        let c = chars[position];
        if c == quote {
            return Some(position + 1);
        }
        if c == '\\' && position + 1 < chars.len() {
            position = read_escape(chars, position + 1, out);
            continue;
        }
        out.push(c);
        position += 1;
    }
    None
}

/// Decodes the escape whose letter is at `position`; returns the next index.
fn read_escape(chars: &[char], position: usize, out: &mut String) -> usize {
    let c = chars[position];
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(decoded) = simple {
        out.push(decoded);
        return position + 1;
    }
    if c.is_digit(8) {
        let mut value = 0u32;
        let mut next = position;
        while next < chars.len() && next < position + 3 && chars[next].is_digit(8) {
            value = value * 8 + chars[next].to_digit(8).unwrap_or(0);
            next += 1;
        }
        out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
        return next;
    }
    if c == 'x' {
        let mut value = 0u32;
        let mut next = position + 1;
        while next < chars.len() && chars[next].is_ascii_hexdigit() {
            value = (value * 16 + chars[next].to_digit(16).unwrap_or(0)) & 0xff;
            next += 1;
        }
        if next == position + 1 {
            out.push('x');
        } else {
            out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
        }
        return next;
    }
    if c == 'c' && position + 1 < chars.len() {
        let control = (chars[position + 1] as u32) & 0x1f;
        out.push(char::from_u32(control).unwrap_or('\u{fffd}'));
        return position + 2;
    }
    out.push(c);
    position + 1
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Every token of `text` as (text, line, col), with "\\n" at each line end.
    fn tokenize(text: &str, diagnostics: &mut Diagnostics) -> Vec<(String, u32, u32)> {
        let file = Arc::new("t.conf".to_string());
        let mut line_tokens = LineTokens::default();
        let mut all = Vec::new();
        for (number, line) in lines(text) {
            tokenize_line(line, number, &file, &mut line_tokens, diagnostics);
            for token in line_tokens.tokens() {
                let text = match token.kind {
                    TokenKind::Word { .. } => line_tokens.text(token).to_string(),
                    TokenKind::Open => "{".into(),
                    TokenKind::Close => "}".into(),
                };
                all.push((text, number, token.col));
            }
            all.push(("\\n".into(), number, 0));
        }
        all
    }

    fn words(text: &str) -> Vec<String> {
        let mut diagnostics = Diagnostics::default();
        let tokens = tokenize(text, &mut diagnostics);
        assert!(diagnostics.items.is_empty(), "{:?}", diagnostics.items);
        tokens.into_iter().map(|(text, _, _)| text).collect()
    }

    fn decoded(bytes: &[u8]) -> (String, Vec<String>) {
        let mut diagnostics = Diagnostics::default();
        let text = decode(bytes, &Arc::new("t.conf".to_string()), &mut diagnostics);
        let errors = diagnostics.items.iter().map(ToString::to_string).collect();
        (text.into_owned(), errors)
    }

    #[test]
    fn latin1_in_comments_is_accepted_as_keepalived_accepts_it() {
        // "# Réseau" and "! défaut" in Latin-1 (0xe9), after a statement too.
        let (text, errors) =
            decoded(b"# R\xe9seau\nvrrp_instance VI_1 { ! d\xe9faut\n  priority 100 # \xe9\n}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            words(&text),
            words("\nvrrp_instance VI_1 {\n  priority 100\n}\n")
        );
    }

    #[test]
    fn a_byte_that_is_not_utf8_outside_a_comment_is_located() {
        let (_, errors) = decoded(b"a b\n  priorit\xe9 100\n");
        assert_eq!(
            errors,
            ["t.conf:2:10: byte 0xe9 is not UTF-8: outside comments the file must be UTF-8"]
        );
        // In quotes a '#' is not a comment, so what follows it is not one either.
        let (_, errors) = decoded(b"notify \"a#\xe9\"\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("t.conf:1:11: "), "{errors:?}");
        // A UTF-8 comment before the bad byte does not excuse it.
        assert!(decoded(b"\xff # x\n").1[0].starts_with("t.conf:1:1: "));
    }

    #[test]
    fn utf8_text_is_taken_as_it_is() {
        let text = "vrrp_instance \u{e9}l\u{e8}ve {\n}\n";
        assert_eq!(decoded(text.as_bytes()), (text.to_string(), Vec::new()));
    }

    #[test]
    fn comments_end_the_line_anywhere() {
        assert_eq!(
            words("a b # c d\n! e\nf!g"),
            ["a", "b", "\\n", "\\n", "f", "\\n"]
        );
    }

    #[test]
    fn quotes_keep_whitespace_and_join_touching_parts() {
        assert_eq!(
            words(r#"abcd" efg h jkl "mnop"#),
            ["abcd efg h jkl mnop", "\\n"]
        );
        assert_eq!(
            words(r#"abcd "efg h jkl" mnop"#),
            ["abcd", "efg h jkl", "mnop", "\\n"]
        );
        assert_eq!(words(r#"'a # b' "{}""#), ["a # b", "{}", "\\n"]);
    }

    #[test]
    fn escapes_inside_quotes() {
        assert_eq!(words(r#""a\"b\\c\t\x41\101""#), ["a\"b\\c\tAA", "\\n"]);
    }

    #[test]
    fn braces_are_tokens_even_when_touching_words() {
        assert_eq!(words("x{y}"), ["x", "{", "y", "}", "\\n"]);
    }

    #[test]
    fn trailing_whitespace_and_columns() {
        let mut diagnostics = Diagnostics::default();
        let tokens = tokenize("  router_id  X  \n", &mut diagnostics);
        assert_eq!(tokens[0].2, 3);
        assert_eq!(tokens[1].2, 14);
        assert_eq!(tokens[1].0, "X");
        assert_eq!(tokens.len(), 3);
    }

    #[test]
    fn columns_count_characters_also_on_a_long_line() {
        // Columns were counted from the line start for every token, which
        // made a long line quadratic (a 2.4 MB line took 26 s to check).
        let line = format!("{}'unterminated", "é { ".repeat(100_000));
        let mut diagnostics = Diagnostics::default();
        let tokens = tokenize(&line, &mut diagnostics);
        assert_eq!(tokens.len(), 200_002);
        assert_eq!((tokens[0].1, tokens[0].2), (1, 1));
        assert_eq!(tokens[1].0, "{");
        assert_eq!(tokens[1].2, 3);
        assert_eq!(tokens[199_999].2, 399_999);
        assert_eq!(tokens[200_000].2, 400_001, "the quoted word");
        assert_eq!(tokens[200_001].0, "\\n");
        let errors: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert_eq!(errors, ["t.conf:1:400001: unterminated quote '"]);
    }

    #[test]
    fn unterminated_quote_and_conditionals_are_errors() {
        let mut diagnostics = Diagnostics::default();
        tokenize("a \"b\n  @node1 priority 1\n", &mut diagnostics);
        let found: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert!(
            found[0].starts_with("t.conf:1:3: unterminated quote"),
            "{found:?}"
        );
        assert!(found[1].starts_with("t.conf:2:3: conditional"), "{found:?}");
    }
}
