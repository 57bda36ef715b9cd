//! Unit tests: naming, writer layout, manifest verification, age round trip, the runner's
//! step sequencing with output variables, and the result file.

use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;
use crate::Cancel;
use domain::model::StepVariable;
use domain::model::{RunState, ScriptSource, ScriptSyntax, Step, StepAction};
use package_store::{ArchiveFormat, ChunkStore, PackageManifest, ingest};

const SECRET: &str = "Pa55-w0rd-sekrit";

/// A stand-in for the Space's signing key (the real ECDSA one is tested in `net` and end to
/// end): the signature is SHA-256 over a key and the message.
const TEST_KEY: &str = "test-signing-key";
pub(super) const TEST_FP: &str = "sha256:7e57";

fn test_sign(m: &[u8]) -> Result<Vec<u8>, String> {
    Ok(sha256_hex(&[TEST_KEY.as_bytes(), m].concat()).into_bytes())
}

fn test_check(cert: &str, m: &[u8], sig: &[u8]) -> Result<String, String> {
    if cert != "TEST CERTIFICATE" || test_sign(m)? != sig {
        return Err("the signature does not match the certificate".into());
    }
    Ok(TEST_FP.into())
}

pub(super) fn signer() -> DropSigner<'static> {
    DropSigner {
        space: "DevTest".into(),
        certificate_pem: "TEST CERTIFICATE".into(),
        fingerprint: TEST_FP.into(),
        sign: &test_sign,
    }
}

/// Runner options pinning the drop by signature (`None`: nothing pins it, run unverified).
pub(super) fn pinned(fx_dir: &Path, fingerprint: Option<&str>) -> RunOptions {
    RunOptions {
        applications_dir: Some(fx_dir.join("apps")),
        working_dir: Some(fx_dir.join("work")),
        expect_manifest: None,
        space_fingerprint: fingerprint.map(Into::into),
        check_signature: Some(test_check),
        unverified: fingerprint.is_none(),
    }
}

