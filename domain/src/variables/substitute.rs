//! Names and escapes of `#{Name}` references, and the check of a value at set time (the
//! templates themselves: [`super::template`]).

use super::VariableError;

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
/// unterminated `#{` or a template that does not parse (an unclosed `#{if}`, an unknown
/// filter), which a sensitive value keeps literally and a plain one must fix or escape as
/// `##{`; `None` otherwise.
pub fn value_problem(value: &str) -> Option<String> {
    if !value.contains("#{") {
        return None;
    }
    match super::template::check(value) {
        Err(VariableError::Unterminated { position }) => {
            Some(format!("it has an unterminated '#{{' at byte {position}"))
        }
        Err(e) => Some(format!("is not a template that evaluates ({e})")),
        Ok(()) => None,
    }
}

#[cfg(test)]
mod parse_tests {
    use super::super::MAX_DEPTH;
    use super::super::template::parse::segments as parse;
    use super::super::template::parse::{Segment, push_literal};
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.to_string())
    }

    #[test]
    fn parses_literals_refs_and_escapes() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("a}b#c").unwrap(), vec![lit("a}b#c")]);
        let r = |body, start, end| Segment::Ref { body, start, end };
        assert_eq!(
            parse("x#{A}y").unwrap(),
            vec![lit("x"), r(vec![lit("A")], 1, 5), lit("y")]
        );
        assert_eq!(parse("##{A}").unwrap(), vec![lit("#{A}")]);
        assert_eq!(parse("###{A}").unwrap(), vec![lit("##{A}")]);
        assert_eq!(
            parse("#{S.#{E}}").unwrap(),
            vec![r(vec![lit("S."), r(vec![lit("E")], 4, 8)], 0, 9)]
        );
        assert_eq!(parse("#{}").unwrap(), vec![r(vec![], 0, 3)]);
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
