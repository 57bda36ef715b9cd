//! Parsing templates: `#{...}` tokens (nested, `##{` escaped) into a tree of text,
//! substitutions with filters, `#{if}`/`#{unless}`/`#{elseif}`/`#{else}`, `#{each}` and
//! `#{calc}` blocks. Directive words and `|` are only read from the literal text of a token,
//! never from what a nested reference expands to, so a value cannot inject syntax.

use super::super::{MAX_DEPTH, VariableError};
use super::token::{Token, token};

/// A raw piece of text: literal, or a `#{...}` whose body is parsed recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    /// `start..end` is the whole token in the text, `#{` to `}`.
    Ref {
        body: Vec<Segment>,
        start: usize,
        end: usize,
    },
}

/// Part of a name or an argument: literal text or a nested substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Sub(Box<Subst>),
}

/// `#{Name | Filter arg "arg 2" | ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subst {
    pub name: Vec<Piece>,
    pub filters: Vec<FilterCall>,
    /// The token as written, echoed back where a value is missing (compatible mode).
    pub raw: String,
}

impl Subst {
    /// The token rebuilt as Octostache echoes a missing one: `#{Name | Filter "arg"}`.
    pub(crate) fn rebuilt(&self) -> String {
        let mut s = format!("#{{{}", rebuild(&self.name).trim());
        for f in &self.filters {
            s.push_str(" | ");
            s.push_str(&f.name);
            for a in &f.args {
                s.push_str(&format!(" \"{}\"", rebuild(a)));
            }
        }
        s.push('}');
        s
    }
}

fn rebuild(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(t) => t.clone(),
            Piece::Sub(s) => s.rebuilt(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterCall {
    pub name: String,
    pub args: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand {
    Lit(String),
    Var(Subst),
}

/// `A`, `A == "x"`, `A != B`; `negate` for `unless`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cond {
    pub negate: bool,
    pub left: Operand,
    pub compare: Option<(bool, Operand)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Text(String),
    Subst(Subst),
    If {
        branches: Vec<(Cond, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Each {
        var: String,
        source: Subst,
        body: Vec<Node>,
    },
    Calc {
        expr: Vec<Piece>,
        raw: String,
    },
}

/// Parses `text` into raw segments. Positions in errors are byte offsets into `text`.
pub(crate) fn segments(text: &str) -> Result<Vec<Segment>, VariableError> {
    SegmentParser { text, pos: 0 }.sequence(0, None)
}

struct SegmentParser<'t> {
    text: &'t str,
    pos: usize,
}

impl SegmentParser<'_> {
    /// Parses until the end of text (`open == None`) or the `}` closing the `#{` at `open`.
    /// Only ASCII bytes are inspected, so every slice boundary is a char boundary.
    fn sequence(
        &mut self,
        depth: usize,
        open: Option<usize>,
    ) -> Result<Vec<Segment>, VariableError> {
        let bytes = self.text.as_bytes();
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut start = self.pos;
        // Inside a token, a `}` between double quotes is text (`Replace "x" "${name}"`).
        let mut quoted = false;
        // A `{` inside a token (`#{calc {B}-2}`) waits for its own `}`.
        let mut braces = 0usize;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                if let Some(position) = open {
                    return Err(VariableError::Unterminated { position });
                }
                literal.push_str(&self.text[start..]);
                push_literal(&mut segments, literal);
                return Ok(segments);
            };
            let next = bytes.get(self.pos + 1).copied();
            if b == b'#' && next == Some(b'#') && bytes.get(self.pos + 2) == Some(&b'{') {
                literal.push_str(&self.text[start..self.pos]);
                literal.push_str("#{");
                self.pos += 3;
                start = self.pos;
            } else if b == b'#' && next == Some(b'{') {
                literal.push_str(&self.text[start..self.pos]);
                push_literal(&mut segments, std::mem::take(&mut literal));
                if depth >= MAX_DEPTH {
                    return Err(VariableError::TooDeep {
                        limit: MAX_DEPTH,
                        chain: Vec::new(),
                    });
                }
                let at = self.pos;
                self.pos += 2;
                let body = self.sequence(depth + 1, Some(at))?;
                segments.push(Segment::Ref {
                    body,
                    start: at,
                    end: self.pos,
                });
                start = self.pos;
            } else if b == b'"' && open.is_some() {
                quoted = !quoted;
                self.pos += 1;
            } else if b == b'{' && open.is_some() && !quoted {
                braces += 1;
                self.pos += 1;
            } else if b == b'}' && open.is_some() && !quoted && braces > 0 {
                braces -= 1;
                self.pos += 1;
            } else if b == b'}' && open.is_some() && !quoted {
                literal.push_str(&self.text[start..self.pos]);
                push_literal(&mut segments, literal);
                self.pos += 1;
                return Ok(segments);
            } else {
                self.pos += 1;
            }
        }
    }
}

