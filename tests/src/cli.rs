//! The real `deploy` binary, run with a Space's address and key in its environment.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::bin;

/// Runs the real `deploy` binary.
#[derive(Clone)]
pub struct Cli {
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

impl Cli {
    pub fn with_env(&self, k: &str, v: &str) -> Cli {
        let mut c = self.clone();
        c.env.retain(|(x, _)| x != k);
        c.env.push((k.into(), v.into()));
        c
    }

    pub fn without_env(&self, k: &str) -> Cli {
        let mut c = self.clone();
        c.env.retain(|(x, _)| x != k);
        c
    }

    /// Starts `deploy ARGS...` without waiting (stdin closed, output piped).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args, false).spawn().expect("start deploy")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(args, stdin.is_some())
            .spawn()
            .expect("start deploy");
        if let Some(s) = stdin {
            use std::io::Write;
            let mut i = child.stdin.take().expect("stdin");
            i.write_all(s.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("deploy output")
    }

    fn command(&self, args: &[&str], stdin: bool) -> Command {
        let mut cmd = Command::new(bin("deploy"));
        cmd.args(args)
            .current_dir(&self.cwd)
            .env("DEPLOY_CONFIG", &self.config)
            .env_remove("DEPLOY_SERVER")
            .env_remove("DEPLOY_API_KEY")
            .env_remove("DEPLOY_FINGERPRINT")
            .env_remove("DEPLOY_CONTEXT")
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "deploy {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs and asserts failure with one `error:` line on stderr; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success(),
            "deploy {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            last.starts_with("error: ")
                && err.lines().filter(|l| l.starts_with("error:")).count() == 1,
            "stderr should end with one error line, got: {err}"
        );
        err
    }

    /// Runs with `-o json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        let out = self.ok(&a);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("deploy {args:?} printed invalid JSON ({e}): {out}"))
    }
}
