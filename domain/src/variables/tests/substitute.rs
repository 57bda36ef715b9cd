//! Unit tests for `#{...}` substitution, expansion errors and the `Resolved` accessors.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Resolves unscoped `(name, value)` pairs.
fn vars(pairs: &[(&str, &str)]) -> Resolved {
    let cands: Vec<Candidate> = pairs.iter().map(|(n, v)| Candidate::new(*n, *v)).collect();
    resolve(&cands, &DeployContext::default())
}

#[test]
fn substitute_plain_recursive_and_whitespace() {
    let r = vars(&[("A", "a#{B}"), ("B", "b#{C}"), ("C", "c"), ("Sp ace", "ok")]);
    assert_eq!(r.substitute("x #{A} y").unwrap(), "x abc y");
    assert_eq!(r.substitute("#{ a }#{b}").unwrap(), "abcbc");
    assert_eq!(r.substitute("#{Sp ace}").unwrap(), "ok");
    assert_eq!(r.substitute("no refs } # {").unwrap(), "no refs } # {");
    assert_eq!(r.get("A").unwrap().as_deref(), Some("abc"));
}

#[test]
fn escape_produces_literal() {
    let r = vars(&[("A", "1"), ("Lit", "##{A}")]);
    assert_eq!(r.substitute("##{A} #{A}").unwrap(), "#{A} 1");
    // An escaped value expands to a literal that is not re-expanded.
    assert_eq!(r.substitute("#{Lit}").unwrap(), "#{A}");
    assert_eq!(r.substitute(&escape("#{A}")).unwrap(), "#{A}");
}

#[test]
fn nested_references() {
    let r = vars(&[
        ("Env", "Prod"),
        ("Server.Prod", "prod.example"),
        ("Server.Test", "test.example"),
        ("Url", "https://#{Server.#{Env}}/"),
        ("Which", "En"),
    ]);
    assert_eq!(r.substitute("#{Server.#{Env}}").unwrap(), "prod.example");
    assert_eq!(
        r.get("url").unwrap().as_deref(),
        Some("https://prod.example/")
    );
    assert_eq!(
        r.substitute("#{Server.#{#{Which}v}}").unwrap(),
        "prod.example"
    );
}

#[test]
fn cycles_are_reported_with_chain() {
    let r = vars(&[("A", "#{B}"), ("B", "#{a}"), ("Self", "x#{self}")]);
    let cycle = |v: &[&str]| VariableError::Cycle { chain: s(v) };
    assert_eq!(r.get("A").unwrap_err(), cycle(&["A", "B", "A"]));
    assert_eq!(r.substitute("#{B}").unwrap_err(), cycle(&["B", "A", "B"]));
    assert_eq!(r.get("self").unwrap_err(), cycle(&["Self", "Self"]));
    assert_eq!(
        r.get("A").unwrap_err().to_string(),
        "variable cycle: A -> B -> A"
    );

    let three = vars(&[("X", "#{Y}"), ("Y", "#{Z}"), ("Z", "#{X}"), ("W", "#{X}")]);
    assert_eq!(three.get("Y").unwrap_err(), cycle(&["Y", "Z", "X", "Y"]));
    // The chain only contains the loop, not the path leading into it.
    assert_eq!(three.get("W").unwrap_err(), cycle(&["X", "Y", "Z", "X"]));
    assert!(three.expand_all().is_err());
}

#[test]
fn cycle_through_nested_name() {
    let r = vars(&[("N", "#{P#{N}}"), ("PX", "x")]);
    assert_eq!(
        r.get("N").unwrap_err(),
        VariableError::Cycle {
            chain: s(&["N", "N"])
        }
    );
}

#[test]
fn missing_variables_name_the_referrer() {
    let r = vars(&[("A", "#{B}"), ("B", "#{Nope}")]);
    let missing = |name: &str, by: Option<&str>| VariableError::Missing {
        name: name.into(),
        referenced_by: by.map(str::to_string),
    };
    assert_eq!(r.substitute("#{Gone}").unwrap_err(), missing("Gone", None));
    assert_eq!(r.get("A").unwrap_err(), missing("Nope", Some("B")));
    assert_eq!(
        r.get("A").unwrap_err().to_string(),
        "variable 'Nope' is not defined (referenced by 'B')"
    );
    assert_eq!(
        r.substitute("#{Gone}").unwrap_err().to_string(),
        "variable 'Gone' is not defined"
    );
    let nested = vars(&[("Env", "Dev")]);
    assert_eq!(
        nested.substitute("#{Server.#{Env}}").unwrap_err(),
        missing("Server.Dev", None)
    );
}

#[test]
fn unterminated_reference() {
    let r = vars(&[("A", "1"), ("Bad", "ok #{A")]);
    assert_eq!(
        r.substitute("x #{A").unwrap_err(),
        VariableError::Unterminated { position: 2 }
    );
    assert_eq!(
        r.substitute("#{Server.#{A}").unwrap_err(),
        VariableError::Unterminated { position: 0 }
    );
    let err = r.get("bad").unwrap_err();
    assert_eq!(
        err,
        VariableError::InValue {
            variable: "Bad".into(),
            source: Box::new(VariableError::Unterminated { position: 3 }),
        }
    );
    assert!(err.to_string().contains("'Bad'"), "{err}");
    assert!(err.to_string().contains("unterminated"), "{err}");
}

