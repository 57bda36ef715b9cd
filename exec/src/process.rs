//! Running one script process: environment, line streaming, service messages, cancellation.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::{CANCELLED, Ctx, LogStream, env_name, parse_service_message};

/// How often cancellation and the child's exit are checked.
const POLL: Duration = Duration::from_millis(50);

/// How long output is still collected after the script exited, for background processes
/// that inherited its stdout/stderr.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Longest line passed on as one; longer lines are split.
const MAX_LINE: u64 = 1024 * 1024;

/// Runs `interpreter script` in `cwd` with the step's environment plus `extra_env`.
///
/// Sets `ctx.exit_code`; fails unless the process exits with code 0. `label` names the script
/// in messages.
pub(crate) fn run_script(
    ctx: &mut Ctx<'_>,
    interpreter: &str,
    script: &Path,
    label: &str,
    cwd: &Path,
    extra_env: &[(String, String)],
) -> Result<(), String> {
    ctx.check_cancel()?;
    ctx.info(&format!("running {label} with {interpreter}"));
    let env = build_env(ctx, extra_env);
    let mut cmd = Command::new(interpreter);
    cmd.arg(script)
        .current_dir(cwd)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("cannot start {label}: '{interpreter}' is not installed or not on PATH")
        } else {
            format!("cannot start {label} with '{interpreter}': {e}")
        }
    })?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(LogStream::Stdout, out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(LogStream::Stderr, err, tx.clone());
    }
    drop(tx);

    let mut open = true;
    let mut killed = false;
    let mut exited: Option<(ExitStatus, Instant)> = None;
    loop {
        if open {
            match rx.recv_timeout(POLL) {
                Ok((stream, line)) => handle_line(ctx, stream, &line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else {
            thread::sleep(POLL);
        }
        if exited.is_none() {
            if ctx.cancel.is_cancelled() && !killed {
                ctx.warn(&format!(
                    "cancelling: killing {label} and its child processes"
                ));
                kill_group(&mut child);
                killed = true;
            }
            match child.try_wait() {
                Ok(Some(status)) => exited = Some((status, Instant::now())),
                Ok(None) => {}
                Err(e) => {
                    kill_group(&mut child);
                    return Err(format!("cannot wait for {label}: {e}"));
                }
            }
        }
        if let Some((_, at)) = exited {
            if !open {
                break;
            }
            if killed || ctx.cancel.is_cancelled() {
                break;
            }
            if at.elapsed() > DRAIN_GRACE {
                for (stream, line) in rx.try_iter() {
                    handle_line(ctx, stream, &line);
                }
                ctx.warn(&format!(
                    "{label} exited but a background process it started still holds its output open; further output is not captured"
                ));
                break;
            }
        }
    }
    let Some((status, _)) = exited else {
        return Err(format!("cannot wait for {label}"));
    };
    if killed {
        ctx.exit_code = None;
        return Err(CANCELLED.to_string());
    }
    ctx.exit_code = status.code();
    match (status.code(), status.signal()) {
        (Some(0), _) => {
            ctx.info(&format!("{label} exited with code 0"));
            Ok(())
        }
        (Some(code), _) => Err(format!(
            "{label} failed with exit code {code}; see its output above"
        )),
        (None, Some(sig)) => Err(format!("{label} was killed by signal {sig}")),
        (None, None) => Err(format!("{label} ended without an exit code")),
    }
}

/// Kills the child's whole process group (the child is its leader), then the child itself in
/// case the `kill` command is unavailable.
fn kill_group(child: &mut Child) {
    let pgid = child.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

/// A line of output: a service message sets an output variable, anything else is logged.
fn handle_line(ctx: &mut Ctx<'_>, stream: LogStream, line: &str) {
    match parse_service_message(line) {
        Some(Ok(var)) => ctx.set_output(var),
        Some(Err(reason)) => ctx.warn(&format!("ignored a malformed service message: {reason}")),
        None => ctx.log(stream, line),
    }
}

/// Reads `src` line by line into `tx` until EOF (or the receiver is gone).
fn spawn_reader<R: Read + Send + 'static>(
    stream: LogStream,
    src: R,
    tx: Sender<(LogStream, String)>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(src);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    if tx.send((stream, line)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
}

/// The variables exported to scripts (see the module docs), plus `extra`.
fn build_env(ctx: &mut Ctx<'_>, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for v in ctx.expanded() {
        if v.value.contains('\0') {
            ctx.warn(&format!(
                "variable '{}' contains a NUL character and is not passed to scripts",
                v.name
            ));
            continue;
        }
        env.push((env_name(&v.name), v.value));
    }
    let job = ctx.job;
    let fixed = [
        ("DEPLOY_DEPLOYMENT_ID", job.deployment_id.as_str()),
        ("DEPLOY_ENVIRONMENT", job.environment.as_str()),
        ("DEPLOY_STEP", job.step_name.as_str()),
        ("PYTHONUNBUFFERED", "1"),
    ];
    env.extend(fixed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.extend(extra.iter().cloned());
    env.retain(|(k, v)| !k.is_empty() && !k.contains('\0') && !v.contains('\0'));
    env
}
