//! Turns tokens into a tree of statements, without knowing any keyword.
//!
//! keepalived reads one statement per line: the first word is the keyword and
//! the rest of the line its arguments. A `{` (at the end of the line or alone
//! on the following line) opens a block for that statement; braces also end
//! a statement, so `authentication { auth_type PASS }` and
//! `} vrrp_instance B {` hold several statements on one line.
//!
//! The tree is flat, so that memory stays proportional to the file (a file of
//! a million address lines is a million statements): every word's text in
//! one buffer, a fixed-size entry per word and per statement, statements in
//! file order with each one knowing where its block ends. It is built line by
//! line as the lexer reads, without recursion, so nesting depth costs
//! nothing either. [`Statement`], [`Block`] and [`Word`] are views into it.

use super::diagnostic::{Diagnostics, FileName, Location};
use super::lexer::{LineTokens, TokenKind};

/// A word of the file: where its text ends in [`Tree::text`] (it starts
/// where the previous word's ends) and where it was written.
#[derive(Debug, Clone, Copy)]
struct WordEntry {
    end: u32,
    line: u32,
    col: u32,
    file: u32,
}

/// A statement: its first word (the keyword; the arguments follow it up to
/// the next statement's first word) and the index after its block's last
/// statement, with [`HAS_BLOCK`] set when it has a block.
#[derive(Debug, Clone, Copy)]
struct StatementEntry {
    word: u32,
    end: u32,
}

const HAS_BLOCK: u32 = 1 << 31;

/// Every statement of a configuration (and the files it includes).
#[derive(Debug, Default)]
pub struct Tree {
    text: String,
    words: Vec<WordEntry>,
    statements: Vec<StatementEntry>,
    files: Vec<FileName>,
}

impl Tree {
    /// The top-level statements.
    pub fn top(&self) -> Block<'_> {
        Block {
            tree: self,
            start: 0,
            end: self.statements.len() as u32,
        }
    }

    fn word(&self, index: u32) -> Word<'_> {
        let entry = self.words[index as usize];
        let start = match index {
            0 => 0,
            _ => self.words[index as usize - 1].end,
        };
        Word {
            text: &self.text[start as usize..entry.end as usize],
            at: Location::new(
                self.files[entry.file as usize].clone(),
                entry.line,
                entry.col,
            ),
        }
    }

    fn statement(&self, index: u32) -> Statement<'_> {
        let entry = self.statements[index as usize];
        let words_end = self
            .statements
            .get(index as usize + 1)
            .map_or(self.words.len() as u32, |next| next.word);
        let end = entry.end & !HAS_BLOCK;
        Statement {
            keyword: self.word(entry.word),
            args: (entry.word + 1..words_end).map(|w| self.word(w)).collect(),
            block: (entry.end & HAS_BLOCK != 0).then_some(Block {
                tree: self,
                start: index + 1,
                end,
            }),
            next: end.max(index + 1),
        }
    }
}

/// A word with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'t> {
    pub text: &'t str,
    pub at: Location,
}

/// One statement, read out of the [`Tree`].
#[derive(Debug, Clone)]
pub struct Statement<'t> {
    pub keyword: Word<'t>,
    pub args: Vec<Word<'t>>,
    pub block: Option<Block<'t>>,
    /// Index of the statement after this one and its block.
    next: u32,
}

impl Statement<'_> {
    pub fn name(&self) -> &str {
        self.keyword.text
    }

    pub fn at(&self) -> &Location {
        &self.keyword.at
    }
}

/// The statements of one block (or of the top level), in file order.
#[derive(Debug, Clone, Copy)]
pub struct Block<'t> {
    tree: &'t Tree,
    start: u32,
    end: u32,
}

impl<'t> IntoIterator for Block<'t> {
    type Item = Statement<'t>;
    type IntoIter = Statements<'t>;

    fn into_iter(self) -> Statements<'t> {
        Statements {
            tree: self.tree,
            next: self.start,
            end: self.end,
        }
    }
}

