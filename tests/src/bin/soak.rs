//! Soak (issue 14): SOAK_SECS (default 600) of PROJECTS (default 50) promotions and
//! deployments in flight at once across two connected Spaces with an agent: DevTest creates a
//! release of each project whose last one is done; each is promoted by itself to Prod, fetched,
//! imported, deployed on Prod's agent, and its receipt streams back. Every 10 s it samples the
//! resident memory and open files of both servers into SOAK_CSV (default soak.csv). At the end
//! it waits for everything in flight, then checks: zero failed promotions or deployments, and
//! every Prod deployment's receipt in DevTest exactly once. Exits non-zero otherwise.
//!
//! Run: `cargo build --workspace --release && E2E_BIN_DIR=target/release cargo run --release
//! -p e2e --bin soak`; plot with `python3 bench/plot_soak.py soak.csv docs/soak.png`.
// A test harness: a failed step should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, importing_target, to_prod_lifecycle};
use e2e::{Cli, wait_for};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (resident KiB, open files) of process `pid`.
fn sample(pid: Option<u32>) -> (u64, u64) {
    let Some(pid) = pid else { return (0, 0) };
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    (rss, fds)
}

/// KiB of files in a data directory (the store, bundles, chunks): what the Space holds.
fn data_kib(dir: &std::path::Path) -> u64 {
    e2e::promotion::files_under(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum::<u64>()
        / 1024
}

/// The state of a release's promotion (empty before it is queued): one release's jobs only,
/// so a poll costs the same at the end of the soak as at its start.
fn promotion_state(d: &Cli, project: &str, version: &str) -> String {
    let o = d.run(&[
        "promotion",
        "list",
        "--project",
        project,
        "--version",
        version,
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v.as_array()
        .and_then(|a| a.first())
        .and_then(|p| p["state"].as_str())
        .unwrap_or("")
        .to_string()
}

/// What the workers saw: promotions deployed, failed (named), in flight.
#[derive(Default)]
struct Tally {
    deployed: usize,
    failed: Vec<String>,
    in_flight: usize,
}

fn main() {
    let secs = env("SOAK_SECS", 600);
    let projects = env("PROJECTS", 50) as usize;
    let csv = std::env::var("SOAK_CSV").unwrap_or_else(|_| "soak.csv".into());
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    importing_target(&prod, "Production:Production:auto");
    to_prod_lifecycle(&dev, ":auto");
    let d = dev.cli();
    for i in 0..projects {
        let name = format!("Web{i:02}");
        d.ok(&["project", "create", &name, "--lifecycle", "ToProd"]);
        d.ok(&[
            "step",
            "add",
            "--project",
            &name,
            "--name",
            "Hello",
            "--script",
            "echo hello from #{Project.Name} #{Octopus.Release.Number}",
        ]);
    }
    let _agent = Agent::connected(&prod, "prod-web", &["Production"], &[]);
    let mut out = std::fs::File::create(&csv).expect("create the CSV");
    writeln!(
        out,
        "seconds,dev_rss_kib,dev_fds,prod_rss_kib,prod_fds,deployed,in_flight,dev_data_kib,prod_data_kib"
    )
    .unwrap();

    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    // One worker per project creates a release, polls that release's promotion until it is
    // deployed (or failed), and creates the next: PROJECTS in flight. The main thread samples.
    let tally = std::sync::Arc::new(std::sync::Mutex::new(Tally::default()));
    let created = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let workers: Vec<_> = (0..projects)
        .map(|i| {
            let (d, tally, created) = (dev.cli(), tally.clone(), created.clone());
            std::thread::spawn(move || {
                let name = format!("Web{i:02}");
                let mut n = 0;
                while Instant::now() < end {
                    let v = format!("1.0.{n}");
                    d.ok(&["release", "create", "--project", &name, "--version", &v]);
                    created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tally.lock().unwrap().in_flight += 1;
                    let limit = Instant::now() + Duration::from_secs(600);
                    let mut state = String::new();
                    while Instant::now() < limit && state != "deployed" && state != "failed" {
                        std::thread::sleep(Duration::from_millis(500));
                        state = promotion_state(&d, &name, &v);
                    }
                    let mut t = tally.lock().unwrap();
                    t.in_flight -= 1;
                    match state.as_str() {
                        "deployed" => t.deployed += 1,
                        s => t.failed.push(format!("{name} {v}: {s}")),
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let mut next_sample = Duration::ZERO;
    let mut max_in_flight = 0;
    loop {
        let (deployed, failed, in_flight) = {
            let t = tally.lock().unwrap();
            (t.deployed, t.failed.len(), t.in_flight)
        };
        max_in_flight = max_in_flight.max(in_flight);
        if start.elapsed() >= next_sample {
            let (dr, df) = sample(dev.pid());
            let (pr, pf) = sample(prod.pid());
            let (dd, pd) = (data_kib(&dev.data_dir), data_kib(&prod.data_dir));
            writeln!(
                out,
                "{},{dr},{df},{pr},{pf},{deployed},{in_flight},{dd},{pd}",
                start.elapsed().as_secs()
            )
            .unwrap();
            println!(
                "{:>4}s dev {dr} KiB {df} fds | prod {pr} KiB {pf} fds | deployed {deployed}, in flight {in_flight}, failed {failed}",
                start.elapsed().as_secs(),
            );
            next_sample += Duration::from_secs(10);
        }
        if workers.iter().all(|w| w.is_finished()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs + 600),
            "still in flight 10 minutes after the end"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for w in workers {
        w.join().expect("a worker failed");
    }
    let (deployed, failed) = {
        let t = tally.lock().unwrap();
        (t.deployed, t.failed.clone())
    };
    println!("most promotions in flight at once: {max_in_flight}");
    let total = created.load(std::sync::atomic::Ordering::Relaxed);
    // Every Prod deployment's receipt in DevTest, once.
    let p = prod.cli();
    let prod_deployments: usize = (0..projects)
        .map(|i| {
            p.json(&[
                "deployment",
                "list",
                "--project",
                &format!("DevTest: Web{i:02}"),
            ])
            .as_array()
            .map_or(0, Vec::len)
        })
        .sum();
    wait_for("every receipt in DevTest", Duration::from_secs(120), || {
        d.json(&["receipt", "list"]).as_array().map_or(0, Vec::len) >= prod_deployments
    });
    let receipts = d.json(&["receipt", "list"]);
    let mut ids: Vec<String> = receipts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt_id"].to_string())
        .collect();
    ids.sort();
    let all = ids.len();
    ids.dedup();
    println!(
        "\nreleases created {total}, promotions deployed {deployed}, failed {}, Prod deployments {prod_deployments}, receipts in DevTest {all} ({} distinct)",
        failed.len(),
        ids.len()
    );
    assert!(failed.is_empty(), "failed: {failed:?}");
    assert_eq!(deployed as u32, total, "every release deployed");
    assert_eq!(all, ids.len(), "a receipt applied twice");
    assert_eq!(all, prod_deployments, "every receipt delivered once");
    // Memory growth from the data held, or from the process's own history? Start DevTest
    // again on the same data and sample it after one more release of every project.
    let before = sample(dev.pid()).0;
    let mut dev = dev;
    dev.stop();
    dev.start_again();
    let d = dev.cli();
    for i in 0..projects {
        d.ok(&[
            "release",
            "create",
            "--project",
            &format!("Web{i:02}"),
            "--version",
            "9.9.9",
        ]);
    }
    wait_for("the last round", Duration::from_secs(300), || {
        (0..projects).all(|i| promotion_state(&d, &format!("Web{i:02}"), "9.9.9") == "deployed")
    });
    let after = sample(dev.pid()).0;
    println!(
        "DevTest resident: {before} KiB at the end, {after} KiB after a restart on the same data and one more round"
    );
    writeln!(out, "# restart: dev_rss_kib before {before}, after {after}").unwrap();
    println!("soak passed: samples in {csv}");
}
