//! Unit tests for scope matching, specificity, system values and masking.

use super::*;
use crate::model::Scope;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A scope from `(dimension, values)` pairs; dimensions: env, role, target, step, channel, tenant.
fn scope(dims: &[(&str, &[&str])]) -> Scope {
    let mut sc = Scope::default();
    for (dim, values) in dims {
        let list = match *dim {
            "env" => &mut sc.environments,
            "role" => &mut sc.roles,
            "target" => &mut sc.targets,
            "step" => &mut sc.steps,
            "channel" => &mut sc.channels,
            "tenant" => &mut sc.tenants,
            other => panic!("unknown dimension {other}"),
        };
        *list = s(values);
    }
    sc
}

fn scoped(name: &str, value: &str, dims: &[(&str, &[&str])]) -> Candidate {
    Candidate {
        scope: scope(dims),
        ..Candidate::new(name, value)
    }
}

fn full_ctx() -> DeployContext {
    DeployContext {
        environment: Some("Prod".into()),
        target: Some("web-1".into()),
        roles: s(&["web", "api"]),
        step: Some("Deploy".into()),
        channel: Some("Stable".into()),
        tenant: Some("Acme".into()),
    }
}

fn pick(cands: &[Candidate]) -> Option<String> {
    resolve(cands, &full_ctx()).get("X").unwrap()
}

#[test]
fn each_dimension_matches_case_insensitively() {
    let ctx = full_ctx();
    for (dim, value) in [
        ("env", "PROD"),
        ("target", "Web-1"),
        ("step", "deploy"),
        ("channel", "stable"),
        ("tenant", "ACME"),
        ("role", "API"),
    ] {
        assert!(matches(&scope(&[(dim, &[value])]), &ctx), "{dim}");
        assert!(!matches(&scope(&[(dim, &["other"])]), &ctx), "{dim}");
        assert!(matches(&scope(&[(dim, &["other", value])]), &ctx), "{dim}");
    }
    assert!(matches(&Scope::default(), &DeployContext::default()));
}

#[test]
fn all_scoped_dimensions_must_match() {
    let ctx = full_ctx();
    assert!(matches(
        &scope(&[("env", &["Prod"]), ("role", &["web"])]),
        &ctx
    ));
    assert!(!matches(
        &scope(&[("env", &["Prod"]), ("role", &["db"])]),
        &ctx
    ));
}

#[test]
fn roles_match_by_intersection() {
    let ctx = full_ctx();
    assert!(matches(&scope(&[("role", &["db", "web"])]), &ctx));
    assert!(!matches(&scope(&[("role", &["db", "cache"])]), &ctx));
    let no_roles = DeployContext::default();
    assert!(!matches(&scope(&[("role", &["web"])]), &no_roles));
}

#[test]
fn scoped_dimension_absent_from_context_does_not_match() {
    let ctx = DeployContext {
        environment: Some("Prod".into()),
        ..Default::default()
    };
    for dim in ["target", "step", "channel", "tenant", "role"] {
        assert!(!matches(&scope(&[(dim, &["x"])]), &ctx), "{dim}");
    }
    let cands = [scoped("X", "t", &[("target", &["web-1"])])];
    assert_eq!(resolve(&cands, &ctx).get("X").unwrap(), None);
}

#[test]
fn non_matching_candidates_are_ignored() {
    let cands = [
        Candidate::new("X", "default"),
        scoped("X", "test", &[("env", &["Test"])]),
    ];
    assert_eq!(pick(&cands).as_deref(), Some("default"));
}

#[test]
fn scoped_beats_unscoped_regardless_of_order() {
    for dim in ["env", "role", "target", "step", "channel", "tenant"] {
        let value: &[&str] = match dim {
            "env" => &["Prod"],
            "role" => &["web"],
            "target" => &["web-1"],
            "step" => &["Deploy"],
            "channel" => &["Stable"],
            _ => &["Acme"],
        };
        let a = [
            scoped("X", "scoped", &[(dim, value)]),
            Candidate::new("X", "any"),
        ];
        let b = [
            Candidate::new("X", "any"),
            scoped("X", "scoped", &[(dim, value)]),
        ];
        assert_eq!(pick(&a).as_deref(), Some("scoped"), "{dim}");
        assert_eq!(pick(&b).as_deref(), Some("scoped"), "{dim}");
    }
}

#[test]
fn each_tie_break_pair_in_rank_order() {
    // Higher-ranked first: step > target > role > tenant > environment > channel.
    let dims: [(&str, &[&str]); 6] = [
        ("step", &["Deploy"]),
        ("target", &["web-1"]),
        ("role", &["web"]),
        ("tenant", &["Acme"]),
        ("env", &["Prod"]),
        ("channel", &["Stable"]),
    ];
    for (i, hi) in dims.iter().enumerate() {
        for lo in &dims[i + 1..] {
            let a = [scoped("X", "hi", &[*hi]), scoped("X", "lo", &[*lo])];
            let b = [scoped("X", "lo", &[*lo]), scoped("X", "hi", &[*hi])];
            assert_eq!(pick(&a).as_deref(), Some("hi"), "{} vs {}", hi.0, lo.0);
            assert_eq!(pick(&b).as_deref(), Some("hi"), "{} vs {}", hi.0, lo.0);
            assert!(specificity(&scope(&[*hi])) > specificity(&scope(&[*lo])));
        }
    }
}

