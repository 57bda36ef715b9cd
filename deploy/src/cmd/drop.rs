//! Offline Package Drop on the command line: `deploy target add-drop|update-drop`,
//! `deploy drop run|receipt` (on the machine the drop was carried to, no server needed); the
//! result goes back with `deploy receipt import` (`receipt.rs`).

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use exec::drop::{DropError, RunOptions, SecretString};
use proto::space::v1 as pb;

use super::Env;

/// Environment variable the runner reads the sensitive-variables password from.
const PASSWORD_ENV: &str = "DEPLOY_DROP_PASSWORD";

#[derive(Args)]
pub struct DropTargetArgs {
    name: String,
    /// Where the Space writes drops: an absolute path on the Space's machine.
    #[arg(long)]
    drop_folder: Option<String>,
    /// Where packages extract on the machine that runs the drop.
    #[arg(long)]
    applications_dir: Option<String>,
    /// Where the journal lives on the machine that runs the drop.
    #[arg(long)]
    working_dir: Option<String>,
    /// An environment the target serves (repeat for several).
    #[arg(long = "env")]
    environments: Vec<String>,
    /// A role of the target, by which steps select it (repeat for several).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Read the sensitive-variables password from stdin.
    #[arg(long, conflicts_with = "password_file")]
    password_stdin: bool,
    /// Read the sensitive-variables password from this file (first line).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Remove the password (update-drop only).
    #[arg(long, conflicts_with_all = ["password_stdin", "password_file"])]
    clear_password: bool,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn password_arg(a: &DropTargetArgs) -> anyhow::Result<String> {
    let pw = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the password from stdin")?;
        first_line(&s)
    } else if let Some(f) = &a.password_file {
        first_line(
            &std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the password file '{}'", f.display()))?,
        )
    } else {
        return Ok(String::new());
    };
    if pw.is_empty() {
        bail!("the sensitive-variables password is empty");
    }
    Ok(pw)
}

pub async fn add_drop(x: &Env, a: DropTargetArgs) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.targets.clone();
    let (Some(drop_folder), Some(applications_dir), Some(working_dir)) = (
        a.drop_folder.clone(),
        a.applications_dir.clone(),
        a.working_dir.clone(),
    ) else {
        bail!("an offline drop target needs --drop-folder, --applications-dir and --working-dir");
    };
    if a.clear_password {
        bail!("--clear-password is for update-drop");
    }
    let t = c
        .call(api.create(c.req(pb::Target {
            name: a.name.clone(),
            drop_password: password_arg(&a)?,
            environments: a.environments,
            roles: a.roles,
            drop: Some(pb::DropSettings {
                drop_folder,
                applications_dir,
                working_dir,
            }),
            ..Default::default()
        })))
        .await?;
    eprintln!(
        "offline drop target '{}' registered (sensitive-variables password {})",
        t.name,
        if t.has_drop_password {
            "set"
        } else {
            "not set"
        }
    );
    Ok(())
}

