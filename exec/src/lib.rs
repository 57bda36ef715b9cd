//! The step executor: runs ONE deployment step on this machine, synchronously.
//!
//! [`run_step`] is a plain blocking call used by the agent and the offline drop runner. It
//! never panics on run-time failures: everything that goes wrong ends up in
//! [`StepOutcome::error`] as one masked line a user can act on.
//!
//! # Package steps ([`StepAction::DeployPackage`])
//!
//! 1. The archive is extracted into a fresh `{applications}/{environment}/{id}/{version}`
//!    (`{version}_1`, `{version}_2`, … when it already exists). Characters of the environment
//!    name that cannot be a directory name (`/`, `\`, NUL, or a bare `.`/`..`) become `_`.
//! 2. `#{...}` is substituted (strictly) in every regular file matching a `substitute_files`
//!    glob (relative to the extraction directory; `..` is refused; symlinks are skipped).
//! 3. Structured variables (names containing `:`, e.g. `Logging:Level`, `Servers:0:Host`)
//!    replace existing values in each of `structured_files` (`.json`, `.yaml`, `.yml`). Path
//!    segments select object keys (exact, else case-insensitive) or array indexes; paths that
//!    do not exist are ignored. A number or boolean stays one when the new value parses as
//!    that type, an object or array when the new value is JSON of that kind; anything else
//!    becomes a string. Files are rewritten only if something changed (JSON pretty-printed;
//!    YAML comments are not preserved).
//! 4. `PreDeploy`, `Deploy` and `PostDeploy` scripts at the extraction root run in that order
//!    (`PreDeploy.sh`, `predeploy.sh`, `PreDeploy.py`, `predeploy.py`: the first that exists;
//!    `.sh` runs with `bash`, `.py` with `python3`), with the extraction directory as working
//!    directory. Package scripts are NOT substituted: they read variables from the environment.
//! 5. A [`JournalEntry`] is recorded (success or failure). After success, retention keeps the
//!    newest N successful extractions of the package in the environment and deletes every
//!    other directory recorded for it (older successes and failures), never the one just
//!    installed.
//!
//! # Script steps ([`StepAction::RunScript`])
//!
//! An inline body is substituted (strictly) and written to a private temporary directory
//! under `work_dir/tmp`, which is also the working directory and is removed afterwards. A
//! script from a package runs as is from the package extracted into such a directory.
//!
//! # Process environment
//!
//! Every process gets the parent's environment plus every resolved variable (expanded; a
//! variable whose expansion fails is skipped with a warning naming it), exported under a
//! shell-safe name: **every character that is not `[A-Za-z0-9_]` becomes `_`**, so
//! `Release.Number` is `$Release_Number` and `Output.Step 1.X` is `$Output_Step_1_X`. When two
//! names map to the same one, the later in case-insensitive name order wins. Also set:
//! `DEPLOY_DEPLOYMENT_ID`, `DEPLOY_ENVIRONMENT`, `DEPLOY_STEP`, `PYTHONUNBUFFERED=1` (so Python
//! output streams line by line), and when the step uses a package `DEPLOY_PACKAGE_ID` and
//! `DEPLOY_PACKAGE_VERSION` (package steps also `DEPLOY_INSTALL_DIR`). A variable named like
//! an existing environment variable (e.g. `PATH`) overrides it.
//!
//! # Output
//!
//! stdout and stderr are streamed line by line to the [`LogSink`], with every sensitive value
//! (and every sensitive output variable set so far) replaced by `********`. Lines that are
//! service messages set output variables instead of being logged (an Info line says so); see
//! [`parse_service_message`] for the syntax. Cancelling kills the script's whole process
//! group within about 100 ms.
//!
//! # Journal
//!
//! `work_dir/journal.json` (`{"v":1,"entries":[...]}`) records every extraction. It is
//! rewritten atomically under a process-wide lock: one `work_dir` belongs to one agent
//! process.

pub mod drop;

mod ctx;
mod journal;
mod package;
mod process;
mod script;
mod service;
mod structured;

#[cfg(test)]
#[path = "tests/package.rs"]
mod package_tests;
#[cfg(test)]
#[path = "tests/script.rs"]
mod script_tests;
#[cfg(test)]
#[path = "tests/service.rs"]
mod service_tests;
#[cfg(test)]
#[path = "tests/util.rs"]
mod testutil;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use domain::model::StepAction;
use domain::variables::Resolved;

