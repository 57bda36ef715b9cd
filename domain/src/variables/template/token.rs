//! Reading one `#{...}` token: a directive (`if`, `unless`, `elseif`, `else`, `each`, `calc`
//! and the closing ones) or a substitution with its filters and their arguments.

use super::parse::{Cond, FilterCall, Node, Operand, Piece, Segment, Subst};

/// One top-level token before blocks are built.
pub(super) enum Token {
    Node(Node),
    Open {
        kind: &'static str,
        cond: Option<Cond>,
        each: Option<(String, Subst)>,
    },
    ElseIf(Cond),
    Else,
    Close(&'static str),
}

/// Reads one `#{...}` body.
pub(super) fn token(body: &[Segment], raw: &str) -> Result<Token, String> {
    let lead = match body.first() {
        Some(Segment::Literal(s)) => s.trim_start(),
        _ => "",
    };
    let word = lead.split_whitespace().next().unwrap_or("");
    // Octostache reads if, unless, each and calc in any case; the others in lower case.
    let lower = word.to_ascii_lowercase();
    let keyword = match lower.as_str() {
        "if" | "unless" | "each" | "calc" => lower.as_str(),
        _ => word,
    };
    let only = body.len() == 1 && lead.trim_end() == word;
    let rest = || -> Vec<Segment> {
        let mut v = body.to_vec();
        if let Some(Segment::Literal(s)) = v.first_mut() {
            *s = s.trim_start()[word.len()..].to_string();
        }
        v
    };
    Ok(match keyword {
        "else" if only => Token::Else,
        "/if" if only => Token::Close("if"),
        "/unless" if only => Token::Close("unless"),
        "/each" if only => Token::Close("each"),
        "if" | "unless" | "elseif" if lead.len() > word.len() => {
            let c = cond(&rest(), keyword == "unless")?;
            match keyword {
                "elseif" => Token::ElseIf(c),
                "if" => Token::Open {
                    kind: "if",
                    cond: Some(c),
                    each: None,
                },
                _ => Token::Open {
                    kind: "unless",
                    cond: Some(c),
                    each: None,
                },
            }
        }
        "each" if lead.len() > word.len() => {
            let r = rest();
            let Some(Segment::Literal(s)) = r.first() else {
                return Err("write #{each item in List}".into());
            };
            let mut words = s.split_whitespace();
            let (Some(var), Some("in")) = (words.next(), words.next()) else {
                return Err("write #{each item in List}".into());
            };
            let after_in = s.find(" in ").map_or(s.len(), |i| i + 4);
            let mut source = r.clone();
            source[0] = Segment::Literal(s[after_in.min(s.len())..].to_string());
            let source = subst(&source, raw)?;
            Token::Open {
                kind: "each",
                cond: None,
                each: Some((var.to_string(), source)),
            }
        }
        "calc" if lead.len() > word.len() => Token::Node(Node::Calc {
            expr: pieces(&rest())?,
            raw: raw.to_string(),
        }),
        _ => Token::Node(Node::Subst(subst(body, raw)?)),
    })
}

/// Nested references inside a token become substitutions; directives cannot nest.
fn pieces(body: &[Segment]) -> Result<Vec<Piece>, String> {
    body.iter()
        .map(|s| match s {
            // `\"` is a quote too (templates inside JSON files escape them).
            Segment::Literal(t) => Ok(Piece::Lit(t.replace("\\\"", "\""))),
            Segment::Ref { body, .. } => {
                let inner = subst(body, "")?;
                Ok(Piece::Sub(Box::new(inner)))
            }
        })
        .collect()
}

/// Splits pieces at `sep` found in literal text (outside double quotes).
fn split(pieces: Vec<Piece>, sep: &str) -> Vec<Vec<Piece>> {
    let mut parts = Vec::new();
    let mut part: Vec<Piece> = Vec::new();
    let mut quoted = false;
    for p in pieces {
        let Piece::Lit(t) = p else {
            part.push(p);
            continue;
        };
        let mut cur = String::new();
        let mut rest = t.as_str();
        while let Some(c) = rest.chars().next() {
            if !quoted && rest.starts_with(sep) {
                if !cur.is_empty() {
                    part.push(Piece::Lit(std::mem::take(&mut cur)));
                }
                parts.push(std::mem::take(&mut part));
                rest = &rest[sep.len()..];
                continue;
            }
            if c == '"' {
                quoted = !quoted;
            }
            cur.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !cur.is_empty() {
            part.push(Piece::Lit(cur));
        }
    }
    parts.push(part);
    parts
}

/// `Name | Filter args | ...`.
fn subst(body: &[Segment], raw: &str) -> Result<Subst, String> {
    let mut parts = split(pieces(body)?, "|").into_iter();
    let name = parts.next().unwrap_or_default();
    let filters = parts.map(filter_call).collect::<Result<_, _>>()?;
    Ok(Subst {
        name,
        filters,
        raw: raw.to_string(),
    })
}

/// `Replace "a" "b"`: the name, then arguments (quoted, or words; a nested reference is one).
fn filter_call(pieces: Vec<Piece>) -> Result<FilterCall, String> {
    let mut words: Vec<Vec<Piece>> = Vec::new();
    let mut cur: Option<String> = None;
    let mut quoted = false;
    for p in pieces {
        match p {
            Piece::Lit(t) => {
                for c in t.chars() {
                    match c {
                        '"' => {
                            if quoted {
                                words.push(vec![Piece::Lit(cur.take().unwrap_or_default())]);
                            } else if let Some(w) = cur.take() {
                                words.push(vec![Piece::Lit(w)]);
                            }
                            quoted = !quoted;
                            if quoted {
                                cur = Some(String::new());
                            }
                        }
                        c if c.is_whitespace() && !quoted => {
                            if let Some(w) = cur.take() {
                                words.push(vec![Piece::Lit(w)]);
                            }
                        }
                        c => cur.get_or_insert_with(String::new).push(c),
                    }
                }
            }
            sub => {
                if let Some(w) = cur.take() {
                    words.push(vec![Piece::Lit(w)]);
                }
                words.push(vec![sub]);
            }
        }
    }
    if quoted {
        return Err("a filter argument has no closing '\"'".into());
    }
    if let Some(w) = cur.take() {
        words.push(vec![Piece::Lit(w)]);
    }
    let mut words = words.into_iter();
    let name = match words.next().as_deref() {
        Some([Piece::Lit(n)]) => n.clone(),
        _ => return Err("a '|' must be followed by a filter name".into()),
    };
    Ok(FilterCall {
        name,
        args: words.collect(),
    })
}

/// A condition: operand, or operand `==`/`!=` operand.
fn cond(body: &[Segment], negate: bool) -> Result<Cond, String> {
    let ps = pieces(body)?;
    let (sides, eq) = {
        let by_ne = split(ps.clone(), "!=");
        if by_ne.len() == 2 {
            (by_ne, false)
        } else {
            (split(ps, "=="), true)
        }
    };
    let mut sides = sides.into_iter();
    let left = operand(sides.next().unwrap_or_default())?;
    let compare = match (sides.next(), sides.next()) {
        (None, _) => None,
        (Some(r), None) => Some((eq, operand(r)?)),
        _ => return Err("a condition compares two values at most".into()),
    };
    Ok(Cond {
        negate,
        left,
        compare,
    })
}

fn operand(pieces: Vec<Piece>) -> Result<Operand, String> {
    if let [Piece::Lit(t)] = pieces.as_slice() {
        let t = t.trim();
        if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
            return Ok(Operand::Lit(t[1..t.len() - 1].to_string()));
        }
    }
    let mut parts = split(pieces, "|").into_iter();
    let name = parts.next().unwrap_or_default();
    let filters = parts.map(filter_call).collect::<Result<_, _>>()?;
    Ok(Operand::Var(Subst {
        name,
        filters,
        raw: String::new(),
    }))
}