fn tar_gz(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn var(name: &str, value: &str, sensitive: bool) -> StepVariable {
    StepVariable {
        name: name.into(),
        value: value.into(),
        sensitive,
    }
}

fn step(name: &str, action: StepAction) -> Step {
    Step {
        name: name.into(),
        environments: vec![],
        roles: vec![],
        channels: vec![],
        action,
    }
}

struct Fx {
    dir: tempfile::TempDir,
    chunks: ChunkStore,
    runner: std::path::PathBuf,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chunks = ChunkStore::open(dir.path().join("chunks")).unwrap();
        let runner = dir.path().join("runner-bin");
        std::fs::write(&runner, b"#!/bin/sh\necho runner\n").unwrap();
        Fx {
            dir,
            chunks,
            runner,
        }
    }

    fn package(&self) -> PackageManifest {
        let bytes = tar_gz(&[
            ("app.conf", "url=#{Url}\nkey=#{ApiKey}\n", 0o644),
            (
                "Deploy.sh",
                "#!/bin/sh\necho \"deploying for $Url\"\necho \"##deploy[setVariable name='Port' value='8080']\"\n",
                0o755,
            ),
        ]);
        let i = ingest(&self.chunks, &bytes[..]).unwrap();
        PackageManifest {
            id: "Acme.Web".into(),
            version: "1.0.0".into(),
            size: i.size,
            sha256: i.sha256,
            format: ArchiveFormat::TarGz,
            chunks: i.chunks,
            uploaded_at: 0,
        }
    }

    /// A package step, then a script step that reads the package step's output variable.
    fn plan(&self, sensitive: bool) -> DropPlan {
        let mut vars = vec![var("Url", "http://prod.local", false)];
        if sensitive {
            vars.push(var("ApiKey", SECRET, true));
        } else {
            vars.push(var("ApiKey", "public", false));
        }
        DropPlan {
            space: "Prod".into(),
            deployment_id: "Deployments-7".into(),
            project: "Acme".into(),
            release: "1.0.0".into(),
            environment: "Production".into(),
            channel: "Default".into(),
            target: "Prod Drop".into(),
            applications_dir: "/nonexistent/apps".into(),
            working_dir: "/nonexistent/work".into(),
            created_at: 1,
            tenant: None,
            steps: vec![
                PlannedStep {
                    step: step(
                        "Web",
                        StepAction::DeployPackage {
                            package_id: "Acme.Web".into(),
                            substitute_files: vec!["*.conf".into()],
                            structured_files: vec![],
                        },
                    ),
                    variables: vars.clone(),
                    package: Some(self.package()),
                },
                PlannedStep {
                    step: step(
                        "Smoke/Test",
                        StepAction::RunScript {
                            syntax: ScriptSyntax::Bash,
                            source: ScriptSource::Inline(
                                "echo \"port #{Output.Web.Port} key $ApiKey\" > \"$OUT_FILE\"; echo \"key is $ApiKey\"".into(),
                            ),
                        },
                    ),
                    variables: {
                        let mut v = vars;
                        v.push(var("OUT_FILE", "#{Env}/smoke.txt", false));
                        v
                    },
                    package: None,
                },
            ],
        }
    }

    fn write(&self, plan: &DropPlan, pw: Option<&str>) -> Written {
        let pw = pw.map(|p| SecretString::from(p.to_string()));
        write_drop(
            plan,
            &self.dir.path().join("drops"),
            &self.runner,
            pw.as_ref(),
            &self.chunks,
            &signer(),
        )
        .unwrap()
    }

    fn run(&self, dir: &Path, pw: &str) -> (Result<RunResult, DropError>, String) {
        self.run_expecting(dir, pw, None)
    }

    fn run_expecting(
        &self,
        dir: &Path,
        pw: &str,
        expect_manifest: Option<String>,
    ) -> (Result<RunResult, DropError>, String) {
        let mut out = Vec::new();
        let r = run_drop(
            dir,
            &RunOptions {
                unverified: expect_manifest.is_none(),
                expect_manifest,
                ..pinned(self.dir.path(), None)
            },
            &mut || Ok(SecretString::from(pw.to_string())),
            &mut out,
            &Cancel::new(),
        );
        (r, String::from_utf8_lossy(&out).into_owned())
    }
}

fn with_env(mut plan: DropPlan, env_dir: &Path) -> DropPlan {
    for s in &mut plan.steps {
        s.variables
            .push(var("Env", &env_dir.display().to_string(), false));
    }
    plan
}

#[test]
fn names_follow_the_convention_and_are_file_safe() {
    assert_eq!(
        drop_name("AcmeProductionDrop", "Acme.Web", "Deployments-1"),
        "AcmeProductionDrop.Acme.Web.Deployments-1"
    );
    assert_eq!(file_safe("../a/b:c"), "_._a_b_c");
    assert_eq!(file_safe(""), "_");
    assert_eq!(
        variables_file_name("T", "P", "Step 1"),
        "T.P.Step 1.variables.json"
    );
    let m = PackageManifest {
        id: "Acme.Web".into(),
        version: "3.0.298".into(),
        size: 1,
        sha256: "b47863cde8e3f24e95873f4b59fe990e00112233445566778899aabbccddeeff".into(),
        format: ArchiveFormat::Nupkg,
        chunks: vec![],
        uploaded_at: 0,
    };
    assert_eq!(
        package_file_name(&m),
        "Acme.Web.3.0.298_B47863CDE8E3F24E95873F4B59FE990E.nupkg"
    );
}

#[test]
fn age_round_trip_and_wrong_password() {
    let pw = SecretString::from("correct horse".to_string());
    let c = encrypt(b"hello", &pw).unwrap();
    assert!(!String::from_utf8_lossy(&c).contains("hello"));
    assert!(String::from_utf8_lossy(&c).contains("scrypt"));
    assert_eq!(decrypt(&c, &pw).unwrap(), b"hello");
    let wrong = SecretString::from("battery staple".to_string());
    assert!(matches!(decrypt(&c, &wrong), Err(DropError::WrongPassword)));
}

