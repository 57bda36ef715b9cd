//! Script steps: an inline body (substituted) or a script from a package (run as is).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Ctx;
use super::journal::force_remove_dir;
use super::package::{inside_root, missing_hint, require_package, safe_join};
use super::process::run_script;
use domain::model::{ScriptSource, ScriptSyntax};
use package_store as packages;

pub(crate) fn run(
    ctx: &mut Ctx<'_>,
    syntax: ScriptSyntax,
    source: &ScriptSource,
) -> Result<(), String> {
    let tmp_root = private_tmp(&ctx.cfg.work_dir)?;
    let dir = tempfile::Builder::new()
        .prefix("step-")
        .tempdir_in(&tmp_root)
        .map_err(|e| {
            format!(
                "cannot create a temporary directory in '{}': {e}",
                tmp_root.display()
            )
        })?;
    let result = match source {
        ScriptSource::Inline(body) => inline(ctx, syntax, body, dir.path()),
        ScriptSource::Package { package_id, path } => {
            from_package(ctx, syntax, package_id, path, dir.path())
        }
    };
    if let Err(e) = force_remove_dir(dir.path()) {
        ctx.warn(&format!(
            "cannot remove temporary directory '{}': {e}",
            dir.path().display()
        ));
    }
    result
}

/// `work_dir/tmp`, created with mode 0700.
fn private_tmp(work_dir: &Path) -> Result<PathBuf, String> {
    let tmp = work_dir.join("tmp");
    fs::create_dir_all(&tmp)
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)))
        .map_err(|e| {
            format!(
                "cannot create the private temporary directory '{}': {e}",
                tmp.display()
            )
        })?;
    Ok(tmp)
}

fn inline(ctx: &mut Ctx<'_>, syntax: ScriptSyntax, body: &str, dir: &Path) -> Result<(), String> {
    let text = ctx.evaluate(body).map_err(|e| {
        format!(
            "cannot substitute variables in the inline script: {e}{}",
            missing_hint(&e)
        )
    })?;
    let ext = match syntax {
        ScriptSyntax::Python3 => "py",
        ScriptSyntax::Bash | ScriptSyntax::Sh => "sh",
    };
    let file = dir.join(format!("script.{ext}"));
    fs::write(&file, text.as_bytes())
        .and_then(|()| fs::set_permissions(&file, fs::Permissions::from_mode(0o600)))
        .map_err(|e| format!("cannot write the script to '{}': {e}", file.display()))?;
    run_script(ctx, syntax.as_str(), &file, "the inline script", dir, &[])
}

fn from_package(
    ctx: &mut Ctx<'_>,
    syntax: ScriptSyntax,
    package_id: &str,
    path: &str,
    dir: &Path,
) -> Result<(), String> {
    let pkg = require_package(ctx.job, package_id)?;
    ctx.info(&format!(
        "extracting package {} {} to a temporary directory",
        pkg.id, pkg.version
    ));
    packages::ExtractLimits::from_env()
        .and_then(|limits| packages::extract(&pkg.archive, pkg.format, dir, limits))
        .map_err(|e| format!("cannot extract package {} {}: {e}", pkg.id, pkg.version))?;
    ctx.check_cancel()?;
    let script = safe_join(dir, path).map_err(|e| format!("script path '{path}' {e}"))?;
    if !script.is_file() || !inside_root(dir, &script) {
        return Err(format!(
            "script '{path}' is not a file in package {} {}; check the step's script path",
            pkg.id, pkg.version
        ));
    }
    let label = format!("script '{path}' from package {}", pkg.id);
    let extra = [
        ("DEPLOY_PACKAGE_ID".to_string(), pkg.id.clone()),
        ("DEPLOY_PACKAGE_VERSION".to_string(), pkg.version.clone()),
    ];
    run_script(ctx, syntax.as_str(), &script, &label, dir, &extra)
}
