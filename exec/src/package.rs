//! Package steps: extraction, `#{...}` substitution in files, structured variables, package
//! scripts, journal and retention.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::journal::{self, JournalEntry, force_remove_dir};
use super::process::run_script;
use super::{Ctx, PackageInput, StepJob, structured};
use domain::model::StepAction;
use package_store as packages;

/// Stages of package scripts, run in this order.
const STAGES: [&str; 3] = ["PreDeploy", "Deploy", "PostDeploy"];

/// How many `{version}_N` directories are tried before giving up.
const MAX_SUFFIX: usize = 10_000;

pub(crate) fn run(ctx: &mut Ctx<'_>) -> Result<(), String> {
    let job = ctx.job;
    let StepAction::DeployPackage {
        package_id,
        substitute_files,
        structured_files,
    } = &job.action
    else {
        return Err("internal error: not a package step".into());
    };
    let pkg = require_package(job, package_id)?;
    let mut base = ctx.cfg.applications_dir.clone();
    if let Some(t) = &job.tenant {
        base.push(env_dir(t));
    }
    let base = base.join(env_dir(&job.environment)).join(&pkg.id);
    let dir = fresh_dir(&base, &pkg.version)?;
    ctx.info(&format!(
        "extracting package {} {} to '{}'",
        pkg.id,
        pkg.version,
        dir.display()
    ));
    let extracted = packages::ExtractLimits::from_env()
        .and_then(|limits| packages::extract(&pkg.archive, pkg.format, &dir, limits));
    if let Err(e) = extracted {
        let removed = force_remove_dir(&dir).is_ok();
        record(ctx, pkg, &dir, false, removed);
        return Err(format!(
            "cannot extract package {} {}: {e}",
            pkg.id, pkg.version
        ));
    }
    ctx.installed_to = Some(dir.clone());
    let result = deploy_into(ctx, pkg, &dir, substitute_files, structured_files);
    record(ctx, pkg, &dir, result.is_ok(), false);
    result?;
    if let Some(keep) = ctx.cfg.retention {
        let work_dir = &ctx.cfg.work_dir;
        let scope = journal::Scope {
            environment: &job.environment,
            tenant: job.tenant.as_deref(),
            package_id: &pkg.id,
        };
        match journal::apply_retention(work_dir, &scope, keep, &dir, &base) {
            Ok(r) => {
                for p in r.removed {
                    ctx.info(&format!("retention: removed '{}'", p.display()));
                }
                for w in r.warnings {
                    ctx.warn(&w);
                }
            }
            Err(e) => ctx.warn(&format!("retention skipped: {e}")),
        }
    }
    Ok(())
}

/// Substitution, structured variables and package scripts in the extraction directory.
fn deploy_into(
    ctx: &mut Ctx<'_>,
    pkg: &PackageInput,
    dir: &Path,
    substitute: &[String],
    structured_files: &[String],
) -> Result<(), String> {
    ctx.check_cancel()?;
    substitute_files(ctx, dir, substitute)?;
    ctx.check_cancel()?;
    structured::apply(ctx, dir, structured_files)?;
    let extra = vec![
        ("DEPLOY_PACKAGE_ID".to_string(), pkg.id.clone()),
        ("DEPLOY_PACKAGE_VERSION".to_string(), pkg.version.clone()),
        ("DEPLOY_INSTALL_DIR".to_string(), dir.display().to_string()),
    ];
    for stage in STAGES {
        ctx.check_cancel()?;
        let lower = stage.to_ascii_lowercase();
        let candidates = [
            (format!("{stage}.sh"), "bash"),
            (format!("{lower}.sh"), "bash"),
            (format!("{stage}.py"), "python3"),
            (format!("{lower}.py"), "python3"),
        ];
        let mut found: Vec<(String, &str, (u64, u64))> = Vec::new();
        for (name, interpreter) in candidates {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = fs::metadata(dir.join(&name))
                && m.is_file()
                && !found.iter().any(|f| f.2 == (m.dev(), m.ino()))
            {
                found.push((name, interpreter, (m.dev(), m.ino())));
            }
        }
        let Some((name, interpreter, _)) = found.first() else {
            continue;
        };
        if found.len() > 1 {
            let others: Vec<&str> = found[1..].iter().map(|f| f.0.as_str()).collect();
            ctx.warn(&format!(
                "several {stage} scripts in the package: running '{name}', ignoring {}",
                others.join(", ")
            ));
        }
        let label = format!("package script '{name}'");
        run_script(ctx, interpreter, &dir.join(name), &label, dir, &extra)?;
    }
    Ok(())
}

/// Appends a journal entry; a journal that cannot be written only warns.
fn record(ctx: &mut Ctx<'_>, pkg: &PackageInput, dir: &Path, success: bool, removed: bool) {
    let job = ctx.job;
    let entry = JournalEntry {
        deployment_id: job.deployment_id.clone(),
        project: job.project.clone(),
        environment: job.environment.clone(),
        tenant: job.tenant.clone(),
        step: job.step_name.clone(),
        package_id: pkg.id.clone(),
        version: pkg.version.clone(),
        path: dir.to_path_buf(),
        success,
        at: domain::model::now(),
        removed,
    };
    if let Err(e) = journal::append(&ctx.cfg.work_dir, entry) {
        ctx.warn(&format!(
            "cannot record this deployment in the journal: {e}"
        ));
    }
}

