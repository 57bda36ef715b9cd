//! Running a drop on the machine it was carried to: verify, decrypt, then every step in
//! order with the agent's executor ([`crate::run_step`]), passing output variables on.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::format::parse;
use super::snapshot::Snapshot;
use super::{
    DEFINITION_FILE, DropDefinition, DropError, FORMAT_VERSION, PlainVariable, RESULT_FILE,
    SensitivePayload, StepVariablesFile,
};
use crate::{Cancel, ExecConfig, LogSink, LogStream, PackageInput, StepJob, run_step};
use domain::model::{RunState, ScriptSource, StepAction, Timestamp};
use domain::variables::{Candidate, DeployContext, resolve};

pub(crate) const RESULT_KIND: &str = "offline-drop-run";

/// Where to deploy; `None`: the target's directories written into the drop.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub applications_dir: Option<PathBuf>,
    pub working_dir: Option<PathBuf>,
    /// The manifest SHA-256 the Space recorded for this drop (its deployment log shows it).
    /// Everything inside the folder can be rewritten by whoever carries it, so a pin from
    /// outside the folder is what the drop is checked against: this, or `space_fingerprint`.
    pub expect_manifest: Option<String>,
    /// The Space certificate fingerprint the operator pins: the drop's manifest must be
    /// signed with that certificate's key (checked by `check_signature`).
    pub space_fingerprint: Option<String>,
    pub check_signature: Option<super::CheckSignature>,
    /// Run a drop nothing pins (only the manifest inside the folder checks it).
    pub unverified: bool,
}

/// `result.json`: what the runner recorded in the drop folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub kind: String,
    pub version: u32,
    pub space: String,
    pub deployment_id: String,
    pub project: String,
    pub release: String,
    pub environment: String,
    pub target: String,
    /// SHA-256 of the `manifest.json` the run verified.
    pub manifest_sha256: String,
    pub state: RunState,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub applications_dir: String,
    pub working_dir: String,
    pub steps: Vec<StepResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    pub state: RunState,
    pub exit_code: Option<i32>,
    /// Masked.
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub installed_to: Option<String>,
}

/// Prints the executor's (already masked) lines, prefixed with the step.
struct Printer<'a> {
    out: &'a mut dyn Write,
    step: String,
}

impl LogSink for Printer<'_> {
    fn line(&mut self, stream: LogStream, text: &str) {
        let tag = match stream {
            LogStream::Stderr => "ERR ",
            LogStream::Warn => "WARN ",
            LogStream::Stdout | LogStream::Info => "",
        };
        let _ = writeln!(self.out, "[{}] {tag}{text}", self.step);
    }
}

/// Decrypts the sensitive values and checks they were sealed for exactly these files.
fn open_sensitive(
    dir: &Path,
    def: &DropDefinition,
    snap: &Snapshot,
    rel: &str,
    password: &mut dyn FnMut() -> Result<SecretString, DropError>,
) -> Result<BTreeMap<String, Vec<PlainVariable>>, DropError> {
    let manifest = &snap.manifest;
    let plain = super::decrypt(snap.bytes(rel)?, &password()?)?;
    let payload: SensitivePayload = parse(&plain, rel)?;
    let listed: BTreeMap<String, String> = manifest
        .files
        .iter()
        .filter(|e| e.path != rel)
        .map(|e| (e.path.clone(), e.sha256.clone()))
        .collect();
    if payload.deployment_id != def.deployment_id || payload.files != listed {
        return Err(DropError::Tampered {
            dir: dir.display().to_string(),
            problems: "its files are not the ones the sensitive-variables password was sealed with (the manifest was rewritten)".into(),
        });
    }
    Ok(payload.steps)
}