/// Iterates over the statements of a [`Block`], stepping over their blocks.
pub struct Statements<'t> {
    tree: &'t Tree,
    next: u32,
    end: u32,
}

impl<'t> Iterator for Statements<'t> {
    type Item = Statement<'t>;

    fn next(&mut self) -> Option<Statement<'t>> {
        if self.next >= self.end {
            return None;
        }
        let statement = self.tree.statement(self.next);
        self.next = statement.next;
        Some(statement)
    }
}

/// A `{` not yet closed.
#[derive(Debug)]
enum Open {
    /// The block of statement `statement`.
    Block { statement: u32, at: Location },
    /// A `{` with no keyword before it: its content is read and dropped, so
    /// the tree returns to these lengths when it closes.
    Orphan {
        at: Location,
        text: usize,
        words: usize,
        statements: usize,
    },
}

/// Builds a [`Tree`] from lines of tokens.
#[derive(Debug, Default)]
pub struct TreeBuilder {
    tree: Tree,
    open: Vec<Open>,
    /// The statement whose arguments the line is giving.
    collecting: Option<u32>,
    /// A statement whose line ended: a `{` next (on a later line) is its block.
    may_open: Option<u32>,
    /// Set once the tree is too large for its 32-bit indexes.
    full: bool,
}

impl TreeBuilder {
    /// Registers a file; its index is what [`Self::line`] takes.
    pub fn file(&mut self, name: FileName) -> u32 {
        self.tree.files.push(name);
        (self.tree.files.len() - 1) as u32
    }

    /// Adds one line's tokens; the line ends after them.
    pub fn line(
        &mut self,
        tokens: &LineTokens,
        line: u32,
        file: u32,
        diagnostics: &mut Diagnostics,
    ) {
        let file_name = self.tree.files[file as usize].clone();
        let at = |col: u32| Location::new(file_name.clone(), line, col);
        for token in tokens.tokens() {
            match token.kind {
                TokenKind::Word { .. } => {
                    let text = tokens.text(token);
                    if self.tree.text.len() + text.len() >= HAS_BLOCK as usize
                        || self.tree.words.len() >= HAS_BLOCK as usize
                    {
                        if !self.full {
                            diagnostics.error(
                                &at(token.col),
                                "the configuration is too large (more than 2 GiB of words)",
                            );
                        }
                        self.full = true;
                        continue;
                    }
                    self.tree.text.push_str(text);
                    self.tree.words.push(WordEntry {
                        end: self.tree.text.len() as u32,
                        line,
                        col: token.col,
                        file,
                    });
                    if self.collecting.is_none() {
                        let index = self.tree.statements.len() as u32;
                        self.tree.statements.push(StatementEntry {
                            word: self.tree.words.len() as u32 - 1,
                            end: index + 1,
                        });
                        self.collecting = Some(index);
                        self.may_open = None;
                    }
                }
                TokenKind::Open => {
                    let owner = self.collecting.take().or(self.may_open.take());
                    match owner {
                        Some(statement) => {
                            self.tree.statements[statement as usize].end |= HAS_BLOCK;
                            self.open.push(Open::Block {
                                statement,
                                at: at(token.col),
                            });
                        }
                        None => {
                            let at = at(token.col);
                            diagnostics.error(&at, "'{' without a keyword before it");
                            self.open.push(Open::Orphan {
                                at,
                                text: self.tree.text.len(),
                                words: self.tree.words.len(),
                                statements: self.tree.statements.len(),
                            });
                        }
                    }
                }
                TokenKind::Close => {
                    self.collecting = None;
                    self.may_open = None;
                    if self.open.is_empty() {
                        diagnostics.error(&at(token.col), "unexpected '}' with no open block");
                    }
                    self.close();
                }
            }
        }
        if let Some(statement) = self.collecting.take() {
            self.may_open = Some(statement);
        }
    }