/// `#{...}` substitution in every regular file matching one of `patterns`.
fn substitute_files(ctx: &mut Ctx<'_>, root: &Path, patterns: &[String]) -> Result<(), String> {
    if patterns.is_empty() {
        return Ok(());
    }
    let root_text = root.to_str().ok_or_else(|| {
        format!(
            "the extraction directory '{}' is not valid UTF-8; choose another applications directory",
            root.display()
        )
    })?;
    let mut done: BTreeSet<PathBuf> = BTreeSet::new();
    for pattern in patterns {
        safe_join(root, pattern)
            .map_err(|e| format!("substitute_files pattern '{pattern}' {e}"))?;
        let full = format!("{}/{}", glob::Pattern::escape(root_text), pattern.trim());
        let paths = glob::glob(&full).map_err(|e| {
            format!(
                "substitute_files pattern '{pattern}' is not a valid glob: {}",
                e.msg
            )
        })?;
        let mut matched = 0;
        for entry in paths {
            let path = match entry {
                Ok(p) => p,
                Err(e) => {
                    ctx.warn(&format!("substitute_files pattern '{pattern}': {e}"));
                    continue;
                }
            };
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    ctx.warn(&format!("substitution: '{rel}' is a symlink; skipped"));
                    continue;
                }
                _ => continue,
            }
            matched += 1;
            if !inside_root(root, &path) {
                ctx.warn(&format!(
                    "substitution: '{rel}' is outside the package; skipped"
                ));
                continue;
            }
            if done.insert(path.clone()) {
                substitute_file(ctx, &path, &rel)?;
            }
        }
        if matched == 0 {
            ctx.warn(&format!(
                "no file matches substitute_files pattern '{pattern}'"
            ));
        }
    }
    Ok(())
}

fn substitute_file(ctx: &mut Ctx<'_>, path: &Path, rel: &str) -> Result<(), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read '{rel}' for substitution: {e}"))?;
    let Ok(text) = String::from_utf8(bytes) else {
        ctx.warn(&format!(
            "substitution: '{rel}' is not UTF-8 text; skipped (narrow the substitute_files pattern)"
        ));
        return Ok(());
    };
    let new = ctx.evaluate(&text).map_err(|e| {
        format!(
            "cannot substitute variables in '{rel}': {e}{}",
            missing_hint(&e)
        )
    })?;
    if new != text {
        write_preserving_mode(path, new.as_bytes())
            .map_err(|e| format!("cannot write '{rel}' after substitution: {e}"))?;
        ctx.info(&format!("substituted variables in '{rel}'"));
    } else {
        ctx.info(&format!("substitution: nothing to replace in '{rel}'"));
    }
    Ok(())
}

/// Advice appended to a substitution error.
pub(crate) fn missing_hint(e: &domain::variables::VariableError) -> &'static str {
    match e {
        domain::variables::VariableError::Missing { .. } => {
            "; define the variable, or write '##{' for a literal '#{'"
        }
        _ => "",
    }
}

/// The package of `job`, checked to be `wanted` with a safe id and version.
pub(crate) fn require_package<'j>(
    job: &'j StepJob,
    wanted: &str,
) -> Result<&'j PackageInput, String> {
    let pkg = job.package.as_ref().ok_or_else(|| {
        format!(
            "step '{}' needs package '{wanted}' but the executor was given none",
            job.step_name
        )
    })?;
    if !pkg.id.eq_ignore_ascii_case(wanted) {
        return Err(format!(
            "step '{}' needs package '{wanted}' but the executor was given '{}'",
            job.step_name, pkg.id
        ));
    }
    packages::validate_id(&pkg.id).map_err(|e| e.to_string())?;
    packages::validate_version(&pkg.version).map_err(|e| e.to_string())?;
    Ok(pkg)
}

/// The environment's directory name: `/`, `\` and NUL become `_`; empty, `.`, `..` become `_`.
pub(crate) fn env_dir(environment: &str) -> String {
    let name: String = environment
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    match name.as_str() {
        "" | "." | ".." => "_".to_string(),
        _ => name,
    }
}

/// Creates and returns `base/version`, or the first free `base/version_N`.
fn fresh_dir(base: &Path, version: &str) -> Result<PathBuf, String> {
    fs::create_dir_all(base)
        .map_err(|e| format!("cannot create directory '{}': {e}", base.display()))?;
    for n in 0..MAX_SUFFIX {
        let name = if n == 0 {
            version.to_string()
        } else {
            format!("{version}_{n}")
        };
        let dir = base.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create directory '{}': {e}", dir.display())),
        }
    }
    Err(format!(
        "'{}' already holds {MAX_SUFFIX} extractions of version {version}; enable retention or clean it up",
        base.display()
    ))
}

/// `root/rel` if `rel` is a non-empty relative path without `..` (an `Err` completes a
/// sentence starting with the offending value).
pub(crate) fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let rel = rel.trim();
    if rel.is_empty() {
        return Err("is empty".into());
    }
    let p = Path::new(rel);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be relative to the package root (no leading '/' and no '..')".into());
    }
    Ok(root.join(p))
}

/// Whether `path` (symlinks resolved) lies inside `root`.
pub(crate) fn inside_root(root: &Path, path: &Path) -> bool {
    match (root.canonicalize(), path.canonicalize()) {
        (Ok(r), Ok(p)) => p.starts_with(r),
        _ => false,
    }
}

/// Replaces a file's content atomically, keeping its permissions.
pub(crate) fn write_preserving_mode(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let perms = fs::metadata(path)?.permissions();
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the file has no parent directory"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(perms)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