/// Verifies and runs the drop in `dir`. Refusals (changed files, wrong password, unreadable
/// drop) are errors and run nothing; a failing step is an `Ok` result with state `failed`
/// (later steps `skipped`). `result.json` is written in `dir` either way once steps ran.
pub fn run_drop(
    dir: &Path,
    opts: &RunOptions,
    password: &mut dyn FnMut() -> Result<SecretString, DropError>,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<RunResult, DropError> {
    let mut notes = Vec::new();
    let snap = Snapshot::take(dir, &mut |manifest, sig| {
        notes = trust(dir, opts, manifest, sig)?;
        Ok(())
    })?;
    for n in notes {
        let _ = writeln!(out, "{n}");
    }
    let manifest_sha256 = snap.manifest_sha256.clone();
    let def: DropDefinition = parse(snap.bytes(DEFINITION_FILE)?, DEFINITION_FILE)?;
    let sensitive = match &def.sensitive_file {
        Some(rel) => open_sensitive(dir, &def, &snap, rel, password)?,
        None => BTreeMap::new(),
    };
    let mut steps = Vec::new();
    for s in &def.steps {
        let vars: StepVariablesFile = parse(snap.bytes(&s.variables_file)?, &s.variables_file)?;
        let mut step = vars.step.clone();
        if let (
            Some(f),
            StepAction::RunScript {
                source: ScriptSource::Inline(body),
                ..
            },
        ) = (&s.script_file, &mut step.action)
        {
            *body = String::from_utf8(snap.bytes(f)?.to_vec()).map_err(|_| DropError::Format {
                what: "script",
                path: f.clone(),
                reason: "not UTF-8".into(),
            })?;
        }
        let package = match &vars.package {
            None => None,
            Some(p) => {
                if !snap
                    .manifest
                    .files
                    .iter()
                    .any(|e| e.path == p.file && e.sha256 == p.sha256)
                {
                    return Err(DropError::Tampered {
                        dir: dir.display().to_string(),
                        problems: format!(
                            "package '{}' does not have the release's SHA-256",
                            p.file
                        ),
                    });
                }
                // The private copy the snapshot checked, never the folder's file.
                Some(PackageInput {
                    id: p.id.clone(),
                    version: p.version.clone(),
                    format: p.format,
                    archive: snap.package(&p.file)?.to_path_buf(),
                })
            }
        };
        steps.push((s.name.clone(), step, vars, package));
    }
    let cfg = ExecConfig {
        applications_dir: opts
            .applications_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&def.applications_dir)),
        work_dir: opts
            .working_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&def.working_dir)),
        retention: None,
    };
    let _ = writeln!(
        out,
        "Deploying {} {} to {} on this machine ({} of Space {}, {} step(s)); applications in {}, journal in {}",
        def.project,
        def.release,
        def.environment,
        def.deployment_id,
        def.space,
        steps.len(),
        cfg.applications_dir.display(),
        cfg.work_dir.display()
    );
    let started_at = domain::model::now();
    let mut outputs: Vec<Candidate> = Vec::new();
    let mut results = Vec::new();
    let mut failed = false;
    for (name, step, vars, package) in steps {
        if failed || cancel.is_cancelled() {
            results.push(StepResult {
                name,
                state: RunState::Skipped,
                exit_code: None,
                error: None,
                started_at: None,
                finished_at: None,
                installed_to: None,
            });
            continue;
        }
        let mut cands: Vec<Candidate> = vars
            .variables
            .iter()
            .map(|v| Candidate::new(v.name.clone(), v.value.clone()))
            .collect();
        for v in sensitive.get(&name).into_iter().flatten() {
            let mut c = Candidate::new(v.name.clone(), v.value.clone());
            c.sensitive = true;
            cands.push(c);
        }
        cands.retain(|c| !outputs.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name)));
        cands.extend(outputs.iter().cloned());
        let job = StepJob {
            deployment_id: def.deployment_id.clone(),
            project: def.project.clone(),
            environment: def.environment.clone(),
            tenant: def.tenant.clone(),
            step_name: name.clone(),
            action: step.action,
            package,
            variables: resolve(&cands, &DeployContext::default()),
        };
        let _ = writeln!(out, "[{name}] step started");
        let t0 = domain::model::now();
        let outcome = run_step(
            &job,
            &cfg,
            &mut Printer {
                out: &mut *out,
                step: name.clone(),
            },
            cancel,
        );
        for o in &outcome.output_variables {
            for n in [
                format!("Output.{name}.{}", o.name),
                format!("Output.{name}[{}].{}", def.target, o.name),
            ] {
                outputs.retain(|c| !c.name.eq_ignore_ascii_case(&n));
                let mut c = Candidate::new(n, o.value.clone());
                c.sensitive = o.sensitive;
                outputs.push(c);
            }
        }
        let state = if outcome.success {
            RunState::Success
        } else if cancel.is_cancelled() {
            RunState::Cancelled
        } else {
            RunState::Failed
        };
        failed = !outcome.success;
        let _ = writeln!(out, "[{name}] step {}", state.as_str());
        results.push(StepResult {
            name,
            state,
            exit_code: outcome.exit_code,
            error: outcome.error,
            started_at: Some(t0),
            finished_at: Some(domain::model::now()),
            installed_to: outcome.installed_to.map(|p| p.display().to_string()),
        });
    }
    let state = if results.iter().all(|r| r.state == RunState::Success) {
        RunState::Success
    } else if results.iter().any(|r| r.state == RunState::Cancelled) {
        RunState::Cancelled
    } else {
        RunState::Failed
    };
    let result = RunResult {
        kind: RESULT_KIND.into(),
        version: FORMAT_VERSION,
        space: def.space,
        deployment_id: def.deployment_id,
        project: def.project,
        release: def.release,
        environment: def.environment,
        target: def.target,
        manifest_sha256,
        state,
        started_at,
        finished_at: domain::model::now(),
        applications_dir: cfg.applications_dir.display().to_string(),
        working_dir: cfg.work_dir.display().to_string(),
        steps: results,
    };
    write_result(dir, &result)?;
    let _ = writeln!(out, "\nSummary of {}:", result.deployment_id);
    for s in &result.steps {
        let code = s
            .exit_code
            .map(|c| format!(" (exit code {c})"))
            .unwrap_or_default();
        let err = s
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:<10} {}{code}{err}", s.state.as_str(), s.name);
    }
    let _ = writeln!(
        out,
        "Deployment {} {}. Record it in the Space: deploy drop receipt \"{}\", then deploy receipt import FILE",
        result.deployment_id,
        result.state.as_str(),
        dir.display()
    );
    Ok(result)
}

