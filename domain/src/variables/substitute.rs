//! Parsing and expansion of `#{Name}` references, with memoization and cycle detection.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::resolve::key;
use super::{MAX_DEPTH, MAX_EXPANDED_LEN, ResolvedVariable, VariableError};

/// Escapes `text` so that substitution reproduces it literally: every `#{` becomes `##{`.
pub fn escape(text: &str) -> String {
    text.replace("#{", "##{")
}

/// Whether `name` (already trimmed) is a valid variable name: non-empty, made of letters,
/// digits, `.`, `_`, `-`, `:`, `[`, `]` and spaces.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '[' | ']' | ' '))
}

/// Why a variable's value would not expand, if it would not: `Some` with a message for an
/// unterminated `#{` (which a sensitive value keeps literally, and a plain one must escape as
/// `##{`), `None` otherwise.
pub fn value_problem(value: &str) -> Option<String> {
    if !value.contains("#{") {
        return None;
    }
    match parse(value) {
        Err(VariableError::Unterminated { position }) => {
            Some(format!("it has an unterminated '#{{' at byte {position}"))
        }
        _ => None,
    }
}

/// A piece of parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Text copied as is (escapes already applied).
    Literal(String),
    /// `#{...}`: the body is itself parsed, so names can be built from references.
    Ref(Vec<Segment>),
}

