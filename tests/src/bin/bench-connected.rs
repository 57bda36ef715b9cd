//! Connected-Space benchmarks (run by `bench/connected.sh` on the release binaries): promotion
//! latency (promote -> imported at the target, 1,000 variables and 10 pre-staged packages, vs
//! a script importing by hand as soon as the promote returns), receipt latency (deployment
//! finished at the target -> applied at the source, with and without a long peer link), and
//! deployment time at the target with 200 ms added to the peer link's round trip vs none.
//! Every time comes from the servers' own log timestamps or the CLI's wall time; figures are
//! printed as a markdown table.

use std::time::{Duration, Instant};

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{odcm, s, to_prod_lifecycle, wait_peer};
use e2e::proxy::Proxy;
use e2e::timing::{now, stamps};
use e2e::{Space, noise, wait_for, write_tar_gz};

fn arg(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "n={} median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        v.len(),
        pct(&v, 50.0) * 1e3,
        pct(&v, 99.0) * 1e3,
        v.last().copied().unwrap_or(f64::NAN) * 1e3
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    pct(&v, 50.0)
}

/// DevTest and Prod under one ODCM, each peer listener behind a proxy (to add latency), with
/// the trusts for releases (DevTest to Prod) and their receipts (back).
struct Setup {
    _net: Odcm,
    dev: Space,
    prod: Space,
    links: [Proxy; 2],
    _agent: Agent,
}

fn setup() -> Setup {
    let net = Odcm::start("Net");
    let (pd, pp) = (Proxy::start(), Proxy::start());
    let ep = |p: &Proxy| format!("https://{}", p.address);
    let (dev, _) = net.enrolled_space_with("DevTest", &[("SPACE_PEER_ENDPOINT", &ep(&pd))]);
    let (prod, _) = net.enrolled_space_with("Prod", &[("SPACE_PEER_ENDPOINT", &ep(&pp))]);
    pd.forward_to(&dev.peer_address);
    pp.forward_to(&prod.peer_address);
    for kind in ["releases", "receipts"] {
        odcm(
            &net,
            &[
                "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", kind,
            ],
        );
    }
    wait_peer(&dev, "Prod", 2);
    wait_peer(&prod, "DevTest", 2);
    let p = prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "Only",
        "--phase",
        "Production:Production",
    ]);
    let agent = Agent::connected(&prod, "prod-web", &["Production"], &[]);
    Setup {
        _net: net,
        dev,
        prod,
        links: [pd, pp],
        _agent: agent,
    }
}

impl Setup {
    fn latency(&self, each_way: Duration) {
        for l in &self.links {
            l.set_latency(each_way);
        }
    }

    fn auto_import(&self, on: bool) {
        let p = self.prod.cli();
        if on {
            p.ok(&[
                "bundle",
                "auto-import",
                "set",
                "--from",
                "DevTest",
                "--lifecycle",
                "Only",
            ]);
        } else {
            p.ok(&["bundle", "auto-import", "delete", "--from", "DevTest"]);
        }
    }

