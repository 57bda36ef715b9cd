//! Table tests of the service message parser.

use super::*;

fn ok(name: &str, value: &str, sensitive: bool) -> Option<Result<OutputVariable, String>> {
    Some(Ok(OutputVariable {
        name: name.into(),
        value: value.into(),
        sensitive,
    }))
}

#[test]
fn parses_valid_messages() {
    let cases: &[(&str, Option<Result<OutputVariable, String>>)] = &[
        (
            "##deploy[setVariable name='A' value='1']",
            ok("A", "1", false),
        ),
        (
            "  ##deploy[setVariable name='A' value='']  ",
            ok("A", "", false),
        ),
        (
            "##deploy[SETVARIABLE  name='Db.Url'   value='x=y z' ]",
            ok("Db.Url", "x=y z", false),
        ),
        (
            "##deploy[setVariable name='P' value='s' sensitive='true']",
            ok("P", "s", true),
        ),
        (
            "##deploy[setVariable sensitive='False' value='v' name='P']",
            ok("P", "v", false),
        ),
        (
            r"##deploy[setVariable name='Q' value='it\'s a \\ and C:\temp']",
            ok("Q", r"it's a \ and C:\temp", false),
        ),
        (
            "##deploy[setVariable name64='TmFtZQ==' value64='VmFsdWUgd2l0aCAnXQ==']",
            ok("Name", "Value with ']", false),
        ),
        (
            "##deploy[setVariable name='A' value='has ] inside']",
            ok("A", "has ] inside", false),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(&parse_service_message(line), want, "{line}");
    }
}

#[test]
fn ignores_ordinary_lines() {
    for line in [
        "",
        "hello",
        "#deploy[setVariable name='A' value='1']",
        "x ##deploy[setVariable]",
    ] {
        assert_eq!(parse_service_message(line), None, "{line}");
    }
    assert_eq!(SERVICE_MESSAGE_PREFIX, "##deploy[");
}

#[test]
fn reports_malformed_messages() {
    let cases: &[(&str, &str)] = &[
        ("##deploy[", "has no name"),
        ("##deploy[]", "has no name"),
        (
            "##deploy[progress value='1']",
            "unknown service message 'progress'",
        ),
        (
            "##deploy[setVariable name='A' value='1'",
            "missing its closing ']'",
        ),
        (
            "##deploy[setVariable name='A' value='1'] trailing",
            "after the closing ']'",
        ),
        (
            "##deploy[setVariable name='A' value='1]",
            "no closing quote",
        ),
        ("##deploy[setVariable name=A value='1']", "single quotes"),
        ("##deploy[setVariable name 'A']", "must be followed by ="),
        (
            "##deploy[setVariable name='A'value='1']",
            "separated by spaces",
        ),
        ("##deploy[setVariable value='1']", "needs a name"),
        ("##deploy[setVariable name='A']", "needs a value"),
        (
            "##deploy[setVariable name='A' name='B' value='1']",
            "given twice",
        ),
        (
            "##deploy[setVariable name='A' name64='Qg==' value='1']",
            "name twice",
        ),
        (
            "##deploy[setVariable name='A' value64='!!!']",
            "not valid base64",
        ),
        ("##deploy[setVariable name='A' value64='/w==']", "UTF-8"),
        (
            "##deploy[setVariable name='A' value='1' sensitive='yes']",
            "'true' or 'false'",
        ),
        (
            "##deploy[setVariable name='A' value='1' colour='red']",
            "unknown service message attribute 'colour'",
        ),
        (
            "##deploy[setVariable name='A{b}' value='1']",
            "not a valid output variable name",
        ),
        (
            "##deploy[setVariable name='  ' value='1']",
            "not a valid output variable name",
        ),
        (
            "##deploy[setVariable name='A' = value='1']",
            "expected an attribute",
        ),
    ];
    for (line, want) in cases {
        match parse_service_message(line) {
            Some(Err(reason)) => assert!(reason.contains(want), "{line}: {reason}"),
            other => panic!("{line}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn errors_never_contain_the_value() {
    let line = "##deploy[setVariable name='A' value='TOPSECRET' sensitive='maybe']";
    match parse_service_message(line) {
        Some(Err(reason)) => assert!(!reason.contains("TOPSECRET") && !reason.contains("maybe")),
        other => panic!("{other:?}"),
    }
}
