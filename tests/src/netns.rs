//! Helpers for tests that run processes in Linux network namespaces (`ip netns`): a guard that
//! creates two namespaces and removes them (and their veth pair) on drop, even on panic, and
//! processes started with `ip netns exec NAME ...` whose printed addresses are read like the
//! rest of the harness does.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::bin;

/// Runs `ip ARGS`; the error carries the command and its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Whether network namespaces can be created here: adds and deletes a probe namespace.
pub fn probe() -> Result<(), String> {
    let name = format!("e2e-probe-{}", std::process::id());
    ip(&["netns", "add", &name])?;
    ip(&["netns", "del", &name])
}

/// Two namespaces, `a` and `b`, each with its loopback up, and no link between them until
/// [`Networks::connect`]. Everything is removed on drop.
pub struct Networks {
    pub a: String,
    pub b: String,
    veth_a: String,
    veth_b: String,
    /// Addresses of the veth ends once connected (10.N.0.1 in `a`, 10.N.0.2 in `b`).
    pub ip_a: String,
    pub ip_b: String,
}

impl Networks {
    pub fn create() -> Self {
        let pid = std::process::id();
        let n = 20 + pid % 200;
        let nets = Networks {
            a: format!("e2e-a-{pid}"),
            b: format!("e2e-b-{pid}"),
            veth_a: format!("e2e{pid}a"),
            veth_b: format!("e2e{pid}b"),
            ip_a: format!("10.{n}.0.1"),
            ip_b: format!("10.{n}.0.2"),
        };
        for ns in [&nets.a, &nets.b] {
            ip(&["netns", "add", ns]).expect("add namespace");
            ip(&["-n", ns, "link", "set", "lo", "up"]).expect("loopback up");
        }
        nets
    }

    /// Links the namespaces with a veth pair (a /24 between them) and brings it up.
    pub fn connect(&self) {
        let (va, vb) = (&self.veth_a, &self.veth_b);
        ip(&["link", "add", va, "type", "veth", "peer", "name", vb]).expect("veth pair");
        ip(&["link", "set", va, "netns", &self.a]).expect("veth into a");
        ip(&["link", "set", vb, "netns", &self.b]).expect("veth into b");
        for (ns, dev, addr) in [(&self.a, va, &self.ip_a), (&self.b, vb, &self.ip_b)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]).expect("address");
            ip(&["-n", ns, "link", "set", dev, "up"]).expect("link up");
        }
    }
}

impl Drop for Networks {
    fn drop(&mut self) {
        // The veth pair may still be in the root namespace if `connect` failed half way.
        let _ = ip(&["link", "del", &self.veth_a]);
        for ns in [&self.a, &self.b] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// The first word starting with `prefix` in `line`, without a trailing `)`.
pub fn word_after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.find(prefix)
        .map(|i| &line[i..])
        .and_then(|s| s.split_whitespace().next())
        .map(|s| s.trim_end_matches(')'))
}

/// A workspace binary running in a namespace; killed on drop.
pub struct NsProcess {
    pub ns: String,
    /// Its stdout lines up to and including the one saying "listening on".
    pub lines: Vec<String>,
    pub log: std::path::PathBuf,
    child: Child,
}

impl NsProcess {
    /// Starts `ip netns exec NS <binary> ARGS` with `env`, stderr to `log`, and waits until it
    /// prints "listening on".
    pub fn start(ns: &str, binary: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> Self {
        let logf = std::fs::File::create(log).expect("log file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(bin(binary))
            .args(args)
            .env_remove("SPACE_CONFIG")
            .env_remove("ODCM_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start ip netns exec");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = NsProcess {
            ns: ns.to_string(),
            lines: Vec::new(),
            log: log.to_path_buf(),
            child,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while !p.lines.last().is_some_and(|l| l.contains("listening on")) {
            let left = end.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "{binary} did not start in {ns}; log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
            p.lines.push(line);
        }
        p
    }

    /// The first word starting with `prefix` in the lines printed at start.
    pub fn word(&self, prefix: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| word_after(l, prefix))
            .unwrap_or_default()
            .to_string()
    }

    /// The address it listens on (from its "listening on https://..." line).
    pub fn address(&self) -> String {
        word_after(self.lines.last().expect("started"), "https://")
            .unwrap_or_default()
            .to_string()
    }

    /// Its certificate fingerprint (from its "listening on" line).
    pub fn fingerprint(&self) -> String {
        word_after(self.lines.last().expect("started"), "sha256:")
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the real `deploy` binary in namespace `ns` with `env` (nothing else configures it).
pub fn deploy(ns: &str, config: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(bin("deploy"))
        .args(args)
        .env("DEPLOY_CONFIG", config)
        .env_remove("DEPLOY_CONTEXT")
        .stdin(Stdio::null());
    for k in [
        "DEPLOY_SERVER",
        "DEPLOY_API_KEY",
        "DEPLOY_FINGERPRINT",
        "ODCM_SERVER",
        "ODCM_API_KEY",
        "ODCM_FINGERPRINT",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run deploy")
}
