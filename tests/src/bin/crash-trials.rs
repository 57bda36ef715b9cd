//! Crash trials (issue 14): kills the Space server with SIGKILL at a random moment, TRIALS
//! times each (default 20), during a package upload, a transfer archive import, a bundle
//! import, a connected replication and a deployment; starts it again and checks that every
//! operation either completed or is cleanly absent: no package that does not verify (each
//! one present downloads byte-identical), no half-imported release (a bundle is pending with
//! no release, or imported with it), no receipt lost or applied twice (every Prod deployment
//! reaches DevTest's received results exactly once). Prints one line per trial and a table.
//!
//! Run: `cargo build --workspace && cargo run -p e2e --bin crash-trials` (TRIALS=N, SEED=N).
// A test harness: a failed step should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{Pair, connected_pair, importing_target, s, to_prod_lifecycle};
use e2e::{Cli, Space, noise, wait_for, write_stored_tar_gz};

struct Rng(u64);

impl Rng {
    /// A delay in [0, max_ms) milliseconds (xorshift).
    fn delay(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % max_ms.max(1))
    }
}

/// Outcomes per scenario: "completed" (the cut operation had finished) or "absent".
type Tally = BTreeMap<&'static str, (u32, u32)>;

fn record(t: &mut Tally, scenario: &'static str, completed: bool, i: usize) {
    let e = t.entry(scenario).or_default();
    if completed {
        e.0 += 1;
    } else {
        e.1 += 1;
    }
    let what = if completed {
        "completed"
    } else {
        "cleanly absent"
    };
    println!("{scenario} #{i}: {what} after the kill; checks pass");
}

/// Kills `space` after `delay` while `args` runs in the CLI, then starts it again.
fn cut(space: &mut Space, args: &[&str], delay: Duration) {
    let mut child = space.cli().spawn(args);
    std::thread::sleep(delay);
    space.crash();
    let _ = child.wait();
    space.start_again();
}

/// The package `id` `version` downloads from `space` byte-identical to `original`.
fn verifies(c: &Cli, dir: &Path, id: &str, version: &str, original: &Path) {
    let back = dir.join("downloaded.pkg");
    c.ok(&["package", "download", id, version, "--out", s(&back)]);
    assert!(
        std::fs::read(&back).unwrap() == std::fs::read(original).unwrap(),
        "{id} {version} does not verify after the crash"
    );
}

/// The versions of `project`'s releases (none while the project does not exist yet).
fn versions(c: &Cli, project: &str) -> Vec<String> {
    let o = c.run(&["release", "list", "--project", project, "-o", "json"]);
    if !o.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<serde_json::Value>(&o.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["version"].as_str().map(str::to_string))
        .collect()
}

fn has_package(c: &Cli, id: &str, version: &str) -> bool {
    c.json(&["package", "list", "--id", id])
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p["version"] == version))
}

fn upload(t: &mut Tally, rng: &mut Rng, trials: usize) {
    let mut sp = Space::start();
    for i in 0..trials {
        let v = format!("1.0.{i}");
        let pkg = sp.dir.join(format!("Crash.Up.{v}.tar.gz"));
        write_stored_tar_gz(&pkg, "app.bin", &noise(i as u64 + 1, 24 << 20));
        cut(&mut sp, &["package", "upload", s(&pkg)], rng.delay(1500));
        let c = sp.cli();
        let done = has_package(&c, "Crash.Up", &v);
        if done {
            verifies(&c, &sp.dir, "Crash.Up", &v, &pkg);
        } else {
            c.ok(&["package", "upload", s(&pkg)]);
            verifies(&c, &sp.dir, "Crash.Up", &v, &pkg);
        }
        record(t, "package upload", done, i);
    }
}

/// Release `v` of DevTest's project Big (package Big.App `v`, `size` bytes) as a bundle for
/// Prod and its transfer archive.
fn bundle_and_archive(
    pair: &Pair,
    v: &str,
    size: usize,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let d = pair.dev.cli();
    let f = |n: &str| pair.work.join(n);
    let pkg = f(&format!("Big.App.{v}.tgz"));
    write_stored_tar_gz(
        &pkg,
        "app.bin",
        &noise(v.len() as u64 * 7 + size as u64, size),
    );
    d.ok(&["package", "upload", s(&pkg)]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Big",
        "--version",
        v,
        "--package",
        &format!("Big.App:{v}"),
    ]);
    let (b, x) = (f(&format!("big-{v}.bundle")), f(&format!("big-{v}.xfer")));
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Big",
        "--version",
        v,
        "--to-space",
        "Prod",
        "--out",
        s(&b),
    ]);
    d.ok(&["package", "export", "--bundle", s(&b), "--out", s(&x)]);
    (b, x)
}

