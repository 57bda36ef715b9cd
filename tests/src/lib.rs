//! Helpers for end-to-end tests: start the real `space-server` on 127.0.0.1 with an ephemeral
//! port and a temporary data directory, and drive it with the real `deploy` binary.
// Test support: a failed setup step should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod browser;
mod cli;
mod files;
pub mod netns;
pub mod odcm;
pub mod otlp;
pub mod peers;
pub mod promotion;
pub mod proxy;
pub mod timing;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use cli::Cli;
pub use files::{
    all_bytes, contains, copy_dir, noise, write_stored_tar_gz, write_tar_gz, write_zeros_tar_gz,
};

/// Path of a workspace binary (built by `cargo build --workspace`, which the README's test
/// command runs first; from `E2E_BIN_DIR` when set, as the benchmarks set it).
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("E2E_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)",
        p.display()
    );
    p
}

/// Polls `cond` every 20 ms until it is true or `limit` passes.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// A running space-server process.
pub struct Space {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub address: String,
    pub agent_address: String,
    pub fingerprint: String,
    pub metrics: Option<String>,
    /// The web UI's address (https://...).
    pub web: String,
    pub api_key: String,
    pub log: PathBuf,
    /// Peer service address (https://...), when the Space is enrolled with an ODCM.
    pub peer_address: String,
    /// Extra command-line arguments given at every start.
    pub args: Vec<String>,
    /// Extra environment given at every start.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

pub struct Started {
    pub address: String,
    pub agent_address: String,
    pub peer_address: String,
    pub fingerprint: String,
    pub metrics: Option<String>,
    pub web: String,
    pub new_key: Option<String>,
}

fn field<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.find(prefix)
        .map(|i| &line[i..])
        .map(|s| s.split_whitespace().next().unwrap_or(s))
        .map(|s| s.trim_end_matches(')'))
}

/// Starts space-server on `data_dir`, waiting until it announces its address.
pub fn start_server(data_dir: &Path, log: &Path, extra_env: &[(&str, &str)]) -> (Child, Started) {
    start_server_with(data_dir, log, extra_env, &[])
}

/// Like [`start_server`] with extra arguments (`--name` among them replaces "DevTest").
pub fn start_server_with(
    data_dir: &Path,
    log: &Path,
    extra_env: &[(&str, &str)],
    args: &[String],
) -> (Child, Started) {
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = Command::new(bin("space-server"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(if args.iter().any(|a| a == "--name") {
            &[][..]
        } else {
            &["--name", "DevTest"][..]
        })
        .args(args)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--web-listen",
            "127.0.0.1:0",
        ])
        .env_remove("SPACE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(logf));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start space-server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut started = Started {
        address: String::new(),
        agent_address: String::new(),
        peer_address: String::new(),
        fingerprint: String::new(),
        metrics: None,
        web: String::new(),
        new_key: None,
    };
    let end = Instant::now() + Duration::from_secs(30);
    while started.address.is_empty() {
        let left = end.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "space-server did not start; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
        if let Some(k) = field(&line, "dk_") {
            started.new_key = Some(k.to_string());
        }
        if line.starts_with("Peers connect to") {
            started.peer_address = field(&line, "https://").unwrap_or_default().to_string();
        }
        if line.starts_with("Web UI:") {
            started.web = field(&line, "https://").unwrap_or_default().to_string();
        }
        if line.starts_with("Agents connect to") {
            started.agent_address = field(&line, "https://").unwrap_or_default().to_string();
        }
        if let Some(m) = field(&line, "http://") {
            started.metrics = Some(m.trim_end_matches("/metrics").to_string());
        }
        if line.contains("listening on") {
            started.address = field(&line, "https://").unwrap_or_default().to_string();
            started.fingerprint = field(&line, "sha256:").unwrap_or_default().to_string();
        }
    }
    (child, started)
}

impl Space {
    /// A new Space in a fresh temporary directory.
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, &[])
    }

    /// A new Space started with extra arguments (e.g. `--name`, `--enrolment-token`).
    pub fn start_with_args(args: &[&str]) -> Self {
        Self::start_with(&[], args)
    }

    pub fn start_with(env: &[(&str, &str)], args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let dir = tempfile::Builder::new()
            .prefix("e2e-space-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let data_dir = dir.join("data");
        let log = dir.join("server.log");
        let (child, s) = start_server_with(&data_dir, &log, env, &args);
        Space {
            dir,
            data_dir,
            address: s.address,
            agent_address: s.agent_address,
            web: s.web,
            fingerprint: s.fingerprint,
            metrics: s.metrics,
            api_key: s.new_key.expect("first start prints the admin API key"),
            log,
            peer_address: s.peer_address,
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: Some(child),
        }
    }

    /// Stops with SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let end = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(st)) = c.try_wait() {
                    assert!(st.success(), "space-server exited with {st} after SIGTERM");
                    return;
                }
                assert!(
                    Instant::now() < end,
                    "space-server did not stop after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the process at once (SIGKILL), like a crash.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory (it gets a new port).
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts again with the same arguments and environment; the peer service keeps its port (other Spaces
    /// know it from the ODCM).
    pub fn start_again(&mut self) {
        let mut args = self.args.clone();
        if let Some(i) = args.iter().position(|a| a == "--peer-listen")
            && let Some(v) = args.get_mut(i + 1)
            && !self.peer_address.is_empty()
        {
            *v = self.peer_address.trim_start_matches("https://").to_string();
        }
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (child, s) = start_server_with(&self.data_dir, &self.log, &env, &args);
        assert!(
            s.new_key.is_none(),
            "a restart must not create a new admin key"
        );
        assert_eq!(
            s.fingerprint, self.fingerprint,
            "the TLS identity must survive a restart"
        );
        self.address = s.address;
        self.agent_address = s.agent_address;
        self.web = s.web;
        self.peer_address = s.peer_address;
        self.metrics = s.metrics;
        self.child = Some(child);
    }

    /// The `deploy` CLI configured (by environment) for this Space.
    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn cli(&self) -> Cli {
        Cli {
            config: self.dir.join("deploy-config.toml"),
            env: vec![
                ("DEPLOY_SERVER".into(), self.address.clone()),
                ("DEPLOY_API_KEY".into(), self.api_key.clone()),
                ("DEPLOY_FINGERPRINT".into(), self.fingerprint.clone()),
            ],
            cwd: self.dir.clone(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        self.crash();
        if std::thread::panicking() {
            print_tail("space-server", &self.log);
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// When a test fails: the last lines of a process's log, printed into the test's output so a
/// failure seen once (in CI) can be read afterwards. The whole log stays in the kept directory.
pub fn print_tail(what: &str, log: &Path) {
    let bytes = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    eprintln!(
        "--- last {} lines of {what} log {} ---",
        lines.len() - from,
        log.display()
    );
    for l in &lines[from..] {
        eprintln!("{l}");
    }
}
