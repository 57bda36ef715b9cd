//! Starting real `agent` processes (polling or listening) registered with a test Space.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Space, bin};

/// A running agent process and its data directory.
pub struct Agent {
    pub name: String,
    pub data_dir: PathBuf,
    pub fingerprint: String,
    pub log: PathBuf,
    /// Listening agents: where they serve.
    pub address: Option<String>,
    args: Vec<String>,
    child: Option<Child>,
}

/// `agent init` in a new data directory; returns (dir, fingerprint).
pub fn init(space: &Space, name: &str) -> (PathBuf, String) {
    let dir = space.dir.join(format!("agent-{name}"));
    let out = Command::new(bin("agent"))
        .args(["--data-dir", dir.to_str().unwrap_or_default(), "init"])
        .output()
        .expect("agent init");
    assert!(
        out.status.success(),
        "agent init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fp = text
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("fingerprint printed")
        .to_string();
    (dir, fp)
}

fn spawn(args: &[String], log: &PathBuf) -> (Child, mpsc::Receiver<String>) {
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("agent log");
    let mut child = Command::new(bin("agent"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(logf))
        .spawn()
        .expect("start agent");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_line(rx: &mpsc::Receiver<String>, what: &str, log: &PathBuf) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(what) => return l,
            Ok(_) => {}
            Err(_) => panic!(
                "agent did not print '{what}'; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
        }
    }
}

impl Agent {
    /// Starts a polling agent trusting `space` (not registered: see [`Agent::register`]).
    pub fn polling(space: &Space, name: &str) -> Self {
        let (dir, fp) = init(space, name);
        let args: Vec<String> = [
            "--data-dir",
            dir.to_str().unwrap_or_default(),
            "--mode",
            "polling",
            "--server",
            &space.agent_address,
            "--server-fingerprint",
            &space.fingerprint,
            "run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = space.dir.join(format!("agent-{name}.log"));
        let (child, rx) = spawn(&args, &log);
        wait_line(&rx, "Agent polling", &log);
        Agent {
            name: name.into(),
            data_dir: dir,
            fingerprint: fp,
            log,
            address: None,
            args,
            child: Some(child),
        }
    }

    /// Starts a listening agent on an ephemeral port trusting the Space certificate `trust`.
    pub fn listening(space: &Space, name: &str, trust: &str) -> Self {
        let (dir, fp) = init(space, name);
        let args: Vec<String> = [
            "--data-dir",
            dir.to_str().unwrap_or_default(),
            "--mode",
            "listening",
            "--listen",
            "127.0.0.1:0",
            "--server-fingerprint",
            trust,
            "run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = space.dir.join(format!("agent-{name}.log"));
        let (child, rx) = spawn(&args, &log);
        let line = wait_line(&rx, "Agent listening on", &log);
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .map(str::to_string);
        Agent {
            name: name.into(),
            data_dir: dir,
            fingerprint: fp,
            log,
            address,
            args,
            child: Some(child),
        }
    }

    /// Registers this agent as a target of `space` with `deploy target add`.
    pub fn register(&self, space: &Space, envs: &[&str], roles: &[&str]) {
        let mut args = vec![
            "target",
            "add",
            &self.name,
            "--fingerprint",
            &self.fingerprint,
        ];
        for e in envs {
            args.extend(["--env", e]);
        }
        for r in roles {
            args.extend(["--role", r]);
        }
        if let Some(a) = &self.address {
            args.extend(["--listening-address", a]);
        }
        space.cli().ok(&args);
    }

    /// A polling agent registered in `space` for `envs` and `roles`, once it is connected.
    pub fn connected(space: &Space, name: &str, envs: &[&str], roles: &[&str]) -> Self {
        let a = Agent::polling(space, name);
        a.register(space, envs, roles);
        // Generous: a loaded machine (the whole suite at once) can take long, and an agent
        // refused before its registration backs off up to 10 s between attempts.
        crate::wait_for(
            &format!("{name} to connect"),
            std::time::Duration::from_secs(60),
            || space.cli().json(&["target", "show", name])["connected"] == true,
        );
        a
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the same agent again (same data directory and certificate).
    pub fn restart(&mut self) {
        self.kill();
        let (child, _rx) = spawn(&self.args, &self.log);
        self.child = Some(child);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn applications(&self) -> PathBuf {
        self.data_dir.join("applications")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            crate::print_tail(&format!("agent {}", self.name), &self.log);
        }
    }
}