/// Parses `text` into segments. Positions in errors are byte offsets into `text`.
fn parse(text: &str) -> Result<Vec<Segment>, VariableError> {
    Parser { text, pos: 0 }.sequence(0, None)
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
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
                segments.push(Segment::Ref(self.sequence(depth + 1, Some(at))?));
                start = self.pos;
            } else if b == b'}' && open.is_some() {
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

fn push_literal(segments: &mut Vec<Segment>, literal: String) {
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
}

/// Expands references against a set of resolved variables. One expander serves one public
/// call: it memoizes every variable it expands, so shared references are expanded once.
pub(crate) struct Expander<'v> {
    vars: &'v BTreeMap<String, ResolvedVariable>,
    /// Lookup key -> fully expanded value.
    memo: HashMap<String, Rc<str>>,
    /// Variables being expanded, outermost first: (key, display name).
    stack: Vec<(String, &'v str)>,
    /// Active nesting: variables being expanded plus `#{...#{...}}` bodies being expanded.
    depth: usize,
}

impl<'v> Expander<'v> {
    pub(crate) fn new(vars: &'v BTreeMap<String, ResolvedVariable>) -> Self {
        Expander {
            vars,
            memo: HashMap::new(),
            stack: Vec::new(),
            depth: 0,
        }
    }

    /// Clears the in-progress state after an error, keeping the memo of completed expansions.
    pub(crate) fn reset(&mut self) {
        self.stack.clear();
        self.depth = 0;
    }

    /// Expands every reference in top-level `text`.
    pub(crate) fn substitute(&mut self, text: &str) -> Result<String, VariableError> {
        if !text.contains("#{") {
            return Ok(text.to_string());
        }
        let segments = parse(text)?;
        let mut out = String::with_capacity(text.len());
        self.expand_segments(&segments, None, &mut out)?;
        Ok(out)
    }

    /// The expanded value of variable `name`, or `None` if it is not defined.
    pub(crate) fn expand_var(&mut self, name: &str) -> Result<Option<Rc<str>>, VariableError> {
        let k = key(name);
        if let Some(v) = self.memo.get(&k) {
            return Ok(Some(Rc::clone(v)));
        }
        let Some(var) = self.vars.get(&k) else {
            return Ok(None);
        };
        if let Some(i) = self.stack.iter().position(|(s, _)| *s == k) {
            let mut chain: Vec<String> =
                self.stack[i..].iter().map(|(_, n)| n.to_string()).collect();
            chain.push(var.name.clone());
            return Err(VariableError::Cycle { chain });
        }
        if self.depth >= MAX_DEPTH {
            let mut chain: Vec<String> = self.stack.iter().map(|(_, n)| n.to_string()).collect();
            chain.push(var.name.clone());
            return Err(VariableError::TooDeep {
                limit: MAX_DEPTH,
                chain,
            });
        }
        // A sensitive value that is not a well-formed template (an unterminated `#{` in a
        // password) is used literally: it was accepted so at set time (see
        // [`value_problem`]), and failing the deployment over it would only hide the value.
        let parsed = if var.value.contains("#{") {
            match parse(&var.value) {
                Ok(segments) => Some(segments),
                Err(VariableError::Unterminated { .. }) if var.sensitive => None,
                Err(e) => {
                    return Err(VariableError::InValue {
                        variable: var.name.clone(),
                        source: Box::new(e),
                    });
                }
            }
        } else {
            None
        };
        let value: Rc<str> = if let Some(segments) = parsed {
            let mut out = String::with_capacity(var.value.len());
            self.stack.push((k.clone(), var.name.as_str()));
            self.depth += 1;
            let result = self.expand_segments(&segments, Some(&var.name), &mut out);
            self.depth -= 1;
            self.stack.pop();
            result?;
            Rc::from(out)
        } else {
            Rc::from(var.value.as_str())
        };
        self.memo.insert(k, Rc::clone(&value));
        Ok(Some(value))
    }

    /// Appends the expansion of `segments` to `out`; `owner` is the variable whose value they
    /// come from (for error messages).
    fn expand_segments(
        &mut self,
        segments: &[Segment],
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<(), VariableError> {
        for segment in segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Ref(body) => {
                    let name = self.expand_name(body, owner)?;
                    let name = name.trim();
                    if !is_valid_name(name) {
                        return Err(VariableError::InvalidName {
                            name: name.to_string(),
                            referenced_by: owner.map(str::to_string),
                        });
                    }
                    match self.expand_var(name)? {
                        Some(v) => out.push_str(&v),
                        None => {
                            return Err(VariableError::Missing {
                                name: name.to_string(),
                                referenced_by: owner.map(str::to_string),
                            });
                        }
                    }
                }
            }
            if out.len() > MAX_EXPANDED_LEN {
                return Err(VariableError::TooLarge {
                    limit: MAX_EXPANDED_LEN,
                });
            }
        }
        Ok(())
    }

    /// The name a reference body denotes, expanding nested references in it.
    fn expand_name(
        &mut self,
        body: &[Segment],
        owner: Option<&str>,
    ) -> Result<String, VariableError> {
        match body {
            [] => Ok(String::new()),
            [Segment::Literal(name)] => Ok(name.clone()),
            _ => {
                if self.depth >= MAX_DEPTH {
                    return Err(VariableError::TooDeep {
                        limit: MAX_DEPTH,
                        chain: self.stack.iter().map(|(_, n)| n.to_string()).collect(),
                    });
                }
                let mut name = String::new();
                self.depth += 1;
                let result = self.expand_segments(body, owner, &mut name);
                self.depth -= 1;
                result.map(|()| name)
            }
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.to_string())
    }

    #[test]
    fn parses_literals_refs_and_escapes() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("a}b#c").unwrap(), vec![lit("a}b#c")]);
        assert_eq!(
            parse("x#{A}y").unwrap(),
            vec![lit("x"), Segment::Ref(vec![lit("A")]), lit("y")]
        );
        assert_eq!(parse("##{A}").unwrap(), vec![lit("#{A}")]);
        assert_eq!(parse("###{A}").unwrap(), vec![lit("##{A}")]);
        assert_eq!(
            parse("#{S.#{E}}").unwrap(),
            vec![Segment::Ref(vec![lit("S."), Segment::Ref(vec![lit("E")])])]
        );
        assert_eq!(parse("#{}").unwrap(), vec![Segment::Ref(vec![])]);
    }

    #[test]
    fn parse_errors_report_position() {
        assert_eq!(
            parse("ab#{c").unwrap_err(),
            VariableError::Unterminated { position: 2 }
        );
        assert_eq!(
            parse("#{a#{b}").unwrap_err(),
            VariableError::Unterminated { position: 0 }
        );
        assert_eq!(
            parse("é#{").unwrap_err(),
            VariableError::Unterminated { position: 2 }
        );
        let deep = "#{".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse(&deep).unwrap_err(),
            VariableError::TooDeep { .. }
        ));
    }

    #[test]
    fn escape_round_trips() {
        for s in ["", "#{", "##{", "###{x}", "#{#{", "a#b{c}", "#{A}#"] {
            assert_eq!(parse(&escape(s)).unwrap(), {
                let mut v = Vec::new();
                push_literal(&mut v, s.to_string());
                v
            });
        }
    }
}
