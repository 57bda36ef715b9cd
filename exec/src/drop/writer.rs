//! Writing a drop: everything built in a hidden partial folder, then renamed into place.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;

use super::format::{KIND_DEFINITION, KIND_SENSITIVE, KIND_VARIABLES};
use super::{
    DEFINITION_FILE, DropDefinition, DropError, DropSigner, DropStep, FORMAT_VERSION,
    MANIFEST_FILE, PackageRef, PlainVariable, RUNNER_FILE, SENSITIVE_FILE, SensitivePayload,
    StepVariablesFile, build_manifest, drop_name, file_safe, package_file_name, sha256_hex,
    variables_file_name,
};
use domain::model::StepVariable;
use domain::model::{ScriptSource, ScriptSyntax, Step, StepAction, Timestamp};
use package_store::{ChunkStore, PackageManifest, PackageReader};

/// What the Space decided to put in one drop.
#[derive(Debug, Clone)]
pub struct DropPlan {
    pub space: String,
    pub deployment_id: String,
    pub project: String,
    pub release: String,
    pub environment: String,
    pub channel: String,
    pub target: String,
    pub applications_dir: String,
    pub working_dir: String,
    pub created_at: Timestamp,
    /// A tenant deployment's tenant.
    pub tenant: Option<String>,
    /// In execution order.
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub step: Step,
    /// Resolved for this step and target (raw values, sensitive flag).
    pub variables: Vec<StepVariable>,
    pub package: Option<PackageManifest>,
}

impl DropPlan {
    pub fn has_sensitive(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.variables.iter().any(|v| v.sensitive))
    }

    pub fn name(&self) -> String {
        drop_name(&self.target, &self.project, &self.deployment_id)
    }
}

/// A drop written under its final name.
#[derive(Debug, Clone)]
pub struct Written {
    pub folder: PathBuf,
    /// SHA-256 (hex) of its `manifest.json`.
    pub manifest_sha256: String,
    /// SHA-256 (hex) of the runner copied into it (`deploy`), for machines without one.
    pub runner_sha256: String,
}

fn write(path: &Path, bytes: &[u8], executable: bool) -> Result<(), DropError> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| DropError::io("cannot create", p, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| DropError::io("cannot write", path, e))?;
    set_mode(path, if executable { 0o755 } else { 0o644 })
}

fn set_mode(path: &Path, _mode: u32) -> Result<(), DropError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(_mode))
            .map_err(|e| DropError::io("cannot set the mode of", path, e))?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, DropError> {
    serde_json::to_vec_pretty(v).map_err(|e| DropError::Invalid(format!("cannot encode: {e}")))
}

/// A name not used yet (case-insensitive), made unique with `_2`, `_3`... before `suffix`.
fn unique(taken: &mut HashSet<String>, stem: &str, suffix: &str) -> String {
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}{suffix}")
        } else {
            format!("{stem}_{n}{suffix}")
        };
        if taken.insert(name.to_lowercase()) {
            return name;
        }
        n += 1;
    }
}

/// The launchers: a POSIX shell script and a `.cmd` that runs the `.ps1`.
fn launchers(name: &str) -> [(String, String, bool); 3] {
    let sh = format!(
        "#!/bin/sh\n# Offline drop {name}. Prefer a deploy you installed yourself:\n#   deploy drop run <this folder> --space-fingerprint sha256:<the Space's certificate>\n# This launcher runs the copy of deploy that came with the folder, which whoever carried\n# it could have replaced. Check it first: sha256sum {RUNNER_FILE} must print the runner\n# SHA-256 the Space's deployment log shows for this drop. Options: deploy drop run --help\nhere=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\nexec \"$here/{RUNNER_FILE}\" drop run \"$here\" \"$@\"\n"
    );
    let ps1 = format!(
        "# Offline drop {name}: verifies every file, asks for the sensitive-variables password if\r\n# needed, then deploys on this machine. Needs a Windows build of the runner as deploy.exe.\r\n$here = Split-Path -Parent $MyInvocation.MyCommand.Path\r\n$runner = Join-Path $here '{RUNNER_FILE}.exe'\r\nif (-not (Test-Path $runner)) {{ $runner = Join-Path $here '{RUNNER_FILE}' }}\r\n& $runner drop run $here @args\r\nexit $LASTEXITCODE\r\n"
    );
    let cmd = format!(
        "@echo off\r\nrem Offline drop {name}: runs {name}.ps1 with the same arguments.\r\npowershell.exe -NoProfile -ExecutionPolicy Bypass -File \"%~dp0{name}.ps1\" %*\r\nexit /b %ERRORLEVEL%\r\n"
    );
    [
        (format!("{name}.sh"), sh, true),
        (format!("{name}.ps1"), ps1, false),
        (format!("{name}.cmd"), cmd, false),
    ]
}