#[test]
fn writer_lays_out_the_drop_and_keeps_secrets_encrypted() {
    let fx = Fx::new();
    let w = fx.write(&fx.plan(true), Some("pw"));
    let name = "Prod Drop.Acme.Deployments-7";
    assert_eq!(w.folder, fx.dir.path().join("drops").join(name));
    let m = build_manifest(&w.folder).unwrap();
    let paths: Vec<&str> = m.files.iter().map(|e| e.path.as_str()).collect();
    let pkg = format!("packages/{}", package_file_name(&fx.package()));
    for p in [
        "deploy",
        "drop.json",
        "sensitive-variables.age",
        "scripts/Smoke_Test.sh",
        "Prod Drop.Acme.Web.variables.json",
        "Prod Drop.Acme.Smoke_Test.variables.json",
        &format!("{name}.sh"),
        &format!("{name}.cmd"),
        &format!("{name}.ps1"),
        &pkg,
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let sha = sha256_hex(&std::fs::read(w.folder.join(MANIFEST_FILE)).unwrap());
    assert_eq!(sha, w.manifest_sha256);
    assert!(m.files.iter().any(|e| e.path == "deploy" && e.executable));
    // No secret in clear anywhere; no partial folder left behind.
    for e in &m.files {
        let bytes = std::fs::read(w.folder.join(&e.path)).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{}",
            e.path
        );
    }
    let left: Vec<_> = std::fs::read_dir(fx.dir.path().join("drops"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // Writing again under the same name is refused.
    let pw = SecretString::from("pw".to_string());
    let again = write_drop(
        &fx.plan(true),
        &fx.dir.path().join("drops"),
        &fx.runner,
        Some(&pw),
        &fx.chunks,
        &signer(),
    );
    assert!(again.is_err());
    // Sensitive values without a password are refused.
    let plan = DropPlan {
        deployment_id: "Deployments-8".into(),
        ..fx.plan(true)
    };
    let e = write_drop(
        &plan,
        &fx.dir.path().join("drops"),
        &fx.runner,
        None,
        &fx.chunks,
        &signer(),
    );
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("no sensitive-variables password")
    );
}

#[test]
fn verification_refuses_changed_missing_and_extra_executable_files() {
    let fx = Fx::new();
    let w = fx.write(&fx.plan(false), None);
    let (_, sha) = verify(&w.folder).unwrap();
    assert_eq!(sha, w.manifest_sha256);
    // An extra plain file (e.g. result.json) is fine; an extra executable one is not.
    std::fs::write(w.folder.join("notes.txt"), "hi").unwrap();
    verify(&w.folder).unwrap();
    let evil = w.folder.join("scripts/evil.sh");
    std::fs::write(&evil, "rm -rf /").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = verify(&w.folder).unwrap_err().to_string();
        assert!(
            e.contains("scripts/evil.sh") && e.contains("executable"),
            "{e}"
        );
    }
    std::fs::remove_file(&evil).unwrap();
    let script = w.folder.join("scripts/Smoke_Test.sh");
    std::fs::write(&script, "echo changed").unwrap();
    let e = verify(&w.folder).unwrap_err().to_string();
    assert!(e.contains("'scripts/Smoke_Test.sh' was changed"), "{e}");
    std::fs::remove_file(&script).unwrap();
    let e = verify(&w.folder).unwrap_err().to_string();
    assert!(e.contains("is missing"), "{e}");
}

