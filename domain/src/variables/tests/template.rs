//! Octostache templates: conditionals, loops, filters, indexers and JSON paths, calc, the
//! two modes, masking of filtered secrets, limits.

use super::template::{Mode, check};
use super::*;

fn vars(pairs: &[(&str, &str)]) -> Resolved {
    let cands: Vec<Candidate> = pairs.iter().map(|(n, v)| Candidate::new(*n, *v)).collect();
    resolve(&cands, &DeployContext::default())
}

fn eval(r: &Resolved, t: &str) -> String {
    r.substitute(t).unwrap_or_else(|e| panic!("{t}: {e}"))
}

#[test]
fn conditionals_follow_octostache_truthiness_and_comparisons() {
    let r = vars(&[
        ("Env", "Production"),
        ("On", "True"),
        ("Off", "False"),
        ("Zero", "0"),
        ("No", " no "),
        ("Empty", ""),
        ("Other", "Production"),
    ]);
    assert_eq!(eval(&r, "#{if On}yes#{/if}"), "yes");
    for f in ["Off", "Zero", "No", "Empty", "Missing"] {
        assert_eq!(
            eval(&r, &format!("#{{if {f}}}yes#{{else}}no#{{/if}}")),
            "no",
            "{f}"
        );
        assert_eq!(
            eval(&r, &format!("#{{unless {f}}}yes#{{/unless}}")),
            "yes",
            "{f}"
        );
    }
    assert_eq!(eval(&r, r#"#{if Env == "Production"}P#{else}N#{/if}"#), "P");
    assert_eq!(
        eval(&r, r#"#{if Env == "production"}P#{else}N#{/if}"#),
        "N",
        "case-sensitive"
    );
    assert_eq!(eval(&r, r#"#{if Env != "Test"}not test#{/if}"#), "not test");
    assert_eq!(eval(&r, "#{if Env == Other}same#{/if}"), "same");
    assert_eq!(eval(&r, r#"#{if Missing == ""}empty#{/if}"#), "empty");
    let chain = r#"#{if Env == "Test"}T#{elseif Env == "Production"}P#{else}O#{/if}"#;
    assert_eq!(eval(&r, chain), "P");
    let nested = "#{if On}a#{if Off}b#{else}c#{if Env}d#{/if}#{/if}e#{/if}";
    assert_eq!(eval(&r, nested), "acde");
    assert_eq!(
        eval(&r, r#"#{if Env | StartsWith "Prod"}prod-like#{/if}"#),
        "prod-like"
    );
}

#[test]
fn loops_go_over_lists_json_arrays_and_objects_with_helpers() {
    let r = vars(&[
        ("Servers", "web1, web2 ,web3"),
        (
            "Nodes",
            r#"[{"Host":"a","Port":80},{"Host":"b","Port":81}]"#,
        ),
        ("Limits", r#"{"cpu":"2","mem":"4Gi"}"#),
        ("Empty", ""),
        ("Sizes", "S,M"),
    ]);
    assert_eq!(
        eval(&r, "#{each s in Servers}[#{s}]#{/each}"),
        "[web1][ web2 ][web3]",
        "split on every comma, untrimmed, as Octostache does"
    );
    assert_eq!(
        eval(
            &r,
            "#{each n in Nodes}#{n.Host}:#{n.Port}#{unless Octopus.Template.Each.Last},#{/unless}#{/each}"
        ),
        "a:80,b:81"
    );
    assert_eq!(
        eval(&r, "#{each l in Limits}#{l.Key}=#{l.Value};#{/each}"),
        "cpu=2;mem=4Gi;"
    );
    assert_eq!(
        eval(
            &r,
            "#{each s in Servers}#{Octopus.Template.Each.Index}#{if Octopus.Template.Each.First}F#{/if}#{/each}"
        ),
        "0F12"
    );
    assert_eq!(
        eval(&r, "#{each s in Empty}x#{/each}"),
        "x",
        "one empty item"
    );
    assert_eq!(
        eval(&r, "#{each l in Limits}#{l},#{/each}"),
        "cpu,mem,",
        "an entry shows its key"
    );
    assert_eq!(
        eval(
            &r,
            "#{each a in Sizes}#{each b in Sizes}#{a}#{b} #{/each}#{/each}"
        ),
        "SS SM MS MM "
    );
    let e = r
        .substitute("#{each p in Nodes[0].Port}x#{/each}")
        .unwrap_err();
    assert!(matches!(e, VariableError::NotAList { .. }), "{e}");
}

#[test]
fn filters_chain_take_arguments_and_escape() {
    let r = vars(&[
        ("Url", "HTTPS://Example.COM/a b"),
        ("Name", "O'Brien \"Bob\" <b>&"),
        ("Path", "C:\\dir\nnext"),
        ("Text", "  hello world  "),
        ("Ver", "1.2.3"),
        ("N", "1234.5"),
        ("When", "2026-12-07T15:04:05Z"),
    ]);
    let cases = [
        ("#{Url | ToLower}", "https://example.com/a b"),
        ("#{Url | ToUpper | ToLower}", "https://example.com/a b"),
        (
            "#{Name | HtmlEscape}",
            "O&apos;Brien &quot;Bob&quot; &lt;b&gt;&amp;",
        ),
        (
            "#{Name | XmlEscape}",
            "O&apos;Brien &quot;Bob&quot; &lt;b&gt;&amp;",
        ),
        ("#{Path | JsonEscape}", "C:\\\\dir\\nnext"),
        ("#{Name | YamlSingleQuoteEscape}", "O''Brien \"Bob\" <b>&"),
        (
            "#{Name | YamlDoubleQuoteEscape}",
            "O'Brien \\\"Bob\\\" <b>&",
        ),
        ("#{Text | Trim}", "hello world"),
        ("#{Text | Trim end}", "  hello world"),
        ("#{Ver | Replace \"\\.\" \"-\"}", "1-2-3"),
        ("#{Ver | Replace \"(\\d)\\.(\\d)\" \"$2o$1\"}", "2o1.3"),
        (
            "#{Ver | Replace \"(?P<major>\\d)\" \"v${major}\"}",
            "v1.v2.v3",
        ),
        ("#{Url | Substring 5}", "HTTPS"),
        ("#{Url | Substring 8 7}", "Example"),
        ("#{Url | Truncate 5}", "HTTPS..."),
        ("#{Ver | ToBase64}", "MS4yLjM="),
        ("#{Ver | ToBase64 | FromBase64}", "1.2.3"),
        (
            "#{Url | UriDataEscape}",
            "HTTPS%3A%2F%2FExample.COM%2Fa%20b",
        ),
        ("#{Url | UriEscape}", "HTTPS://Example.COM/a%20b"),
        ("#{Ver | Append \"-rc\"}", "1.2.3-rc"),
        ("#{Ver | Prepend v}", "v1.2.3"),
        ("#{Ver | Match \"^1\\.\"}", "true"),
        ("#{Ver | StartsWith 2}", "false"),
        ("#{Ver | EndsWith .3}", "true"),
        ("#{Ver | Contains .2.}", "true"),
        ("#{N | Format N2}", "1,234.50"),
        ("#{N | Format \"0.000\"}", "1234.500"),
        ("#{N | Format F0}", "1234"),
        ("#{When | Format \"yyyy-MM-dd HH:mm\"}", "2026-12-07 15:04"),
        ("#{Path | PropertiesValueEscape}", "C:\\\\dir\\nnext"),
        ("#{Name | PropertiesKeyEscape}", "O'Brien\\ \"Bob\"\\ <b>&"),
    ];
    for (t, want) in cases {
        assert_eq!(eval(&r, t), want, "{t}");
    }
    assert_eq!(
        eval(&r, "#{ Url|tolower }"),
        "https://example.com/a b",
        "names case-insensitive"
    );
    assert_eq!(eval(&r, "#{ | NowDateUtc yyyy}").len(), 4);
    assert!(eval(&r, "#{ | NowDate}").starts_with("20"));
    let e = r.substitute("#{Ver | Replace \"(\"}").unwrap_err();
    assert!(matches!(e, VariableError::Filter { .. }), "{e}");
}

#[test]
fn indexers_and_json_paths_reach_into_values() {
    let r = vars(&[
        ("Region", "eu"),
        ("Settings[eu]", "eu-settings"),
        (
            "Config",
            r#"{"Database":{"Host":"db.local","Ports":[5432,5433]},"Flag":true}"#,
        ),
        ("Regions", r#"{"eu":"Frankfurt","us":"Virginia"}"#),
    ]);
    assert_eq!(eval(&r, "#{Settings[#{Region}]}"), "eu-settings");
    assert_eq!(eval(&r, "#{Config.Database.Host}"), "db.local");
    assert_eq!(eval(&r, "#{Config.Database.Ports[1]}"), "5433");
    assert_eq!(
        eval(&r, "#{Config.database.host}"),
        "",
        "JSON keys are case-sensitive"
    );
    assert_eq!(eval(&r, "#{Config.Flag}"), "True");
    assert_eq!(eval(&r, "#{Config.Database.Ports}"), "[5432,5433]");
    assert_eq!(eval(&r, "#{Regions[#{Region}]}"), "Frankfurt");
    assert_eq!(
        eval(&r, "#{Config.Nope}[#{Config.Database.Ports[9]}]"),
        "[]",
        "empty, not missing"
    );
}

#[test]
fn calc_does_arithmetic_over_variables() {
    let r = vars(&[("A", "6"), ("B", "4"), ("Word", "x")]);
    assert_eq!(eval(&r, "#{calc A * (B + 1)}"), "30");
    assert_eq!(eval(&r, "#{calc A / B}"), "1.5");
    assert_eq!(eval(&r, "#{calc -A + 10 % 4}"), "-4");
    assert!(r.substitute("#{calc Word + 1}").is_err());
    assert!(r.substitute("#{calc A / 0}").is_err());
}

#[test]
fn compatible_mode_echoes_what_it_cannot_do_and_strict_mode_names_it() {
    let r = vars(&[("A", "1")]);
    let compat = |t: &str| r.evaluate(t, Mode::Compatible).unwrap();
    let e = compat("x #{Missing} #{Missing | ToUpper} #{A} y");
    assert_eq!(e.text, "x #{Missing} #{Missing | ToUpper} 1 y");
    let rebuilt = compat("#{ Missing|ToUpper } #{M | Replace a b} #{A | Shout}");
    assert_eq!(
        rebuilt.text, "#{Missing | ToUpper} #{M | Replace \"a\" \"b\"} #{A | Shout}",
        "rebuilt"
    );
    assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    let broken = "a #{if A}never closed #{A}";
    let e = compat(broken);
    assert_eq!(
        e.text, broken,
        "a template that does not parse is left as it is"
    );
    assert!(
        e.warnings[0].contains("line 1, column 3"),
        "{:?}",
        e.warnings
    );
    assert_eq!(compat("#{each x in Nope}y#{/each}").text, "");

    let err = r.substitute("line\n  #{if A}\n#{each s in A}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "template error at line 3, column 1: #{each} is not closed: add #{/each}"
    );
    for (t, want) in [
        ("#{else}", "no opening"),
        ("#{if A}x#{/each}", "expected #{/if}"),
        ("#{A | Shout}", "unknown filter 'Shout'"),
        ("#{each x of A}#{/each}", "each item in List"),
        ("#{if A == \"x\" == B}#{/if}", "two values at most"),
    ] {
        let e = check(t).unwrap_err().to_string();
        assert!(e.contains(want), "{t}: {e}");
    }
    assert!(check("#{if A}#{A | ToUpper}#{/if}").is_ok());
}

#[test]
fn the_mode_comes_from_the_variables() {
    assert_eq!(vars(&[]).template_mode(), Mode::Strict);
    assert_eq!(
        vars(&[("Deploy.Template.Mode", "Compatible")]).template_mode(),
        Mode::Compatible
    );
    let octopus = [(
        "Octopus.Action.Package.IgnoreVariableReplacementErrors",
        "True",
    )];
    assert_eq!(vars(&octopus).template_mode(), Mode::Compatible);
}

#[test]
fn a_filtered_secret_is_a_secret_too() {
    let cands = vec![
        Candidate {
            sensitive: true,
            ..Candidate::new("Pw", "hunter2")
        },
        Candidate::new("Conn", "pw=#{Pw | ToUpper}"),
    ];
    let r = resolve(&cands, &DeployContext::default());
    let e = r
        .evaluate("#{Pw | ToUpper} #{Pw | ToBase64} #{Conn}", Mode::Strict)
        .unwrap();
    assert_eq!(e.text, "HUNTER2 aHVudGVyMg== pw=HUNTER2");
    assert_eq!(
        e.derived_secrets,
        vec!["HUNTER2".to_string(), "aHVudGVyMg==".to_string()]
    );
    let masked = mask(&e.text, &[r.sensitive_values(), e.derived_secrets].concat());
    assert!(
        !masked.contains("HUNTER2") && !masked.contains("aHVudGVyMg"),
        "{masked}"
    );
}

#[test]
fn loops_and_output_are_bounded() {
    let list = vec!["x"; 3000].join(",");
    let r = vars(&[("L", list.as_str())]);
    let e = r
        .substitute("#{each a in L}#{each b in L}.#{/each}#{/each}")
        .unwrap_err();
    assert!(matches!(e, VariableError::TooManySteps { .. }), "{e}");
    let big = "y".repeat(1 << 20);
    let r = vars(&[("Big", big.as_str()), ("L", &vec!["x"; 20].join(","))]);
    let e = r.substitute("#{each a in L}#{Big | ToUpper}#{Big}#{/each}");
    assert!(matches!(e, Err(VariableError::TooLarge { .. })), "{e:?}");
}

#[test]
fn octostache_details_indexed_loops_names_calc_braces_and_filter_arguments() {
    let r = vars(&[
        ("Octopus.Action[Package A].Name", "A"),
        ("Octopus.Action[Package B].Name", "B"),
        ("Octopus.Step[Deploy (Web)/API].Status", "Success"),
        ("a/b", "slash"),
        ("@type", "at"),
        ("B", "7"),
        ("my-var", "3"),
        ("Foo", "test text"),
        ("Baz", "Baz"),
        ("When", "2030/05/22 09:05:00"),
        ("Multi", "a\nb"),
        ("Wide", "我"),
    ]);
    assert_eq!(
        eval(&r, "#{each a in Octopus.Action}#{a}-#{a.Name};#{/each}"),
        "Package A-A;Package B-B;"
    );
    assert_eq!(
        eval(&r, "#{Octopus.Step[Deploy (Web)/API].Status}"),
        "Success"
    );
    assert_eq!(eval(&r, "#{a/b} #{@type}"), "slash at");
    assert_eq!(eval(&r, "#{calc {B}-2} #{calc {my-var} * B}"), "5 21");
    assert_eq!(
        eval(&r, r#"#{IF Foo == \"test text\"}yes#{/if}"#),
        "yes",
        "escaped quotes, any-case if"
    );
    let cases = [
        ("#{Baz | Append x y}", "Bazxy"),
        ("#{Baz | Truncate 1 \"~\"}", "B~"),
        ("#{Baz | Truncate 1 \"\"}", "B"),
        ("#{Baz | ToBase64 unicode}", "QgBhAHoA"),
        ("#{Baz | ToBase64 unicode | FromBase64 unicode}", "Baz"),
        ("#{When | Format Date \"yyyy MMM dd\"}", "2030 May 22"),
        ("#{B | Format Int \"000\"}", "007"),
        ("#{Multi | YamlSingleQuoteEscape}", "a\n\nb"),
        ("#{Wide | YamlDoubleQuoteEscape}", "\\u6211"),
        ("#{Wide | PropertiesValueEscape}", "\\u6211"),
    ];
    for (t, want) in cases {
        assert_eq!(eval(&r, t), want, "{t}");
    }
    assert!(eval(&r, "#{ | NowDateUtc}").ends_with('Z'));
    for t in [
        "#{Baz | ToUpper x}",
        "#{Baz | Substring 9 1}",
        "#{Baz | Match}",
    ] {
        assert!(
            matches!(r.substitute(t), Err(VariableError::Filter { .. })),
            "{t}"
        );
        let e = r.evaluate(t, Mode::Compatible).unwrap();
        assert!(e.text.starts_with("#{Baz | "), "{t}: echoed: {}", e.text);
    }
}