/// Writes the drop of `plan` into `drop_folder`, atomically. `password` is required when the
/// plan has sensitive values.
pub fn write_drop(
    plan: &DropPlan,
    drop_folder: &Path,
    runner: &Path,
    password: Option<&SecretString>,
    chunks: &ChunkStore,
    signer: &DropSigner<'_>,
) -> Result<Written, DropError> {
    if plan.has_sensitive() && password.is_none() {
        return Err(DropError::Invalid(format!(
            "drop target '{}' has no sensitive-variables password",
            plan.target
        )));
    }
    if !runner.is_file() {
        return Err(DropError::Invalid(format!(
            "the drop runner '{}' does not exist",
            runner.display()
        )));
    }
    let name = plan.name();
    let folder = drop_folder.join(&name);
    if folder.exists() {
        return Err(DropError::Invalid(format!(
            "'{}' already exists",
            folder.display()
        )));
    }
    std::fs::create_dir_all(drop_folder)
        .map_err(|e| DropError::io("cannot create", drop_folder, e))?;
    let mut rnd = [0u8; 8];
    secrets::random_bytes(&mut rnd)
        .map_err(|e| DropError::Invalid(format!("no randomness: {e}")))?;
    let tmp = drop_folder.join(format!(".{name}.partial-{}", hex::encode(rnd)));
    std::fs::create_dir(&tmp).map_err(|e| DropError::io("cannot create", &tmp, e))?;
    let result = fill(plan, &tmp, &name, runner, password, chunks, signer).and_then(|sha| {
        std::fs::rename(&tmp, &folder)
            .map_err(|e| DropError::io("cannot rename the drop into place at", &folder, e))?;
        Ok(sha)
    });
    match result {
        Ok((manifest_sha256, runner_sha256)) => Ok(Written {
            folder,
            manifest_sha256,
            runner_sha256,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Fills `dir` with the drop; returns the SHA-256 of its manifest.
fn fill(
    plan: &DropPlan,
    dir: &Path,
    name: &str,
    runner: &Path,
    password: Option<&SecretString>,
    chunks: &ChunkStore,
    signer: &DropSigner<'_>,
) -> Result<(String, String), DropError> {
    let mut taken = HashSet::new();
    let mut steps = Vec::new();
    let mut sensitive: BTreeMap<String, Vec<PlainVariable>> = BTreeMap::new();
    let mut packages_written: BTreeMap<String, String> = BTreeMap::new();
    for s in &plan.steps {
        let package = match &s.package {
            None => None,
            Some(m) => {
                let file = format!("packages/{}", package_file_name(m));
                if !packages_written.contains_key(&m.sha256) {
                    let p = dir.join(&file);
                    if let Some(parent) = p.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| DropError::io("cannot create", parent, e))?;
                    }
                    let mut out = std::fs::File::create(&p)
                        .map_err(|e| DropError::io("cannot write", &p, e))?;
                    std::io::copy(&mut PackageReader::new(chunks.clone(), m), &mut out).map_err(
                        |e| {
                            DropError::Invalid(format!(
                                "package {} {} failed verification: {e}",
                                m.id, m.version
                            ))
                        },
                    )?;
                    packages_written.insert(m.sha256.clone(), file.clone());
                }
                Some(PackageRef {
                    id: m.id.clone(),
                    version: m.version.clone(),
                    sha256: m.sha256.clone(),
                    size: m.size,
                    format: m.format,
                    file: packages_written[&m.sha256].clone(),
                })
            }
        };
        let script_file = match &s.step.action {
            StepAction::RunScript {
                syntax,
                source: ScriptSource::Inline(body),
            } => {
                let ext = match syntax {
                    ScriptSyntax::Python3 => ".py",
                    ScriptSyntax::Bash | ScriptSyntax::Sh => ".sh",
                };
                let f = format!(
                    "scripts/{}",
                    unique(&mut taken, &file_safe(&s.step.name), ext)
                );
                write(&dir.join(&f), body.as_bytes(), false)?;
                Some(f)
            }
            _ => None,
        };
        let stem = variables_file_name(&plan.target, &plan.project, &s.step.name);
        let variables_file = unique(
            &mut taken,
            stem.trim_end_matches(".variables.json"),
            ".variables.json",
        );
        let (secret, plain): (Vec<&StepVariable>, Vec<&StepVariable>) =
            s.variables.iter().partition(|v| v.sensitive);
        let pv = |v: &&StepVariable| PlainVariable {
            name: v.name.clone(),
            value: v.value.clone(),
        };
        if !secret.is_empty() {
            sensitive.insert(s.step.name.clone(), secret.iter().map(pv).collect());
        }
        let vars = StepVariablesFile {
            kind: KIND_VARIABLES.into(),
            version: FORMAT_VERSION,
            deployment_id: plan.deployment_id.clone(),
            target: plan.target.clone(),
            project: plan.project.clone(),
            step: s.step.clone(),
            package: package.clone(),
            variables: plain.iter().map(pv).collect(),
            sensitive_names: secret.iter().map(|v| v.name.clone()).collect(),
        };
        write(&dir.join(&variables_file), &json(&vars)?, false)?;
        steps.push(DropStep {
            name: s.step.name.clone(),
            variables_file,
            script_file,
            package_file: package.map(|p| p.file),
        });
    }
    let def = DropDefinition {
        kind: KIND_DEFINITION.into(),
        version: if plan.tenant.is_some() {
            super::format::TENANT_DEFINITION_VERSION
        } else {
            FORMAT_VERSION
        },
        space: plan.space.clone(),
        deployment_id: plan.deployment_id.clone(),
        project: plan.project.clone(),
        release: plan.release.clone(),
        environment: plan.environment.clone(),
        channel: plan.channel.clone(),
        target: plan.target.clone(),
        created_at: plan.created_at,
        applications_dir: plan.applications_dir.clone(),
        working_dir: plan.working_dir.clone(),
        steps,
        sensitive_file: (!sensitive.is_empty()).then(|| SENSITIVE_FILE.to_string()),
        tenant: plan.tenant.clone(),
    };
    write(&dir.join(DEFINITION_FILE), &json(&def)?, false)?;
    let rp = dir.join(RUNNER_FILE);
    std::fs::copy(runner, &rp).map_err(|e| DropError::io("cannot copy the runner to", &rp, e))?;
    set_mode(&rp, 0o755)?;
    for (file, text, exec) in launchers(name) {
        write(&dir.join(file), text.as_bytes(), exec)?;
    }
    if !sensitive.is_empty() {
        let password = password.ok_or_else(|| {
            DropError::Invalid("sensitive values need a password to be written".into())
        })?;
        let files = build_manifest(dir)?
            .files
            .into_iter()
            .map(|e| (e.path, e.sha256))
            .collect();
        let payload = SensitivePayload {
            kind: KIND_SENSITIVE.into(),
            version: FORMAT_VERSION,
            deployment_id: plan.deployment_id.clone(),
            files,
            steps: sensitive,
        };
        let plain = json(&payload)?;
        write(
            &dir.join(SENSITIVE_FILE),
            &super::encrypt(&plain, password)?,
            false,
        )?;
    }
    let manifest = json(&build_manifest(dir)?)?;
    write(&dir.join(MANIFEST_FILE), &manifest, false)?;
    write(
        &dir.join(super::SIGNATURE_FILE),
        &super::signature::sign(&manifest, signer)?,
        false,
    )?;
    Ok((sha256_hex(&manifest), super::manifest::hash_file(&rp)?))
}