    /// Closes the innermost open block, if any.
    fn close(&mut self) {
        match self.open.pop() {
            Some(Open::Block { statement, .. }) => {
                let end = self.tree.statements.len() as u32;
                self.tree.statements[statement as usize].end = end | HAS_BLOCK;
            }
            Some(Open::Orphan {
                text,
                words,
                statements,
                ..
            }) => {
                self.tree.text.truncate(text);
                self.tree.words.truncate(words);
                self.tree.statements.truncate(statements);
            }
            None => {}
        }
    }

    /// The tree; every block still open is reported and ends with the input.
    pub fn finish(mut self, diagnostics: &mut Diagnostics) -> Tree {
        while let Some(open) = self.open.last() {
            let (Open::Block { at, .. } | Open::Orphan { at, .. }) = open;
            diagnostics.error(at, "this '{' is never closed");
            self.close();
        }
        self.tree.text.shrink_to_fit();
        self.tree.words.shrink_to_fit();
        self.tree.statements.shrink_to_fit();
        self.tree
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lexer::{lines, tokenize_line};

    fn tree(text: &str) -> (Tree, Diagnostics) {
        let mut diagnostics = Diagnostics::default();
        let mut builder = TreeBuilder::default();
        let file = Arc::new("t.conf".to_string());
        let index = builder.file(file.clone());
        let mut tokens = LineTokens::default();
        for (number, line) in lines(text) {
            tokenize_line(line, number, &file, &mut tokens, &mut diagnostics);
            builder.line(&tokens, number, index, &mut diagnostics);
        }
        (builder.finish(&mut diagnostics), diagnostics)
    }

    fn shape(block: Block<'_>) -> String {
        block
            .into_iter()
            .map(|statement| {
                let mut text = statement.name().to_string();
                for arg in &statement.args {
                    text.push(' ');
                    text.push_str(arg.text);
                }
                if let Some(block) = statement.block {
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
        assert_eq!(shape(same.top()), "vrrp_instance A {state MASTER}");
        assert_eq!(shape(next.top()), shape(same.top()));
    }

    #[test]
    fn several_statements_on_one_line() {
        let (statements, diagnostics) =
            tree("a { b 1 } c { d { e } }\n} x\nvrrp_instance B { interface eth0\n priority 5 }\n");
        assert_eq!(
            shape(statements.top()),
            "a {b 1};c {d {e}};x;vrrp_instance B {interface eth0;priority 5}"
        );
        let messages: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert_eq!(messages, ["t.conf:2:1: unexpected '}' with no open block"]);
    }

    #[test]
    fn empty_blocks_and_blocks_without_a_keyword() {
        let (statements, diagnostics) = tree("a {}\nb\n{ c 1 { d } }\ne { }\n{ f }\ng 2\n");
        assert_eq!(shape(statements.top()), "a {};b {c 1 {d}};e {};g 2");
        let messages: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert_eq!(messages, ["t.conf:5:1: '{' without a keyword before it"]);
        let g = statements.top().into_iter().last().unwrap();
        assert_eq!(g.args[0].at.to_string(), "t.conf:6:3");
    }

    #[test]
    fn words_keep_their_places() {
        let (statements, _) = tree("x {\n  y  1 2\n}\n");
        let x = statements.top().into_iter().next().unwrap();
        let y = x.block.unwrap().into_iter().next().unwrap();
        assert_eq!(y.at().to_string(), "t.conf:2:3");
        let places: Vec<String> = y
            .args
            .iter()
            .map(|w| format!("{} {}", w.text, w.at))
            .collect();
        assert_eq!(places, ["1 t.conf:2:6", "2 t.conf:2:8"]);
    }

    #[test]
    fn unclosed_block_is_reported_where_it_opens() {
        let (statements, diagnostics) = tree("global_defs {\n router_id x\n vrrp { a\n");
        let messages: Vec<String> = diagnostics.items.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "t.conf:3:7: this '{' is never closed",
                "t.conf:1:13: this '{' is never closed"
            ]
        );
        assert_eq!(
            shape(statements.top()),
            "global_defs {router_id x;vrrp {a}}"
        );
    }
}
