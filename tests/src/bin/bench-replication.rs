//! Connected replication benchmark (run by `bench/replication.sh` on the release binaries):
//! DevTest holds one large package (PACKAGE, a .tar.gz) in a release; `release promote
//! --to-space Prod` sends the bundle, and Prod fetches every chunk over the peer link. Timed
//! from just before the promote command starts to Prod's log line "bundle packages fetched"
//! (every chunk checked against its hash, stored and synced). Each of RUNS runs uses a new
//! ODCM and two new Spaces (a cold target store). Prints one tab-separated line per run:
//! seconds, chunks, bytes received.

// A benchmark harness: a failed step should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, s, to_prod_lifecycle};
use e2e::timing::{now, stamps};
use e2e::wait_for;

fn main() {
    let package = std::env::var("PACKAGE").expect("PACKAGE: the .tar.gz to replicate");
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let id = "Bench.Blob";
    for run in 0..runs {
        let net = Odcm::start("Net");
        let (dev, prod) = connected_pair(&net, &[], &["releases"]);
        let d = dev.cli();
        // Uploaded under the name Id.1.0.<run>.tar.gz (a hard link: no copy).
        let up = dev.dir.join(format!("{id}.1.0.{run}.tar.gz"));
        std::fs::hard_link(&package, &up)
            .or_else(|_| std::fs::copy(&package, &up).map(|_| ()))
            .expect("link the package");
        d.ok(&["package", "upload", s(&up)]);
        to_prod_lifecycle(&dev, "");
        d.ok(&["project", "create", "Big", "--lifecycle", "ToProd"]);
        d.ok(&[
            "step",
            "add",
            "--project",
            "Big",
            "--name",
            "Unpack",
            "--package",
            id,
        ]);
        let v = format!("1.0.{run}");
        d.ok(&["release", "create", "--project", "Big", "--version", &v]);
        let t0 = now();
        d.ok(&[
            "release",
            "promote",
            "--project",
            "Big",
            "--version",
            &v,
            "--to-space",
            "Prod",
        ]);
        wait_for(
            "Prod to fetch every chunk",
            Duration::from_secs(600),
            || !stamps(&prod, "bundle packages fetched").is_empty(),
        );
        let line = prod
            .log_text()
            .lines()
            .find(|l| l.contains("bundle packages fetched"))
            .unwrap_or_default()
            .to_string();
        let done = stamps(&prod, "bundle packages fetched")[0];
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap_or("?")
                .to_string()
        };
        println!("{:.3}\t{}\t{}", done - t0, field("chunks"), field("bytes"));
    }
}
