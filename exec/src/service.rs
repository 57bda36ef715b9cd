//! Service messages: lines a script prints to set output variables.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::OutputVariable;

/// Every service message starts with this (after optional leading whitespace).
pub const SERVICE_MESSAGE_PREFIX: &str = "##deploy[";

/// Parses one output line for a service message; returns `None` if it is not one.
///
/// # Syntax
///
/// ```text
/// ##deploy[setVariable name='X' value='Y']
/// ##deploy[setVariable name='DbPassword' value='s3cret' sensitive='true']
/// ##deploy[setVariable name64='WA==' value64='WQ==']
/// ```
///
/// * The line (leading and trailing whitespace ignored) starts with [`SERVICE_MESSAGE_PREFIX`],
///   then the message name `setVariable` (any case), attributes `key='value'` separated by
///   whitespace, and a closing `]` that ends the line.
/// * Inside `'...'`, `\'` is a quote and `\\` a backslash; any other backslash is literal.
/// * `name` (or `name64`, base64 of the UTF-8 name) is required and must be a valid variable
///   name; `value` (or `value64`) is required and may be empty; `sensitive` is `'true'` or
///   `'false'` (default false).
/// * Unknown or repeated attributes, and anything else malformed, give `Some(Err(reason))`;
///   the reason never contains the value.
pub fn parse_service_message(line: &str) -> Option<Result<OutputVariable, String>> {
    let rest = line.trim().strip_prefix(SERVICE_MESSAGE_PREFIX)?;
    Some(parse_body(rest))
}

/// Parses what follows the prefix.
fn parse_body(rest: &str) -> Result<OutputVariable, String> {
    let mut cur = Cursor { text: rest, pos: 0 };
    let kind = cur.word();
    if kind.is_empty() {
        return Err("service message has no name: expected '##deploy[setVariable ...]'".into());
    }
    if !kind.eq_ignore_ascii_case("setVariable") {
        return Err(format!(
            "unknown service message '{kind}': only 'setVariable' is supported"
        ));
    }
    let mut attrs: Vec<(String, String)> = Vec::new();
    loop {
        let had_space = cur.skip_whitespace();
        match cur.peek() {
            None => return Err("service message is missing its closing ']'".into()),
            Some(']') => {
                cur.pos += 1;
                if !cur.rest().trim().is_empty() {
                    return Err("unexpected text after the closing ']' of a service message".into());
                }
                break;
            }
            Some(_) if !had_space => {
                return Err("service message attributes must be separated by spaces".into());
            }
            Some(_) => {}
        }
        let key = cur.word();
        if key.is_empty() {
            return Err(
                "malformed service message: expected an attribute like name='X' or a closing ']'"
                    .into(),
            );
        }
        if cur.peek() != Some('=') {
            return Err(format!(
                "service message attribute '{key}' must be followed by ='...'"
            ));
        }
        cur.pos += 1;
        if cur.peek() != Some('\'') {
            return Err(format!(
                "the value of service message attribute '{key}' must be in single quotes"
            ));
        }
        cur.pos += 1;
        let value = cur.quoted().ok_or_else(|| {
            format!("the value of service message attribute '{key}' has no closing quote")
        })?;
        if attrs.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(format!("service message attribute '{key}' is given twice"));
        }
        attrs.push((key.to_ascii_lowercase(), value));
    }
    build(attrs)
}

/// Turns the attributes into an output variable.
fn build(attrs: Vec<(String, String)>) -> Result<OutputVariable, String> {
    let mut name = None;
    let mut value = None;
    let mut sensitive = false;
    for (key, v) in attrs {
        match key.as_str() {
            "name" => set_once(&mut name, v, "name")?,
            "name64" => set_once(&mut name, decode(&v, "name64")?, "name")?,
            "value" => set_once(&mut value, v, "value")?,
            "value64" => set_once(&mut value, decode(&v, "value64")?, "value")?,
            "sensitive" => {
                sensitive = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(
                            "service message attribute 'sensitive' must be 'true' or 'false'"
                                .into(),
                        );
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown service message attribute '{other}': use name, name64, value, value64 or sensitive"
                ));
            }
        }
    }
    let name = name
        .ok_or("setVariable needs a name='...' (or name64='...') attribute")?
        .trim()
        .to_string();
    if !domain::variables::is_valid_name(&name) {
        return Err(format!(
            "'{name}' is not a valid output variable name: use letters, digits, '.', '_', '-', ':', '[', ']' and spaces"
        ));
    }
    let value = value.ok_or_else(|| {
        format!("setVariable '{name}' needs a value='...' (or value64='...') attribute")
    })?;
    Ok(OutputVariable {
        name,
        value,
        sensitive,
    })
}

fn set_once(slot: &mut Option<String>, v: String, what: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!(
            "service message gives the {what} twice (plain and base64)"
        ));
    }
    *slot = Some(v);
    Ok(())
}

fn decode(v: &str, what: &str) -> Result<String, String> {
    let bytes = STANDARD
        .decode(v.trim())
        .map_err(|_| format!("service message attribute '{what}' is not valid base64"))?;
    String::from_utf8(bytes)
        .map_err(|_| format!("service message attribute '{what}' does not decode to UTF-8 text"))
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Skips whitespace; whether there was any.
    fn skip_whitespace(&mut self) -> bool {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        rest.len() != trimmed.len()
    }

    /// Consumes ASCII letters and digits.
    fn word(&mut self) -> &'t str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// Consumes a quoted value after its opening quote, through the closing quote.
    fn quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos += i + 1;
                    return Some(out);
                }
                '\\' => match chars.clone().next() {
                    Some((_, n @ ('\'' | '\\'))) => {
                        out.push(n);
                        chars.next();
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        None
    }
}