#[test]
fn invalid_names_are_rejected() {
    let r = vars(&[
        ("A", "1"),
        ("Uses", "#{A | ToUpper}"),
        ("Bad", "#{A | NoSuch}"),
    ]);
    for text in ["#{}", "#{  }", "#{a$b}", "#{\"q\"}"] {
        assert!(
            matches!(r.substitute(text), Err(VariableError::InvalidName { .. })),
            "{text}"
        );
    }
    // `|` starts a filter: an unknown one is named (by a check before anything runs, and
    // when it is evaluated).
    assert!(matches!(
        super::template::check("#{a|b}"),
        Err(VariableError::Syntax { ref message, .. }) if message.starts_with("unknown filter 'b'")
    ));
    assert!(
        matches!(r.substitute("#{A|b}"), Err(VariableError::Filter { ref filter, .. }) if filter == "b")
    );
    assert_eq!(r.get("Uses").unwrap().as_deref(), Some("1"));
    assert!(matches!(
        r.get("Bad").unwrap_err(),
        VariableError::Filter { ref referenced_by, .. } if referenced_by.as_deref() == Some("Bad")
    ));
    assert!(is_valid_name("Octopus.Action[Step 1].Output:x-y_z"));
    assert!(!is_valid_name(""));
}

#[test]
fn depth_is_bounded() {
    let n = MAX_DEPTH + 5;
    let cands: Vec<Candidate> = (0..n)
        .map(|i| Candidate::new(format!("V{i}"), format!("#{{V{}}}", i + 1)))
        .chain(std::iter::once(Candidate::new(format!("V{n}"), "end")))
        .collect();
    let r = resolve(&cands, &DeployContext::default());
    assert!(matches!(r.get("V0"), Err(VariableError::TooDeep { .. })));
    // A chain within the limit works.
    assert_eq!(r.get("V10").unwrap().as_deref(), Some("end"));
    let deep = format!(
        "{}x{}",
        "#{".repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        r.substitute(&deep),
        Err(VariableError::TooDeep { .. })
    ));
}

#[test]
fn shared_references_are_memoized() {
    // Without memoization this is 2^40 expansions.
    let n = 40;
    let cands: Vec<Candidate> = (0..n)
        .map(|i| Candidate::new(format!("V{i}"), format!("#{{V{0}}}#{{v{0}}}", i + 1)))
        .chain(std::iter::once(Candidate::new(format!("V{n}"), "")))
        .collect();
    let r = resolve(&cands, &DeployContext::default());
    assert_eq!(r.get("V0").unwrap().as_deref(), Some(""));
    assert_eq!(r.expand_all().unwrap().len(), n + 1);
}

#[test]
fn exponential_output_is_bounded() {
    let n = 40;
    let cands: Vec<Candidate> = (0..n)
        .map(|i| Candidate::new(format!("V{i}"), format!("#{{V{0}}}#{{V{0}}}", i + 1)))
        .chain(std::iter::once(Candidate::new(format!("V{n}"), "xy")))
        .collect();
    let r = resolve(&cands, &DeployContext::default());
    assert_eq!(
        r.get("V0").unwrap_err(),
        VariableError::TooLarge {
            limit: MAX_EXPANDED_LEN
        }
    );
}

#[test]
fn expand_all_is_sorted_and_expanded() {
    let r = vars(&[("b", "#{A}!"), ("A", "1"), ("C", "#{b}#{b}")]);
    let all = r.expand_all().unwrap();
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(got, [("A", "1"), ("b", "1!"), ("C", "1!1!")]);
}

#[test]
fn insert_overrides_and_adds() {
    let mut r = vars(&[("Out", "old"), ("Uses", "#{OUT}/#{Machine.Name}")]);
    r.insert(Candidate::new("out", "new"));
    r.insert(Candidate::new("Machine.Name", "web-1"));
    assert_eq!(r.get("Uses").unwrap().as_deref(), Some("new/web-1"));
    assert_eq!(r.raw("OUT").map(|v| v.name.as_str()), Some("Out"));
    r.insert(Candidate {
        sensitive: true,
        ..Candidate::new("Out", "s3cret")
    });
    assert_eq!(r.sensitive_values(), s(&["s3cret"]));
}

#[test]
fn sensitive_values_are_expanded_and_filtered() {
    let secret = |n: &str, v: &str| Candidate {
        sensitive: true,
        ..Candidate::new(n, v)
    };
    let cands = [
        Candidate::new("User", "admin"),
        secret("Pass", "pw-#{User}"),
        secret("Empty", ""),
        secret("Broken", "#{Nope}"),
        secret("Dup", "pw-admin"),
    ];
    let r = resolve(&cands, &DeployContext::default());
    assert_eq!(r.sensitive_values(), s(&["#{Nope}", "pw-admin"]));
    let all = r.expand_all();
    assert!(matches!(all, Err(VariableError::Missing { .. })));
}

#[test]
fn system_values_candidates() {
    let sys = SystemValues {
        project: Some("Shop".into()),
        release_number: Some("1.2.3".into()),
        release_notes: Some("uses #{Foo}".into()),
        environment: Some("Prod".into()),
        space: Some("Default".into()),
        channel: Some("Stable".into()),
        deployment_id: Some("d-1".into()),
        machine: None,
        tenant: Some("Acme".into()),
    };
    let cands = sys.candidates();
    let names: Vec<&str> = cands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Project.Name",
            "Release.Number",
            "Release.Notes",
            "Environment.Name",
            "Space.Name",
            "Channel.Name",
            "Deployment.Id",
            "Tenant.Name"
        ]
    );
    assert!(cands.iter().all(|c| c.scope.is_unscoped() && !c.sensitive));
    let r = resolve(&cands, &DeployContext::default());
    assert_eq!(
        r.substitute("#{Project.Name} #{release.number}: #{Release.Notes}")
            .unwrap(),
        "Shop 1.2.3: uses #{Foo}"
    );
    assert!(SystemValues::default().candidates().is_empty());
}
