//! Tests of script steps: exit codes, interpreters, environment, output variables, masking,
//! strict substitution, cancellation.

use std::time::{Duration, Instant};

use super::testutil::*;
use super::*;
use domain::model::{ScriptSource, ScriptSyntax};

fn run_inline(
    syntax: ScriptSyntax,
    body: &str,
    v: Resolved,
) -> (StepOutcome, Vec<(LogStream, String)>, Fixture) {
    let fx = Fixture::new(None);
    let (out, log) = fx.run(&job(inline(syntax, body), None, v));
    (out, log, fx)
}

#[test]
fn inline_bash_exit_codes() {
    let (out, log, fx) = run_inline(
        ScriptSyntax::Bash,
        "echo hi #{Who}\nexit 0",
        vars(&[("Who", "there", false)]),
    );
    assert!(out.success, "{log:?}");
    assert_eq!(out.exit_code, Some(0));
    assert!(out.error.is_none() && out.installed_to.is_none());
    assert_eq!(lines(&log, LogStream::Stdout), vec!["hi there".to_string()]);
    assert_eq!(fx.tmp_entries(), 0, "temporary script directory removed");

    let (out, _, _) = run_inline(ScriptSyntax::Bash, "echo failing\nexit 3", vars(&[]));
    assert!(!out.success);
    assert_eq!(out.exit_code, Some(3));
    let err = out.error.unwrap();
    assert!(err.contains("exit code 3"), "{err}");
}

#[test]
fn sh_and_python3_scripts() {
    let (out, log, _) = run_inline(
        ScriptSyntax::Sh,
        "echo \"sh:$Greeting\"",
        vars(&[("Greeting", "hey", false)]),
    );
    assert!(out.success);
    assert_eq!(lines(&log, LogStream::Stdout), vec!["sh:hey".to_string()]);

    let body = "import os, sys\nprint('py:' + os.environ['Release_Number'] + ':#{Release.Number}')\nprint('oops', file=sys.stderr)\nsys.exit(2)\n";
    let (out, log, _) = run_inline(
        ScriptSyntax::Python3,
        body,
        vars(&[("Release.Number", "4.5", false)]),
    );
    assert!(!out.success);
    assert_eq!(out.exit_code, Some(2));
    assert_eq!(
        lines(&log, LogStream::Stdout),
        vec!["py:4.5:4.5".to_string()]
    );
    assert_eq!(lines(&log, LogStream::Stderr), vec!["oops".to_string()]);
}

#[test]
fn environment_names_are_shell_safe() {
    let v = vars(&[
        ("Output.Step 1.X", "out-x", false),
        ("Composite", "#{Greeting}-world", false),
        ("Greeting", "hello", false),
        ("Broken", "#{Undefined}", false),
    ]);
    let body = "echo \"$Output_Step_1_X|$Composite|$DEPLOY_STEP|$DEPLOY_DEPLOYMENT_ID|$DEPLOY_ENVIRONMENT|${Broken-unset}\"";
    let (out, log, _) = run_inline(ScriptSyntax::Bash, body, v);
    assert!(out.success, "{log:?}");
    assert_eq!(
        lines(&log, LogStream::Stdout),
        vec!["out-x|hello-world|Deploy web|Deployments-7|Production|unset".to_string()]
    );
    let warns = lines(&log, LogStream::Warn);
    assert!(warns.iter().any(|w| w.contains("'Broken'")), "{warns:?}");
}

#[test]
fn output_variables_plain_base64_and_sensitive() {
    let body = r###"
echo "##deploy[setVariable name='Plain' value='it\'s here']"
echo "##deploy[setVariable name64='RW5jb2RlZA==' value64='ZGVjb2RlZCB2YWx1ZQ==']"
echo "  ##deploy[setVariable name='Token' value='tok-98765' sensitive='true']"
echo "the token is tok-98765"
echo "##deploy[setVariable name='Bad' value='x' colour='red']"
echo "##deploy[setVariable name='Plain' value='second']"
"###;
    let (out, log, _) = run_inline(ScriptSyntax::Bash, body, vars(&[]));
    assert!(out.success, "{log:?}");
    let ov = |n: &str, v: &str, s: bool| OutputVariable {
        name: n.into(),
        value: v.into(),
        sensitive: s,
    };
    assert_eq!(
        out.output_variables,
        vec![
            ov("Encoded", "decoded value", false),
            ov("Token", "tok-98765", true),
            ov("Plain", "second", false),
        ]
    );
    let info = lines(&log, LogStream::Info);
    assert!(info.contains(&"output variable 'Plain' set to 'it's here'".to_string()));
    assert!(info.contains(&"output variable 'Token' set to '********'".to_string()));
    assert!(lines(&log, LogStream::Stdout).contains(&"the token is ********".to_string()));
    assert!(!logged(&log, "tok-98765"));
    assert!(!logged(&log, "##deploy["));
    let warns = lines(&log, LogStream::Warn);
    assert!(
        warns
            .iter()
            .any(|w| w.contains("malformed service message") && w.contains("colour"))
    );
}