    fn bundle_id(&self, project: &str, version: &str) -> String {
        let l = self.prod.cli().json(&["bundle", "list"]);
        l.as_array()
            .and_then(|a| {
                a.iter()
                    .find(|b| b["project"] == project && b["version"] == version)
            })
            .and_then(|b| b["id"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Uploads version `v` of Big's 10 packages to `dev` (2 MiB each, new content).
fn big_packages(dev: &Space, v: &str, seed: u64) {
    for i in 0..10 {
        let pkg = dev.dir.join(format!("Big.Pkg{i}.{v}.tar.gz"));
        let data = noise(seed * 100 + i, 2 << 20);
        write_tar_gz(&pkg, &[(&format!("bin/app{i}.bin"), &data, 0o644)]);
        dev.cli().ok(&["package", "upload", s(&pkg)]);
    }
}

/// Project Big in DevTest: 10 package steps, 1,000 variables (100 sensitive), a script.
fn big_project(dev: &Space) {
    let d = dev.cli();
    to_prod_lifecycle(dev, ":prestage");
    d.ok(&["project", "create", "Big", "--lifecycle", "ToProd"]);
    for i in 0..10 {
        let (name, id) = (format!("Install{i}"), format!("Big.Pkg{i}"));
        d.ok(&[
            "step",
            "add",
            "--project",
            "Big",
            "--name",
            &name,
            "--package",
            &id,
        ]);
    }
    d.ok(&[
        "step",
        "add",
        "--project",
        "Big",
        "--name",
        "Hello",
        "--script",
        "echo done",
    ]);
    let vars: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            serde_json::json!({"name": format!("App.Setting{i:04}"),
                "value": format!("value-{i}-{}", hex::encode(noise(i, 12))), "sensitive": i % 10 == 0})
        })
        .collect();
    let file = dev.dir.join("vars.json");
    std::fs::write(&file, serde_json::to_vec(&vars).unwrap_or_default()).ok();
    d.ok(&["variable", "import", s(&file), "--project", "Big"]);
}

/// Promote -> imported at Prod for releases 1.0.<first..first+n>, by rule (automatic) or by a
/// script that imports as soon as the promote returns.
fn promotion_latency(st: &Setup, first: usize, n: usize, automatic: bool) -> Vec<f64> {
    let (d, p) = (st.dev.cli(), st.prod.cli());
    st.auto_import(automatic);
    let mut out = Vec::new();
    for r in first..first + n {
        let v = format!("1.0.{r}");
        big_packages(&st.dev, &v, r as u64);
        d.ok(&["release", "create", "--project", "Big", "--version", &v]);
        let staged = format!("release={v} chunks=");
        wait_for(
            "the packages staged at Prod",
            Duration::from_secs(120),
            || {
                st.prod
                    .log_text()
                    .lines()
                    .any(|l| l.contains("staged packages fetched") && l.contains(&staged))
            },
        );
        let before = stamps(&st.prod, "release bundle imported").len();
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
        if !automatic {
            let id = st.bundle_id("Big", &v);
            p.ok(&["bundle", "import", &id, "--lifecycle", "Only"]);
        }
        wait_for("the import at Prod", Duration::from_secs(60), || {
            stamps(&st.prod, "release bundle imported").len() > before
        });
        let t1 = stamps(&st.prod, "release bundle imported")[before];
        out.push(t1 - t0);
        phases(st, t0);
    }
    out
}

/// Prints when each step of the last promotion was logged, in ms after the CLI started.
fn phases(st: &Setup, t0: f64) {
    let steps = [
        (&st.dev, "release bundle written"),
        (&st.prod, "release bundle added"),
        (&st.prod, "release bundle offered"),
        (&st.dev, "release bundle pushed"),
        (&st.prod, "importing release bundle"),
        (&st.prod, "release bundle imported"),
    ];
    let mut line = String::from("   phases (ms after promote started):");
    for (space, what) in steps {
        if let Some(t) = stamps(space, what).into_iter().find(|t| *t >= t0) {
            line.push_str(&format!(" {what} {:.0};", (t - t0) * 1e3));
        }
    }
    eprintln!("{line}");
}

/// Deployment finished at Prod -> receipt applied at DevTest, `n` deployments one after another.
fn receipt_latency(st: &Setup, n: usize) -> Vec<f64> {
    let p = st.prod.cli();
    let mut out = Vec::new();
    for _ in 0..n {
        let (fin, got) = (
            stamps(&st.prod, "deployment finished").len(),
            stamps(&st.dev, "deployment receipts imported").len(),
        );
        p.ok(&[
            "release",
            "deploy",
            "--project",
            "DevTest: Hello",
            "--version",
            "1.0.0",
            "--env",
            "Production",
        ]);
        wait_for("the receipt at DevTest", Duration::from_secs(60), || {
            stamps(&st.dev, "deployment receipts imported").len() > got
        });
        let done = stamps(&st.prod, "deployment finished")[fin];
        let applied = stamps(&st.dev, "deployment receipts imported")[got];
        out.push(applied - done);
    }
    out
}

/// Wall time of `release deploy` of Big 1.0.1 at Prod.
fn deploy_time(st: &Setup) -> f64 {
    let t = Instant::now();
    st.prod.cli().ok(&[
        "release",
        "deploy",
        "--project",
        "DevTest: Big",
        "--version",
        "1.0.1",
        "--env",
        "Production",
    ]);
    t.elapsed().as_secs_f64()
}

fn main() {
    let (promotions, receipts, deploys) = (
        arg("PROMOTIONS", 5),
        arg("RECEIPTS", 100),
        arg("DEPLOYS", 6),
    );
    let started = Instant::now();
    let st = setup();
    big_project(&st.dev);
    eprintln!("==> promotion latency ({promotions} releases each way)");
    let auto = promotion_latency(&st, 1, promotions, true);
    let manual = promotion_latency(&st, 1 + promotions, promotions, false);
    st.auto_import(true);

    eprintln!(
        "==> receipt latency ({receipts} deployments, no added latency, then 100 ms each way)"
    );
    let d = st.dev.cli();
    d.ok(&["project", "create", "Hello", "--lifecycle", "ToProd"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Hello",
        "--name",
        "Hi",
        "--script",
        "echo hi",
    ]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Hello",
        "--version",
        "1.0.0",
    ]);
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Hello",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
    ]);
    wait_for("Hello imported", Duration::from_secs(60), || {
        stamps(&st.prod, "release bundle imported").len() > 2 * promotions
    });
    let fast = receipt_latency(&st, receipts);
    st.latency(Duration::from_millis(100));
    let slow = receipt_latency(&st, receipts);

    eprintln!("==> deployment time at Prod ({deploys} each, alternating 0 and 200 ms round trip)");
    st.latency(Duration::ZERO);
    deploy_time(&st); // warm-up: the agent gets the packages
    let (mut plain, mut long) = (Vec::new(), Vec::new());
    for _ in 0..deploys {
        st.latency(Duration::ZERO);
        plain.push(deploy_time(&st));
        st.latency(Duration::from_millis(100));
        long.push(deploy_time(&st));
    }
    let ping = st.prod.cli().json(&["space", "ping", "--peer", "DevTest"]);
    let (mp, ml) = (median(plain.clone()), median(long.clone()));
    println!("| measure | result | baseline in the same run | ratio | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| promote -> imported at Prod (1,000 variables, 10 pre-staged packages of 2 MiB), by rule | {} | a script running `bundle import` as soon as `release promote` returns: {} | {:.2} | < 200 ms |",
        summary(auto.clone()),
        summary(manual.clone()),
        median(auto) / median(manual)
    );
    println!(
        "| deployment finished at Prod -> receipt applied at DevTest | {} | same over a link with 100 ms each way: {} | | p99 < 1 s |",
        summary(fast),
        summary(slow)
    );
    println!(
        "| `release deploy` at Prod (10 packages, 1,000 variables, script), 200 ms round trip added on the peer link | median {:.3} s ({:?}) | no added latency: median {:.3} s ({:?}) | {:.3} | within 10% |",
        ml,
        long.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>(),
        mp,
        plain.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>(),
        ml / mp
    );
    eprintln!(
        "(last ping Prod -> DevTest over the slow link: {ping}; {:.0} s in all)",
        started.elapsed().as_secs_f64()
    );
}