fn imports(t: &mut Tally, rng: &mut Rng, trials: usize) {
    let mut pair = Pair::start();
    let d = pair.dev.cli();
    d.ok(&[
        "lifecycle",
        "create",
        "ToProd",
        "--phase",
        "Production:Prod",
    ]);
    d.ok(&["project", "create", "Big", "--lifecycle", "ToProd"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Big",
        "--name",
        "Install",
        "--package",
        "Big.App",
    ]);
    let p = pair.prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "Only",
        "--phase",
        "Production:Production",
    ]);
    for i in 0..trials {
        let v = format!("1.0.{i}");
        let (bundle, xfer) = bundle_and_archive(&pair, &v, 48 << 20);
        let pkg = pair.work.join(format!("Big.App.{v}.tgz"));
        cut(
            &mut pair.prod,
            &["package", "import", s(&xfer)],
            rng.delay(1500),
        );
        // The archive carries chunks, verified one by one; importing it again stores only what
        // the cut import did not (nothing when it had finished).
        let p = pair.prod.cli();
        let again = p.json(&["package", "import", s(&xfer)]);
        let done = again["new_chunks"].as_u64() == Some(0);
        record(t, "transfer archive import", done, i);

        p.ok(&["bundle", "add", s(&bundle)]);
        let list = p.json(&["bundle", "list"]);
        let id = list.as_array().unwrap().last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        cut(&mut pair.prod, &["bundle", "import", &id], rng.delay(800));
        let p = pair.prod.cli();
        let state = p.json(&["bundle", "show", &id])["state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let has = releases_of_big(&p)
            .iter()
            .any(|r| r["version"] == v.as_str());
        match state.as_str() {
            "pending" => assert!(!has, "half an import: release {v} with the bundle pending"),
            "imported" => assert!(has, "bundle imported without release {v}"),
            other => panic!("bundle {id} is '{other}' after the crash"),
        }
        if state == "pending" {
            p.ok(&["bundle", "import", &id]);
        }
        // The package the bundle names, from the chunks the cut imports left, verifies.
        verifies(&p, &pair.work, "Big.App", &v, &pkg);
        let n = releases_of_big(&p)
            .iter()
            .filter(|r| r["version"] == v.as_str())
            .count();
        assert_eq!(n, 1, "release {v} once");
        record(t, "bundle import", state == "imported", i);
    }
}

/// The releases of the Remote Project "DevTest: Big" (none before the first import made it:
/// a first import cut by the kill leaves no project).
fn releases_of_big(p: &Cli) -> Vec<serde_json::Value> {
    let o = p.run(&["release", "list", "--project", "DevTest: Big", "-o", "json"]);
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("does not exist"), "release list failed: {err}");
        return Vec::new();
    }
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).expect("release list JSON")
}

fn connected(t: &mut Tally, rng: &mut Rng, trials: usize) {
    let net = Odcm::start("Net");
    let (dev, mut prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    importing_target(&prod, "Production:Production");
    to_prod_lifecycle(&dev, ":auto");
    let d = dev.cli();
    d.ok(&["project", "create", "Web", "--lifecycle", "ToProd"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Install",
        "--package",
        "Acme.Web",
    ]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Work",
        "--script",
        "sleep 1; echo done",
    ]);
    let agent = Agent::polling(&prod, "prod-web");
    agent.register(&prod, &["Production"], &[]);
    let mut deployed = 0usize;
    for i in 0..trials {
        let v = format!("2.0.{i}");
        let pkg = dev.dir.join(format!("Acme.Web.{v}.tgz"));
        write_stored_tar_gz(&pkg, "app.bin", &noise(1000 + i as u64, 32 << 20));
        d.ok(&["package", "upload", s(&pkg)]);
        // Replication: the release is promoted by itself; Prod is killed while it fetches.
        d.ok(&[
            "release",
            "create",
            "--project",
            "Web",
            "--version",
            &v,
            "--package",
            &format!("Acme.Web:{v}"),
        ]);
        std::thread::sleep(rng.delay(1500));
        prod.crash();
        let fetched = has_package(&prod_cli_after(&mut prod), "Acme.Web", &v);
        let p = prod.cli();
        wait_for(
            &format!("release {v} imported in Prod"),
            Duration::from_secs(120),
            || {
                versions(&p, "DevTest: Web")
                    .iter()
                    .filter(|x| **x == v)
                    .count()
                    == 1
            },
        );
        verifies(&p, &prod.dir, "Acme.Web", &v, &pkg);
        record(t, "connected replication", fetched, i);

        // A deployment in Prod, killed while it runs; its result must reach DevTest once.
        cut(
            &mut prod,
            &[
                "release",
                "deploy",
                "--project",
                "DevTest: Web",
                "--version",
                &v,
                "--env",
                "Production",
            ],
            rng.delay(2500),
        );
        let p = prod.cli();
        let ended = |p: &Cli| {
            p.json(&["deployment", "list", "--project", "DevTest: Web"])
                .as_array()
                .is_some_and(|a| {
                    a.iter()
                        .all(|x| x["state"] != "running" && x["state"] != "queued")
                })
        };
        wait_for(
            "Prod's deployments to end",
            Duration::from_secs(120),
            || ended(&p),
        );
        let list = p.json(&["deployment", "list", "--project", "DevTest: Web"]);
        let mine: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["version"] == v.as_str())
            .cloned()
            .collect();
        let success = mine.iter().any(|x| x["state"] == "success");
        deployed += mine.len();
        wait_for(
            "every result to reach DevTest once",
            Duration::from_secs(120),
            || {
                let _ = p.run(&["receipt", "send"]);
                d.json(&["receipt", "list"]).as_array().map_or(0, Vec::len) == deployed
            },
        );
        let got = d.json(&["receipt", "list"]);
        let mut ids: Vec<_> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["receipt_id"].to_string())
            .collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "a receipt applied twice: {got}");
        record(t, "deployment", success, i);
    }
}

/// Starts `prod` again after a crash and gives its CLI.
fn prod_cli_after(prod: &mut Space) -> Cli {
    prod.start_again();
    prod.cli()
}

fn main() {
    let trials = std::env::var("TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::new();
    upload(&mut tally, &mut rng, trials);
    imports(&mut tally, &mut rng, trials);
    connected(&mut tally, &mut rng, trials);
    println!(
        "\n| operation cut by kill -9 | trials | had completed | cleanly absent, then redone |"
    );
    println!("|---|---|---|---|");
    for (what, (done, absent)) in &tally {
        println!("| {what} | {} | {done} | {absent} |", done + absent);
    }
}