pub(crate) fn push_literal(segments: &mut Vec<Segment>, literal: String) {
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
}

/// Line and column (1-based, in characters) of byte `pos` of `text`.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Builds the tree of `text`: a syntax error names its line and column.
pub(crate) fn template(text: &str) -> Result<Vec<Node>, VariableError> {
    let mut tokens = Vec::new();
    for s in segments(text)? {
        match s {
            Segment::Literal(t) => tokens.push((Token::Node(Node::Text(t)), 0)),
            Segment::Ref { body, start, end } => {
                let t = token(&body, &text[start..end]).map_err(|m| syntax(text, start, m))?;
                tokens.push((t, start));
            }
        }
    }
    let mut it = tokens.into_iter();
    let (nodes, end) = block(text, &mut it, None)?;
    match end {
        None => Ok(nodes),
        Some((_, pos)) => Err(syntax(
            text,
            pos,
            "this has no opening #{if} or #{each}".into(),
        )),
    }
}

pub(crate) fn syntax(text: &str, pos: usize, message: String) -> VariableError {
    let (line, column) = line_col(text, pos);
    VariableError::Syntax {
        message,
        line,
        column,
    }
}

/// What ended a block: an `else`, `elseif` or close token, with its position.
type End = Option<(Token, usize)>;

/// Nodes up to the end of text or the next else/elseif/close token (returned).
fn block(
    text: &str,
    it: &mut impl Iterator<Item = (Token, usize)>,
    opened: Option<(&'static str, usize)>,
) -> Result<(Vec<Node>, End), VariableError> {
    let mut nodes = Vec::new();
    while let Some((t, pos)) = it.next() {
        match t {
            Token::Node(n) => nodes.push(n),
            Token::Open { kind, cond, each } => nodes.push(open(text, it, kind, cond, each, pos)?),
            end => return Ok((nodes, Some((end, pos)))),
        }
    }
    match opened {
        Some((kind, pos)) => Err(syntax(
            text,
            pos,
            format!("#{{{kind}}} is not closed: add #{{/{kind}}}"),
        )),
        None => Ok((nodes, None)),
    }
}

fn open(
    text: &str,
    it: &mut impl Iterator<Item = (Token, usize)>,
    kind: &'static str,
    cond: Option<Cond>,
    each: Option<(String, Subst)>,
    pos: usize,
) -> Result<Node, VariableError> {
    if let Some((var, source)) = each {
        let (body, end) = block(text, it, Some((kind, pos)))?;
        return match end {
            Some((Token::Close("each"), _)) => Ok(Node::Each { var, source, body }),
            Some((_, at)) => Err(syntax(text, at, "expected #{/each} here".into())),
            None => Err(syntax(
                text,
                pos,
                "#{each} is not closed: add #{/each}".into(),
            )),
        };
    }
    let mut branches = Vec::new();
    let mut cond = cond;
    let mut otherwise = Vec::new();
    loop {
        let (body, end) = block(text, it, Some((kind, pos)))?;
        let Some(c) = cond.take() else {
            otherwise = body;
            match end {
                Some((Token::Close(k), _)) if k == kind => break,
                Some((_, at)) => {
                    return Err(syntax(
                        text,
                        at,
                        format!("expected #{{/{kind}}} after #{{else}}"),
                    ));
                }
                None => {
                    return Err(syntax(
                        text,
                        pos,
                        format!("#{{{kind}}} is not closed: add #{{/{kind}}}"),
                    ));
                }
            }
        };
        branches.push((c, body));
        match end {
            Some((Token::Close(k), _)) if k == kind => break,
            Some((Token::ElseIf(c), _)) if kind == "if" => cond = Some(c),
            Some((Token::Else, _)) => {}
            Some((_, at)) => return Err(syntax(text, at, format!("expected #{{/{kind}}} here"))),
            None => {
                return Err(syntax(
                    text,
                    pos,
                    format!("#{{{kind}}} is not closed: add #{{/{kind}}}"),
                ));
            }
        }
    }
    Ok(Node::If {
        branches,
        otherwise,
    })
}