/// Checks the drop's manifest (its bytes as read, and its signature file) against what the
/// operator pins from outside the folder; returns what to tell them.
fn trust(
    dir: &Path,
    opts: &RunOptions,
    manifest: &[u8],
    sig: Option<&[u8]>,
) -> Result<Vec<String>, DropError> {
    let got = super::sha256_hex(manifest);
    let mut notes = Vec::new();
    if let Some(expected) = &opts.expect_manifest {
        let want = expected
            .trim()
            .trim_start_matches("sha256:")
            .to_ascii_lowercase();
        if want != got {
            return Err(DropError::Tampered {
                dir: dir.display().to_string(),
                problems: format!(
                    "its manifest is sha256:{got}, not the sha256:{want} the Space recorded"
                ),
            });
        }
        notes.push(format!(
            "Drop manifest sha256:{got}: as the Space recorded it"
        ));
    }
    if let Some(fp) = &opts.space_fingerprint {
        let check = opts
            .check_signature
            .ok_or_else(|| DropError::Invalid("this runner cannot check signatures".into()))?;
        let space = super::signature::check(dir, manifest, sig, fp, check)?;
        notes.push(format!(
            "Drop signed by Space '{}' with the pinned certificate {fp}",
            domain::text::clean(&space, 100)
        ));
    }
    if opts.expect_manifest.is_none() && opts.space_fingerprint.is_none() {
        if !opts.unverified {
            return Err(DropError::Invalid(
                "nothing pins this drop to its Space, so nothing was run: pass --space-fingerprint with the Space's certificate fingerprint (the one `deploy` contexts pin), or --expect-manifest with the manifest SHA-256 the Space's deployment log shows (--unverified runs it anyway)".into(),
            ));
        }
        notes.push(format!(
            "Drop manifest sha256:{got}: NOT checked against the Space (--unverified)"
        ));
    }
    Ok(notes)
}

fn write_result(dir: &Path, r: &RunResult) -> Result<(), DropError> {
    let bytes = serde_json::to_vec_pretty(r)
        .map_err(|e| DropError::Invalid(format!("cannot encode the result: {e}")))?;
    let tmp = dir.join(format!("{RESULT_FILE}.tmp"));
    let dst = dir.join(RESULT_FILE);
    std::fs::write(&tmp, bytes).map_err(|e| DropError::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, &dst).map_err(|e| DropError::io("cannot write", &dst, e))
}

/// Reads `result.json` of a drop that was run.
pub(crate) fn read_result(dir: &Path) -> Result<RunResult, DropError> {
    let p = dir.join(RESULT_FILE);
    let bytes = std::fs::read(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DropError::Invalid(format!(
                "'{}' has no {RESULT_FILE}: run the drop first (deploy drop run)",
                dir.display()
            ))
        } else {
            DropError::io("cannot read", &p, e)
        }
    })?;
    let r: RunResult = serde_json::from_slice(&bytes).map_err(|e| DropError::Format {
        what: "drop result",
        path: p.display().to_string(),
        reason: e.to_string(),
    })?;
    if r.kind != RESULT_KIND || r.version > FORMAT_VERSION {
        return Err(DropError::Format {
            what: "drop result",
            path: p.display().to_string(),
            reason: format!("kind '{}' version {}", r.kind, r.version),
        });
    }
    Ok(r)
}
