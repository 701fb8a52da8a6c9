//! Turns tokens into a tree of statements, without knowing any keyword.
//!
//! keepalived reads one statement per line: the first word is the keyword and
//! the rest of the line its arguments. A `{` (at the end of the line or alone
//! on the following line) opens a block for that statement; braces also end
//! a statement, so `authentication { auth_type PASS }` and
//! `} vrrp_instance B {` hold several statements on one line.

use super::diagnostic::{Diagnostics, Location};
use super::lexer::{Token, TokenKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub keyword: Word,
    pub args: Vec<Word>,
    pub block: Option<Vec<Statement>>,
}

impl Statement {
    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    pub fn at(&self) -> &Location {
        &self.keyword.at
    }
}

pub fn parse(tokens: &[Token], diagnostics: &mut Diagnostics) -> Vec<Statement> {
    let mut parser = Parser {
        tokens,
        position: 0,
    };
    parser.block(None, diagnostics)
}

struct Parser<'a> {
    tokens: &'a [Token],
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn skip_line_ends(&mut self) {
        while matches!(self.peek(), Some(token) if token.kind == TokenKind::LineEnd) {
            self.position += 1;
        }
    }

    /// Reads statements until the matching `}` (or the end when `opened_at` is None).
    fn block(
        &mut self,
        opened_at: Option<&Location>,
        diagnostics: &mut Diagnostics,
    ) -> Vec<Statement> {
        let mut statements = Vec::new();
        loop {
            self.skip_line_ends();
            let Some(token) = self.peek() else {
                if let Some(opened_at) = opened_at {
                    diagnostics.error(opened_at, "this '{' is never closed");
                }
                return statements;
            };
            let token = token.clone();
            self.position += 1;
            match token.kind {
                TokenKind::Close => {
                    if opened_at.is_some() {
                        return statements;
                    }
                    diagnostics.error(&token.at, "unexpected '}' with no open block");
                }
                TokenKind::Open => {
                    diagnostics.error(&token.at, "'{' without a keyword before it");
                    self.block(Some(&token.at), diagnostics);
                }
                TokenKind::Word { text, .. } => {
                    let keyword = Word { text, at: token.at };
                    statements.push(self.statement(keyword, diagnostics));
                }
                TokenKind::LineEnd => {}
            }
        }
    }

    fn statement(&mut self, keyword: Word, diagnostics: &mut Diagnostics) -> Statement {
        let mut args = Vec::new();
        while let Some(token) = self.peek() {
            match &token.kind {
                TokenKind::Word { text, .. } => {
                    args.push(Word {
                        text: text.clone(),
                        at: token.at.clone(),
                    });
                    self.position += 1;
                }
                _ => break,
            }
        }
        let mut block = None;
        let opens_here = matches!(self.peek(), Some(token) if token.kind == TokenKind::Open);
        let opens_on_a_later_line = !opens_here && {
            let mut ahead = self.position;
            while matches!(self.tokens.get(ahead), Some(token) if token.kind == TokenKind::LineEnd)
            {
                ahead += 1;
            }
            matches!(self.tokens.get(ahead), Some(token) if token.kind == TokenKind::Open)
        };
        if opens_here || opens_on_a_later_line {
            self.skip_line_ends();
            let open_at = self.tokens[self.position].at.clone();
            self.position += 1;
            block = Some(self.block(Some(&open_at), diagnostics));
        }
        Statement {
            keyword,
            args,
            block,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lexer::tokenize;

    fn tree(text: &str) -> (Vec<Statement>, Diagnostics) {
        let mut diagnostics = Diagnostics::default();
        let tokens = tokenize(text, &Arc::from("t.conf"), &mut diagnostics);
        (parse(&tokens, &mut diagnostics), diagnostics)
    }

    fn shape(statements: &[Statement]) -> String {
        statements
            .iter()
            .map(|statement| {
                let mut text = statement.name().to_string();
                for arg in &statement.args {
                    text.push(' ');
                    text.push_str(&arg.text);
                }
                if let Some(block) = &statement.block {
                    text.push_str(&format!(" {{{}}}", shape(block)));
                }
                text
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn brace_on_the_same_or_next_line() {
        let (same, _) = tree("vrrp_instance A {\n state MASTER\n}\n");
        let (next, _) = tree("vrrp_instance A\n\n{\n state MASTER\n}\n");
        assert_eq!(shape(&same), "vrrp_instance A {state MASTER}");
        assert_eq!(shape(&next), shape(&same));
    }

    #[test]
    fn several_statements_on_one_line() {
        let (statements, diagnostics) =
            tree("a { b 1 } c { d { e } }\n} x\nvrrp_instance B { interface eth0\n priority 5 }\n");
        assert_eq!(
            shape(&statements),
            "a {b 1};c {d {e}};x;vrrp_instance B {interface eth0;priority 5}"
        );
        let messages: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert_eq!(messages, ["t.conf:2:1: unexpected '}' with no open block"]);
    }

    #[test]
    fn unclosed_block_is_reported_where_it_opens() {
        let (_, diagnostics) = tree("global_defs {\n router_id x\n");
        assert_eq!(
            diagnostics.items[0].to_string(),
            "t.conf:1:13: this '{' is never closed"
        );
    }
}
