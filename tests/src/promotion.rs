//! Helpers for the promotion tests: ODCM admin calls, trust-set waits, audit kinds, files of a
//! Space, and re-signing a bundle with a Space's own key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::odcm::Odcm;
use crate::{Space, wait_for};

/// `deploy odcm ARGS...` against `o`, which must succeed.
pub fn odcm(o: &Odcm, args: &[&str]) -> String {
    let mut a = vec!["odcm"];
    a.extend(args);
    o.cli().ok(&a)
}

/// A path as `&str` for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Two Spaces of ODCM `net`, DevTest (started with `dev_env`) and Prod, with "Prod accepts
/// `kinds` from DevTest" trusts in place and known on both sides.
pub fn connected_pair(net: &Odcm, dev_env: &[(&str, &str)], kinds: &[&str]) -> (Space, Space) {
    let (dev, _) = net.enrolled_space_with("DevTest", dev_env);
    let (prod, _) = net.enrolled_space("Prod");
    for kind in kinds {
        odcm(
            net,
            &[
                "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", kind,
            ],
        );
    }
    wait_peer(&dev, "Prod", kinds.len());
    wait_peer(&prod, "DevTest", kinds.len());
    (dev, prod)
}

/// A project `project` in `space` on `lifecycle` with one script step.
pub fn script_project(space: &Space, project: &str, lifecycle: &str, script: &str) {
    let c = space.cli();
    c.ok(&["project", "create", project, "--lifecycle", lifecycle]);
    c.ok(&[
        "step",
        "add",
        "--project",
        project,
        "--name",
        "Hello",
        "--script",
        script,
    ]);
}

/// A project `project` in `space` on `lifecycle` whose step "Install" deploys package
/// Acme.Web 1.0.0 (`size` poorly compressible bytes from `seed`, uploaded now).
pub fn package_project(space: &Space, project: &str, lifecycle: &str, seed: u64, size: usize) {
    let c = space.cli();
    c.ok(&["project", "create", project, "--lifecycle", lifecycle]);
    c.ok(&[
        "step",
        "add",
        "--project",
        project,
        "--name",
        "Install",
        "--package",
        "Acme.Web",
    ]);
    let pkg = space.dir.join("Acme.Web.1.0.0.tgz");
    crate::write_stored_tar_gz(&pkg, "app.bin", &crate::noise(seed, size));
    c.ok(&["package", "upload", s(&pkg)]);
}

/// Makes `space` a target that imports DevTest's bundles by itself: environment Production,
/// lifecycle "Only" with the single phase `phase` (e.g. "Production:Production:auto").
pub fn importing_target(space: &Space, phase: &str) {
    let c = space.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["lifecycle", "create", "Only", "--phase", phase]);
    c.ok(&[
        "bundle",
        "auto-import",
        "set",
        "--from",
        "DevTest",
        "--lifecycle",
        "Only",
    ]);
}

/// Waits until `space`'s trust set names `peer`.
pub fn wait_peer(space: &Space, peer: &str, trusts: usize) {
    wait_for(
        &format!("{peer} in the trust set"),
        Duration::from_secs(15),
        || {
            let st = space.cli().json(&["space", "status"]);
            st["peers"]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p["name"] == peer))
                && st["trusts"].as_array().is_some_and(|t| t.len() >= trusts)
        },
    );
}