#[test]
fn more_dimensions_beat_higher_rank() {
    let two_low = scoped("X", "two", &[("env", &["Prod"]), ("channel", &["Stable"])]);
    let one_high = scoped("X", "one", &[("step", &["Deploy"])]);
    assert_eq!(
        pick(&[two_low.clone(), one_high.clone()]).as_deref(),
        Some("two")
    );
    assert_eq!(pick(&[one_high, two_low]).as_deref(), Some("two"));
}

#[test]
fn equal_dimension_counts_compare_as_ranked_bitmask() {
    // step+channel beats target+role: the highest differing dimension decides.
    let a = scoped(
        "X",
        "step+channel",
        &[("step", &["Deploy"]), ("channel", &["Stable"])],
    );
    let b = scoped(
        "X",
        "target+role",
        &[("target", &["web-1"]), ("role", &["web"])],
    );
    assert_eq!(
        pick(&[a.clone(), b.clone()]).as_deref(),
        Some("step+channel")
    );
    assert_eq!(pick(&[b, a]).as_deref(), Some("step+channel"));
}

#[test]
fn equal_specificity_later_candidate_wins() {
    let a = scoped("X", "first", &[("env", &["Prod"])]);
    let b = scoped("X", "second", &[("env", &["prod", "Test"])]);
    assert_eq!(pick(&[a.clone(), b.clone()]).as_deref(), Some("second"));
    assert_eq!(pick(&[b, a]).as_deref(), Some("first"));
    let u = [Candidate::new("X", "1"), Candidate::new("x", "2")];
    assert_eq!(pick(&u).as_deref(), Some("2"));
}

#[test]
fn names_are_case_insensitive_and_keep_first_spelling() {
    let cands = [
        scoped("Db.Password", "unmatched", &[("env", &["Test"])]),
        Candidate::new("DB.PASSWORD", "p"),
        Candidate::new("Greeting", "pw=#{db.password}"),
    ];
    let r = resolve(&cands, &full_ctx());
    assert_eq!(r.get("db.password").unwrap().as_deref(), Some("p"));
    assert_eq!(r.get("GREETING").unwrap().as_deref(), Some("pw=p"));
    assert_eq!(
        r.raw("db.PASSWORD").map(|v| v.name.as_str()),
        Some("Db.Password")
    );
    assert_eq!(r.get("nope").unwrap(), None);
    assert_eq!(r.len(), 2);
}

#[test]
fn mask_replaces_secrets() {
    let m = |text: &str, secrets: &[&str]| mask(text, &s(secrets));
    assert_eq!(
        m("user=bob pass=hunter2", &["hunter2"]),
        "user=bob pass=********"
    );
    assert_eq!(
        m("a hunter2 b hunter2", &["hunter2"]),
        "a ******** b ********"
    );
    assert_eq!(m("nothing", &[]), "nothing");
    assert_eq!(m("nothing", &[""]), "nothing");
    // Longest first: "password" is not left as "********word".
    assert_eq!(m("password", &["pass", "password"]), "********");
    assert_eq!(
        m("pass password", &["pass", "password"]),
        "******** ********"
    );
    assert_eq!(m("é-ünïcode-é", &["ünï"]), "é-********code-é");
}

#[test]
fn mask_overlapping_secrets() {
    let m = |text: &str, secrets: &[&str]| mask(text, &s(secrets));
    assert_eq!(m("xabcdefx", &["abcd", "cdef"]), "x********x");
    assert_eq!(m("xabcdefx", &["cdef", "abcd"]), "x********x");
    // Self-overlapping occurrences are covered entirely.
    assert_eq!(m("aaaaa", &["aaa"]), "********");
    // Nested secret inside a longer one.
    assert_eq!(m("xsecretx", &["secret", "cre"]), "x********x");
    // Masks do not create new matches.
    assert_eq!(m("ab", &["ab", "**"]), "********");
}

/// A multi-line secret (a PEM key, a JSON document) is hidden in whatever line of output
/// carries a piece of it, as a whole, escaped as JSON, or base64-encoded.
#[test]
fn mask_hides_every_line_and_the_common_encodings_of_a_multi_line_secret() {
    let key = "-----BEGIN KEY-----\r\nMIIEvQIBADANBgkq\r\n  hkiG9w0BAQEFAASC\n}\n-----END KEY-----";
    let m = |text: &str| mask(text, &s(&[key]));
    for line in key.lines() {
        let masked = m(&format!("log: {line}"));
        assert!(
            !masked.contains(line.trim()) || line.trim().chars().count() < 4,
            "{masked}"
        );
    }
    assert_eq!(m("log: MIIEvQIBADANBgkq"), "log: ********");
    assert_eq!(m("   hkiG9w0BAQEFAASC   "), "   ********   ");
    assert_eq!(
        m("a } b"),
        "a } b",
        "a one-character line is not a secret on its own"
    );
    assert_eq!(m(&format!("whole: {key}")), "whole: ********");
    let json = serde_json::to_string(key).unwrap();
    assert_eq!(m(&format!("{{\"k\":{json}}}")), "{\"k\":\"********\"}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(m(&b64.encode(key)), "********");
    assert_eq!(m(&b64.encode(format!("{key}\n"))), "********");
    // Short single-line secrets are still hidden whole (and not by their base64 alone).
    assert_eq!(mask("pw=abc", &s(&["abc"])), "pw=********");
}
