//! Harness for the real `odcm` binary: start it on 127.0.0.1:0 with a temporary data directory,
//! read its address, certificate fingerprint and admin key, and drive it with `deploy odcm ...`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Cli, bin};

/// A running odcm process.
pub struct Odcm {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub address: String,
    pub fingerprint: String,
    /// The web UI's address (https://...).
    pub web: String,
    pub api_key: String,
    pub log: PathBuf,
    pub name: String,
    /// Extra arguments given at every start.
    pub args: Vec<String>,
    child: Option<Child>,
}

fn word_after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.find(prefix)
        .map(|i| &line[i..])
        .and_then(|s| s.split_whitespace().next())
        .map(|s| s.trim_end_matches(')'))
}

impl Odcm {
    /// Starts `odcm --name NAME` in a fresh temporary directory.
    pub fn start(name: &str) -> Self {
        Self::start_with_args(name, &[])
    }

    /// Starts `odcm --name NAME ARGS...` (e.g. `--rotation-overlap-secs 3`).
    pub fn start_with_args(name: &str, args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("e2e-odcm-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let mut o = Odcm {
            data_dir: dir.join("data"),
            log: dir.join("odcm.log"),
            dir,
            address: String::new(),
            fingerprint: String::new(),
            web: String::new(),
            api_key: String::new(),
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        o.launch("127.0.0.1:0");
        assert!(
            !o.api_key.is_empty(),
            "first start prints the admin API key"
        );
        o
    }

    /// Starts again on the same data directory (it gets a new port; the key stays).
    pub fn start_again(&mut self) {
        self.launch("127.0.0.1:0");
    }

    /// Starts again on the same data directory and address, where enrolled Spaces reconnect.
    pub fn start_again_same_address(&mut self) {
        let at = self.address.trim_start_matches("https://").to_string();
        self.launch(&at);
    }

    fn launch(&mut self, listen: &str) {
        let (data_dir, log) = (&self.data_dir, &self.log);
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut child = Command::new(bin("odcm"))
            .args([
                "--name",
                &self.name,
                "--listen",
                listen,
                "--web-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(&self.args)
            .env_remove("ODCM_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf))
            .spawn()
            .expect("start odcm");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut address, mut fingerprint, mut api_key) =
            (String::new(), String::new(), String::new());
        let end = Instant::now() + Duration::from_secs(30);
        while address.is_empty() {
            let left = end.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "odcm did not start; log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
            if line.starts_with("Web UI:") {
                self.web = word_after(&line, "https://")
                    .unwrap_or_default()
                    .to_string();
            }
            if let Some(k) = word_after(&line, "dk_") {
                api_key = k.to_string();
            }
            if line.contains("listening on") {
                address = word_after(&line, "https://")
                    .unwrap_or_default()
                    .to_string();
                fingerprint = word_after(&line, "sha256:").unwrap_or_default().to_string();
            }
        }
        if !api_key.is_empty() {
            self.api_key = api_key;
        }
        self.address = address;
        self.fingerprint = fingerprint;
        self.child = Some(child);
    }

    /// The `deploy` CLI configured (by environment) for this ODCM.
    pub fn cli(&self) -> Cli {
        Cli {
            config: self.dir.join("deploy-config.toml"),
            env: vec![
                ("ODCM_SERVER".into(), self.address.clone()),
                ("ODCM_API_KEY".into(), self.api_key.clone()),
                ("ODCM_FINGERPRINT".into(), self.fingerprint.clone()),
            ],
            cwd: self.dir.clone(),
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
                    assert!(st.success(), "odcm exited with {st} after SIGTERM");
                    return;
                }
                assert!(Instant::now() < end, "odcm did not stop after SIGTERM");
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Odcm {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Odcm {
    /// Creates Space `name` in this ODCM and starts a space-server enrolled with its one-time
    /// token (given by environment, as a secret should be); returns it and the token.
    pub fn enrolled_space(&self, name: &str) -> (crate::Space, String) {
        self.enrolled_space_with(name, &[])
    }

    /// [`Odcm::enrolled_space`] with extra environment for the server.
    pub fn enrolled_space_with(&self, name: &str, env: &[(&str, &str)]) -> (crate::Space, String) {
        let token = self.cli().ok(&["odcm", "space", "create", name]);
        let token = token.trim().to_string();
        let mut all = vec![("SPACE_ENROLMENT_TOKEN", token.as_str())];
        all.extend_from_slice(env);
        let s = crate::Space::start_with(
            &all,
            &[
                "--name",
                name,
                "--peer-listen",
                "127.0.0.1:0",
                "--odcm-url",
                &self.address,
                "--odcm-fingerprint",
                &self.fingerprint,
            ],
        );
        assert!(
            s.peer_address.starts_with("https://"),
            "an enrolled Space announces its peer address"
        );
        (s, token)
    }
}