#[test]
fn sensitive_variable_echoed_is_masked() {
    let v = vars(&[
        ("Db.Password", "p@ss-w0rd", true),
        ("Conn", "db;pw=#{Db.Password}", false),
    ]);
    let body = "echo \"pw=$Db_Password\"\necho \"conn=$Conn\" >&2\necho '#{Db.Password}'\nexit 1";
    let (out, log, _) = run_inline(ScriptSyntax::Bash, body, v);
    assert!(!out.success);
    assert_eq!(
        lines(&log, LogStream::Stdout),
        vec!["pw=********".to_string(), "********".to_string()]
    );
    assert_eq!(
        lines(&log, LogStream::Stderr),
        vec!["conn=db;pw=********".to_string()]
    );
    assert!(!logged(&log, "p@ss-w0rd"));
    assert!(!out.error.unwrap().contains("p@ss-w0rd"));
}

#[test]
fn strict_substitution_error_names_the_variable() {
    let (out, log, fx) = run_inline(
        ScriptSyntax::Bash,
        "echo started\necho #{Not.Defined}",
        vars(&[]),
    );
    assert!(!out.success);
    assert_eq!(out.exit_code, None);
    let err = out.error.unwrap();
    assert!(
        err.contains("Not.Defined") && err.contains("inline script"),
        "{err}"
    );
    assert!(!logged(&log, "started"));
    assert_eq!(fx.tmp_entries(), 0);
}

#[test]
fn cancel_kills_the_process_group_quickly() {
    let fx = Fixture::new(None);
    let pid_file = fx.path("bg.pid");
    let body = format!(
        "sleep 30 &\necho $! > '{}'\necho started\nsleep 30\n",
        pid_file.display()
    );
    let j = job(inline(ScriptSyntax::Bash, &body), None, vars(&[]));
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        c2.cancel();
    });
    let start = Instant::now();
    let mut log = Vec::new();
    let out = run_step(&j, &fx.cfg, &mut log, &cancel);
    let took = start.elapsed();
    canceller.join().unwrap();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(!out.success);
    assert!(out.error.unwrap().contains("cancelled"));
    assert!(logged(&log, "started"));
    // The background sleep (same process group) is gone too.
    let pid = read(&pid_file).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let dead = stat.is_empty()
            || stat
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'));
        if dead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "background process {pid} survived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Already cancelled: nothing runs.
    let mut log = Vec::new();
    let j = job(inline(ScriptSyntax::Bash, "echo no"), None, vars(&[]));
    let out = run_step(&j, &fx.cfg, &mut log, &cancel);
    assert!(!out.success && !logged(&log, "no"));
}

#[test]
fn spawn_failure_is_a_clear_error() {
    let (out, _, _) = run_inline(
        ScriptSyntax::Python3,
        "print(1)",
        vars(&[("PATH", "/nonexistent", false)]),
    );
    assert!(!out.success);
    assert_eq!(out.exit_code, None);
    let err = out.error.unwrap();
    assert!(
        err.contains("'python3' is not installed or not on PATH"),
        "{err}"
    );
}

#[test]
fn script_from_package_runs_as_is_and_is_cleaned_up() {
    let fx = Fixture::new(None);
    let pkg = fx.package(
        "Acme.Tools",
        "3.1.0",
        &[
            (
                "scripts/run.sh",
                "echo \"run:$Who:#{Who}:$(cat ../data.txt)\"\n",
                0o644,
            ),
            ("data.txt", "payload", 0o644),
        ],
    );
    let action = |path: &str| StepAction::RunScript {
        syntax: ScriptSyntax::Bash,
        source: ScriptSource::Package {
            package_id: "Acme.Tools".into(),
            path: path.into(),
        },
    };
    let v = vars(&[("Who", "me", false)]);
    let (out, log) = fx.run(&job(action("scripts/run.sh"), Some(pkg.clone()), v.clone()));
    assert!(out.success, "{log:?}");
    // Not substituted; cwd is the package root, so ../data.txt is outside it.
    assert!(lines(&log, LogStream::Stdout)[0].starts_with("run:me:#{Who}:"));
    assert_eq!(fx.tmp_entries(), 0);
    assert!(fx.journal().is_empty());

    let (out, _) = fx.run(&job(action("../etc/passwd"), Some(pkg.clone()), v.clone()));
    assert!(out.error.unwrap().contains("must be relative"));
    let (out, _) = fx.run(&job(action("scripts/missing.sh"), Some(pkg), v));
    assert!(
        out.error
            .unwrap()
            .contains("'scripts/missing.sh' is not a file in package Acme.Tools 3.1.0")
    );
    assert_eq!(fx.tmp_entries(), 0);
}
