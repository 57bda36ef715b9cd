//! What the runner trusts: a pin from outside the folder (the Space's signature checked with
//! the certificate the operator pins, or the manifest hash), and only the copies of the files
//! it read once.

use super::*;

fn script_step(name: &str, body: &str) -> PlannedStep {
    PlannedStep {
        step: step(
            name,
            StepAction::RunScript {
                syntax: ScriptSyntax::Bash,
                source: ScriptSource::Inline(body.into()),
            },
        ),
        variables: vec![],
        package: None,
    }
}

fn run_with(dir: &Path, opts: &RunOptions) -> (Result<RunResult, DropError>, String) {
    let mut out = Vec::new();
    let r = run_drop(
        dir,
        opts,
        &mut || Ok(SecretString::from("pw".to_string())),
        &mut out,
        &Cancel::new(),
    );
    (r, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn a_drop_runs_only_when_pinned_and_its_signature_is_the_pinned_spaces() {
    let fx = Fx::new();
    let plan = DropPlan {
        steps: vec![script_step("Hello", "echo hello from the drop")],
        ..fx.plan(false)
    };
    let w = fx.write(&plan, None);
    assert!(w.folder.join(SIGNATURE_FILE).is_file());

    // Nothing pins it: refused unless asked to run it unverified.
    let unpinned = RunOptions {
        unverified: false,
        ..pinned(fx.dir.path(), None)
    };
    let (r, _) = run_with(&w.folder, &unpinned);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("--space-fingerprint") && e.contains("nothing was run"),
        "{e}"
    );
    // Another Space's fingerprint: refused.
    let (r, _) = run_with(&w.folder, &pinned(fx.dir.path(), Some("sha256:0ther")));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not by the pinned sha256:0ther"), "{e}");
    // The pinned Space: runs.
    let (r, out) = run_with(&w.folder, &pinned(fx.dir.path(), Some(TEST_FP)));
    assert_eq!(r.unwrap().state, RunState::Success, "{out}");
    assert!(out.contains("signed by Space 'DevTest'"), "{out}");
}

#[test]
fn a_replaced_runner_with_a_rewritten_manifest_is_refused_before_any_password() {
    let fx = Fx::new();
    let w = fx.write(&fx.plan(true), Some("pw"));
    // Whoever carries the folder replaces the runner and rewrites the manifest to match.
    std::fs::write(
        w.folder.join(RUNNER_FILE),
        "#!/bin/sh\necho stolen > /tmp/pw\n",
    )
    .unwrap();
    let m = build_manifest(&w.folder).unwrap();
    std::fs::write(
        w.folder.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    verify(&w.folder).unwrap(); // the folder agrees with itself...
    let mut asked = false;
    let mut out = Vec::new();
    let r = run_drop(
        &w.folder,
        &pinned(fx.dir.path(), Some(TEST_FP)),
        &mut || {
            asked = true;
            Ok(SecretString::from("pw".to_string()))
        },
        &mut out,
        &Cancel::new(),
    );
    // ...but not with the Space's signature.
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not signed by the certificate"), "{e}");
    assert!(!asked, "the password is never asked for");
    // Without the signature file at all: refused too.
    std::fs::remove_file(w.folder.join(SIGNATURE_FILE)).unwrap();
    let (r, _) = run_with(&w.folder, &pinned(fx.dir.path(), Some(TEST_FP)));
    assert!(r.unwrap_err().to_string().contains("has no manifest.sig"));
}

/// The swap happens while the runner waits for the password (after the folder was checked,
/// before anything runs): the runner uses what it read and checked, not the folder.
#[test]
fn a_script_swapped_after_the_check_is_not_what_runs() {
    let fx = Fx::new();
    let out_dir = tempfile::tempdir().unwrap();
    let marker = out_dir.path().join("ran.txt");
    let mut only = script_step("Only", "echo original > \"$MARKER\"");
    only.variables
        .push(var("MARKER", &marker.display().to_string(), false));
    only.variables.push(var("Token", SECRET, true));
    let plan = DropPlan {
        steps: vec![only],
        ..fx.plan(false)
    };
    let w = fx.write(&plan, Some("pw"));
    let script = w.folder.join("scripts/Only.sh");
    let mut out = Vec::new();
    let r = run_drop(
        &w.folder,
        &pinned(fx.dir.path(), Some(TEST_FP)),
        &mut || {
            std::fs::write(&script, "echo swapped > \"$MARKER\"\n").unwrap();
            Ok(SecretString::from("pw".to_string()))
        },
        &mut out,
        &Cancel::new(),
    );
    let out = String::from_utf8_lossy(&out);
    assert_eq!(r.unwrap().state, RunState::Success, "{out}");
    let ran = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(
        ran.trim(),
        "original",
        "the copy checked before the run is what ran"
    );
}