/// The kinds of `o`'s audit entries, lowercased.
pub fn audit_kinds(o: &Odcm) -> Vec<String> {
    o.cli()
        .json(&["odcm", "audit", "list"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Flips the bits of one byte of a file in place (the server may hold it open): damage, and
/// the same call again repairs it.
pub fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[!b[0]], at).unwrap();
}

/// Every chunk stored in a Space's chunk store directory (read from its pack files, as
/// written by `package_store::pack`): (hash, pack file, payload offset, payload length).
pub fn stored_chunks(chunks_dir: &Path) -> Vec<([u8; 32], PathBuf, u64, u32)> {
    let mut out = Vec::new();
    for path in files_under(&chunks_dir.join("packs")) {
        if package_store::pack::id_of(&path).is_none() {
            continue;
        }
        let Ok(f) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(s) = package_store::pack::scan(&f, u32::MAX) else {
            continue;
        };
        for r in s.records {
            out.push((r.hash, path.clone(), r.offset, r.len));
        }
    }
    out
}

/// Re-signs a bundle file's payload, changed by `edit`, with the source Space's own key (as a
/// newer source could), so only the change itself can be the reason for a refusal.
pub fn resign(bundle: &[u8], space: &Space, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let parts = exchange::bundle::envelope_parts(bundle).expect("envelope");
    let mut statement: serde_json::Value = serde_json::from_slice(&parts.payload).unwrap();
    edit(&mut statement);
    let id = space.data_dir.join("identity");
    let signer = exchange::bundle::SigningIdentity::from_pem(
        &std::fs::read_to_string(id.join("space.crt")).unwrap(),
        &std::fs::read_to_string(id.join("space.key")).unwrap(),
    )
    .unwrap();
    signer
        .sign_dsse(
            &parts.payload_type,
            &serde_json::to_vec(&statement).unwrap(),
        )
        .unwrap()
}

/// Two networks with one Space each, certificates exchanged by file (no endpoints), and the
/// trusts a promotion needs: Prod accepts releases from DevTest, DevTest receipts from Prod.
pub struct Pair {
    pub a: Odcm,
    pub b: Odcm,
    pub dev: Space,
    pub prod: Space,
    /// Where carried files go.
    pub work: PathBuf,
}

impl Pair {
    pub fn start() -> Self {
        let a = Odcm::start("NetA");
        let b = Odcm::start("NetB");
        let (dev, _) = a.enrolled_space("DevTest");
        let (prod, _) = b.enrolled_space("Prod");
        let work = a.dir.join("carried");
        std::fs::create_dir_all(&work).expect("mkdir");
        let dev_pem = work.join("devtest.pem");
        let prod_pem = work.join("prod.pem");
        odcm(
            &a,
            &["space", "export-cert", "DevTest", "--out", s(&dev_pem)],
        );
        odcm(&b, &["space", "export-cert", "Prod", "--out", s(&prod_pem)]);
        odcm(&a, &["remote-space", "add", "Prod", "--cert", s(&prod_pem)]);
        odcm(
            &b,
            &["remote-space", "add", "DevTest", "--cert", s(&dev_pem)],
        );
        odcm(
            &a,
            &[
                "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
            ],
        );
        odcm(
            &b,
            &[
                "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
            ],
        );
        wait_peer(&dev, "Prod", 1);
        wait_peer(&prod, "DevTest", 1);
        Pair {
            a,
            b,
            dev,
            prod,
            work,
        }
    }
}

/// Creates lifecycle "ToProd" in `space` with the single phase `Production:Prod<options>`
/// (e.g. ":auto", ":prestage", "" for a phase promoted by hand).
pub fn to_prod_lifecycle(space: &Space, options: &str) {
    let phase = format!("Production:Prod{options}");
    space
        .cli()
        .ok(&["lifecycle", "create", "ToProd", "--phase", &phase]);
}

/// DevTest and Prod of ODCM `net`, connected both ways, running by themselves: DevTest's
/// project Web (one script step) has an automatic phase naming Prod, Prod imports DevTest's
/// bundles into an automatic lifecycle and deploys them on its agent, which is returned.
pub fn automatic_pair(net: &Odcm) -> (Space, Space, crate::agent::Agent) {
    let (dev, prod) = connected_pair(net, &[], &["releases", "receipts"]);
    importing_target(&prod, "Production:Production:auto");
    to_prod_lifecycle(&dev, ":auto");
    script_project(&dev, "Web", "ToProd", "echo hello");
    let agent = crate::agent::Agent::connected(&prod, "prod-web", &["Production"], &[]);
    (dev, prod, agent)
}