pub async fn update_drop(x: &Env, a: DropTargetArgs) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.targets.clone();
    let mut t = c
        .call(api.get(c.req(pb::ByName {
            name: a.name.clone(),
        })))
        .await?;
    let Some(d) = t.drop.as_mut() else {
        bail!(
            "target '{}' is not an offline drop target: use deploy target update",
            t.name
        );
    };
    if let Some(v) = a.drop_folder.clone() {
        d.drop_folder = v;
    }
    if let Some(v) = a.applications_dir.clone() {
        d.applications_dir = v;
    }
    if let Some(v) = a.working_dir.clone() {
        d.working_dir = v;
    }
    t.drop_password = password_arg(&a)?;
    t.clear_drop_password = a.clear_password;
    if !a.environments.is_empty() {
        t.environments = a.environments;
    }
    if !a.roles.is_empty() {
        t.roles = a.roles;
    }
    let t = c.call(api.update(c.req(t))).await?;
    eprintln!(
        "offline drop target '{}' updated (sensitive-variables password {})",
        t.name,
        if t.has_drop_password {
            "set"
        } else {
            "not set"
        }
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum DropCmd {
    /// Verify an offline drop and deploy it on this machine.
    ///
    /// The drop must be pinned from outside its folder (whoever carries it can rewrite every
    /// file in it): --space-fingerprint checks the Space's signature over its manifest with the
    /// certificate you pin, --expect-manifest checks the manifest's SHA-256 the Space's
    /// deployment log shows. Run it with a deploy installed on this machine, not the copy in
    /// the folder.
    ///
    /// The sensitive-variables password (asked only when the drop has sensitive values) comes
    /// from, in order: --password-file, the DEPLOY_DROP_PASSWORD environment variable, a
    /// prompt on the terminal when stdin is one, else the first line of stdin.
    Run {
        /// The drop folder (default: the current directory).
        dir: Option<PathBuf>,
        /// Extract packages here instead of the target's applications directory.
        #[arg(long)]
        applications_dir: Option<PathBuf>,
        /// Keep the journal here instead of the target's working directory.
        #[arg(long)]
        working_dir: Option<PathBuf>,
        /// Read the sensitive-variables password from this file (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Refuse to run unless the drop's manifest has this SHA-256 (the Space's deployment
        /// log prints it when it writes the drop).
        #[arg(long)]
        expect_manifest: Option<String>,
        /// Refuse to run unless the drop is signed by the Space with this certificate
        /// fingerprint (sha256:..., the one `deploy` contexts pin for that Space).
        #[arg(long, env = "DEPLOY_DROP_SPACE_FINGERPRINT")]
        space_fingerprint: Option<String>,
        /// Run a drop that neither of the above pins (only its own manifest checks it).
        #[arg(long)]
        unverified: bool,
    },
    /// Write the result of a drop that was run, to import in the Space (deploy receipt import).
    Receipt {
        /// The drop folder (default: the current directory).
        dir: Option<PathBuf>,
        /// Where to write it (default: `<drop>.result.json` in the drop folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn ask_password(file: Option<&Path>) -> Result<SecretString, DropError> {
    let fail = |e: std::io::Error| DropError::Invalid(format!("cannot read the password: {e}"));
    let pw = if let Some(f) = file {
        first_line(&std::fs::read_to_string(f).map_err(fail)?)
    } else if let Some(v) = std::env::var(PASSWORD_ENV).ok().filter(|v| !v.is_empty()) {
        // An empty variable counts as unset, so stdin or the terminal still work.
        v
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Sensitive-variables password: ").map_err(fail)?
    } else {
        let mut s = String::new();
        std::io::stdin().lock().read_line(&mut s).map_err(fail)?;
        first_line(&s)
    };
    if pw.is_empty() {
        return Err(DropError::Invalid(format!(
            "this drop has sensitive variables and no password was given: type it, or use --password-file, {PASSWORD_ENV} or stdin"
        )));
    }
    Ok(SecretString::from(pw))
}

pub async fn run(cmd: DropCmd) -> anyhow::Result<()> {
    match cmd {
        DropCmd::Run {
            dir,
            applications_dir,
            working_dir,
            password_file,
            expect_manifest,
            space_fingerprint,
            unverified,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let opts = RunOptions {
                applications_dir,
                working_dir,
                expect_manifest,
                space_fingerprint,
                check_signature: Some(net::pki::verify_with_cert),
                unverified,
            };
            let cancel = exec::Cancel::new();
            let c2 = cancel.clone();
            let mut job = tokio::task::spawn_blocking(move || {
                let mut out = std::io::stdout();
                exec::drop::run_drop(
                    &dir,
                    &opts,
                    &mut || ask_password(password_file.as_deref()),
                    &mut out,
                    &c2,
                )
            });
            let r = tokio::select! {
                r = &mut job => r,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("cancelling the running step");
                    cancel.cancel();
                    job.await
                }
            }
            .context("the drop runner crashed")??;
            if r.state != domain::model::RunState::Success {
                let failed = r
                    .steps
                    .iter()
                    .find(|s| s.state != domain::model::RunState::Success);
                bail!(
                    "deployment {} {}{}",
                    r.deployment_id,
                    r.state.as_str(),
                    failed
                        .map(|s| format!(
                            " at step '{}'{}",
                            s.name,
                            s.error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        ))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        DropCmd::Receipt { dir, out } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let r = exec::drop::make_receipt(&dir)?;
            let out = out.unwrap_or_else(|| {
                dir.join(format!(
                    "{}.result.json",
                    exec::drop::drop_name(&r.target, &r.project, &r.deployment_id)
                ))
            });
            let bytes = serde_json::to_vec_pretty(&r)?;
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write '{}'", out.display()))?;
            eprintln!(
                "result of {} on {} ({}) written: import it with deploy receipt import",
                r.deployment_id,
                r.target,
                r.state.as_str()
            );
            println!("{}", out.display());
            Ok(())
        }
    }
}