pub(crate) use ctx::{CANCELLED, Ctx};

pub use journal::{JournalEntry, read_journal};
pub use service::{SERVICE_MESSAGE_PREFIX, parse_service_message};

/// Everything needed to run one step on this machine.
///
/// Its `Debug` output leaves out the variables, which may hold secrets.
#[derive(Clone)]
pub struct StepJob {
    /// e.g. `Deployments-12`.
    pub deployment_id: String,
    pub project: String,
    pub environment: String,
    /// A tenant deployment's tenant: packages extract under `{applications}/{tenant}/`.
    pub tenant: Option<String>,
    pub step_name: String,
    pub action: StepAction,
    /// The package this step deploys or takes its script from, already fetched and
    /// SHA-256-verified by the caller.
    pub package: Option<PackageInput>,
    /// Variables resolved for this step and target (incl. system variables and `Output.*`
    /// from earlier steps).
    pub variables: Resolved,
}

impl std::fmt::Debug for StepJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepJob")
            .field("deployment_id", &self.deployment_id)
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("tenant", &self.tenant)
            .field("step_name", &self.step_name)
            .field("action", &self.action)
            .field("package", &self.package)
            .field(
                "variables",
                &format_args!("({} variables)", self.variables.len()),
            )
            .finish()
    }
}

/// A package archive on local disk.
#[derive(Debug, Clone)]
pub struct PackageInput {
    pub id: String,
    pub version: String,
    pub format: package_store::ArchiveFormat,
    pub archive: PathBuf,
}

/// Where the executor keeps its files.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Packages extract under `{applications}/{environment}/{package id}/{version}`.
    pub applications_dir: PathBuf,
    /// `journal.json` lives here; temporary files under `work_dir/tmp`.
    pub work_dir: PathBuf,
    /// Keep the last N successful extractions per package (per environment); `None` keeps all.
    pub retention: Option<usize>,
}

/// Which stream a log line comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
    Info,
    Warn,
}

/// Receives log lines, already masked (every sensitive value replaced by `********`).
pub trait LogSink {
    fn line(&mut self, stream: LogStream, text: &str);
}

/// Collects lines in memory (handy for tests and small tools).
impl LogSink for Vec<(LogStream, String)> {
    fn line(&mut self, stream: LogStream, text: &str) {
        self.push((stream, text.to_string()));
    }
}

/// A cancellation flag shared between the caller and a running step.
#[derive(Clone, Default, Debug)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation: a running child process (and its process group) is killed
    /// within about 100 ms; no further stage starts.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A variable a script set with a service message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputVariable {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
}

/// How a step ended.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub success: bool,
    /// Exit code of the last process run (`None` if none ran or it was killed by a signal).
    pub exit_code: Option<i32>,
    pub output_variables: Vec<OutputVariable>,
    /// The extraction directory of a package step.
    pub installed_to: Option<PathBuf>,
    /// One line a user can act on; masked.
    pub error: Option<String>,
}

/// Errors of the journal API.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{what} '{path}': {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journal '{path}' is not valid: {reason}; repair it or move it aside")]
    Journal { path: String, reason: String },
}

impl ExecError {
    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        ExecError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Runs one step; see the module docs for what each kind of step does.
pub fn run_step(
    job: &StepJob,
    cfg: &ExecConfig,
    log: &mut dyn LogSink,
    cancel: &Cancel,
) -> StepOutcome {
    let mut ctx = Ctx::new(job, cfg, log, cancel);
    let result = if cancel.is_cancelled() {
        Err(CANCELLED.to_string())
    } else {
        match &job.action {
            StepAction::DeployPackage { .. } => package::run(&mut ctx),
            StepAction::RunScript { syntax, source } => script::run(&mut ctx, *syntax, source),
        }
    };
    let error = match result {
        Ok(()) => None,
        Err(e) => {
            let one_line = e.split_whitespace().collect::<Vec<_>>().join(" ");
            let masked = ctx.mask(&one_line);
            ctx.sink
                .line(LogStream::Warn, &format!("step failed: {masked}"));
            Some(masked)
        }
    };
    StepOutcome {
        success: error.is_none(),
        exit_code: ctx.exit_code,
        output_variables: ctx.outputs,
        installed_to: ctx.installed_to,
        error,
    }
}

/// The shell-safe form of a variable name: every char not `[A-Za-z0-9_]` becomes `_`.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