#[test]
fn runner_runs_steps_in_order_passing_outputs_and_masking_secrets() {
    let fx = Fx::new();
    let env_dir = tempfile::tempdir().unwrap();
    let w = fx.write(&with_env(fx.plan(true), env_dir.path()), Some("pw"));

    // Wrong password: refused, nothing deployed.
    let (r, _) = fx.run(&w.folder, "nope");
    assert!(matches!(r, Err(DropError::WrongPassword)), "{r:?}");
    assert!(!fx.dir.path().join("apps").exists());
    assert!(!w.folder.join(RESULT_FILE).exists());

    let (r, out) = fx.run(&w.folder, "pw");
    let r = r.unwrap();
    assert_eq!(r.state, RunState::Success, "{out}");
    assert_eq!(r.steps.len(), 2);
    let smoke = std::fs::read_to_string(env_dir.path().join("smoke.txt")).unwrap();
    assert_eq!(smoke.trim(), format!("port 8080 key {SECRET}"));
    assert!(out.contains("key is ********"), "{out}");
    assert!(!out.contains(SECRET), "{out}");
    let conf = std::fs::read_to_string(
        fx.dir
            .path()
            .join("apps/Production/Acme.Web/1.0.0/app.conf"),
    )
    .unwrap();
    assert_eq!(conf, format!("url=http://prod.local\nkey={SECRET}\n"));
    assert!(fx.dir.path().join("work/journal.json").exists());

    // The result file becomes an importable receipt tied to the manifest.
    let receipt = make_receipt(&w.folder).unwrap();
    assert_eq!(receipt.drop_manifest_sha256, w.manifest_sha256);
    assert!(receipt.operator_reported);
    let bytes = serde_json::to_vec(&receipt).unwrap();
    assert_eq!(parse_receipt(&bytes).unwrap(), receipt);
    assert!(parse_receipt(br#"{"kind":"space-receipt"}"#).is_err());
}

#[test]
fn a_failing_step_skips_the_rest_and_a_rewritten_manifest_is_refused() {
    let fx = Fx::new();
    let mut plan = fx.plan(true);
    plan.steps[0].step = step(
        "Fail",
        StepAction::RunScript {
            syntax: ScriptSyntax::Sh,
            source: ScriptSource::Inline("exit 3".into()),
        },
    );
    plan.steps[0].package = None;
    let w = fx.write(&plan, Some("pw"));
    let (r, _) = fx.run(&w.folder, "pw");
    let r = r.unwrap();
    assert_eq!(r.state, RunState::Failed);
    assert_eq!(r.steps[0].exit_code, Some(3));
    assert_eq!(r.steps[1].state, RunState::Skipped);

    // Change a script AND rewrite the manifest to match: the encrypted file still knows.
    std::fs::write(w.folder.join("scripts/Smoke_Test.sh"), "echo pwned").unwrap();
    let m = build_manifest(&w.folder).unwrap();
    std::fs::write(
        w.folder.join(MANIFEST_FILE),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    let (r, _) = fx.run(&w.folder, "pw");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("manifest was rewritten"), "{e}");
}

#[test]
fn the_manifest_hash_the_space_recorded_catches_a_drop_rewritten_without_its_secrets() {
    let fx = Fx::new();
    let w = fx.write(&fx.plan(true), Some("pw"));
    // An attacker drops the sensitive file from drop.json (so no password is asked and the
    // password-bound file list is never checked), changes a script and rewrites the manifest.
    let def_path = w.folder.join(DEFINITION_FILE);
    let mut def: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&def_path).unwrap()).unwrap();
    def["sensitive_file"] = serde_json::Value::Null;
    std::fs::write(&def_path, serde_json::to_vec(&def).unwrap()).unwrap();
    std::fs::write(w.folder.join("scripts/Smoke_Test.sh"), "echo pwned").unwrap();
    let m = build_manifest(&w.folder).unwrap();
    std::fs::write(
        w.folder.join(MANIFEST_FILE),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    let (r, _) = fx.run_expecting(
        &w.folder,
        "pw",
        Some(format!("sha256:{}", w.manifest_sha256)),
    );
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not the sha256:"), "{e}");
    assert!(!fx.dir.path().join("apps").exists(), "nothing was deployed");
    // Without the expected hash, the runner prints the hash it found so the operator can compare.
    let (_, out) = fx.run(&w.folder, "pw");
    assert!(out.contains("Drop manifest sha256:"), "{out}");
}

mod tenant;
#[path = "trust.rs"]
mod trust;
