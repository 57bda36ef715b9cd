//! The next version of a package crosses the peer link as deltas, fetched for a bundle or
//! staged ahead: Prod proposes, per missing chunk, chunks of the version it already holds;
//! DevTest sends each changed chunk compressed against one of them. DevTest takes only bases from releases it promoted to Prod (a chunk of
//! a package Prod was never given would make the delta's size a compression oracle).

use std::collections::HashSet;
use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::peers::{fetch_chunks_with_bases, space_identity};
use e2e::promotion::{
    connected_pair, importing_target, package_project, s, stored_chunks, to_prod_lifecycle,
};
use e2e::{noise, wait_for, write_stored_tar_gz};

const LEN: usize = 2 << 20;

/// The names (hashes) of the chunks in a store.
fn chunk_names(dir: &std::path::Path) -> HashSet<Vec<u8>> {
    stored_chunks(dir)
        .into_iter()
        .map(|(h, ..)| h.to_vec())
        .collect()
}

/// `LEN` bytes of noise with 20 small edits scattered through them.
fn edited(seed: u64) -> Vec<u8> {
    let mut data = noise(seed, LEN);
    for i in 0..20 {
        let at = i * (LEN / 20) + 1000;
        for b in &mut data[at..at + 64] {
            *b ^= 0x5a;
        }
    }
    data
}

/// The `key=value` number in the last log line containing `what`.
fn logged(log: &str, what: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no '{what}' in the log"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in: {line}"))
}

#[test]
fn a_changed_package_travels_as_deltas_against_what_the_target_was_given() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases"]);
    importing_target(&prod, "Production:Production");
    let d = dev.cli();
    let p = prod.cli();
    to_prod_lifecycle(&dev, ":auto");
    package_project(&dev, "Web", "ToProd", 11, LEN);
    let chunks = dev.data_dir.join("chunks");
    let v1 = chunk_names(&chunks);
    // A package Prod is never given.
    let secret = dev.dir.join("Other.Secret.1.0.0.tgz");
    write_stored_tar_gz(&secret, "s.bin", &noise(12, 256 << 10));
    d.ok(&["package", "upload", s(&secret)]);
    let secret_chunks: Vec<Vec<u8>> = chunk_names(&chunks).difference(&v1).cloned().collect();
    assert!(!secret_chunks.is_empty());

    let imported = |n: usize| {
        let l = p.json(&["bundle", "list"]);
        l.as_array()
            .is_some_and(|a| a.len() == n && a.iter().all(|b| b["state"] == "imported"))
    };
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    wait_for("1.0.0 imported in Prod", Duration::from_secs(60), || {
        imported(1)
    });

    // 1.0.1: 20 small edits scattered through the content.
    let data = edited(11);
    let before = chunk_names(&chunks);
    let pkg = dev.dir.join("Acme.Web.1.0.1.tgz");
    write_stored_tar_gz(&pkg, "app.bin", &data);
    d.ok(&["package", "upload", s(&pkg)]);
    let changed: Vec<Vec<u8>> = chunk_names(&chunks).difference(&before).cloned().collect();
    assert!(changed.len() >= 10, "{} changed chunks", changed.len());
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    wait_for("1.0.1 imported in Prod", Duration::from_secs(60), || {
        imported(2)
    });
    let log = prod.log_text();
    let fetched = logged(&log, "bundle packages fetched", "chunks");
    let deltas = logged(&log, "bundle packages fetched", "deltas");
    let bytes = logged(&log, "bundle packages fetched", "bytes");
    println!("1.0.1 over the link: {fetched} chunks, {deltas} as deltas, {bytes} bytes");
    assert_eq!(fetched, changed.len() as u64);
    assert!(
        deltas * 10 >= fetched * 9,
        "most chunks as deltas: {deltas} of {fetched}"
    );
    assert!(
        bytes < (LEN / 20) as u64,
        "{bytes} bytes sent for 20 edits of 64 bytes (whole chunks would be ~{})",
        changed.len() * (16 << 10)
    );
    let back = prod.dir.join("back.tgz");
    p.ok(&[
        "package",
        "download",
        "Acme.Web",
        "1.0.1",
        "--out",
        s(&back),
    ]);
    assert!(
        std::fs::read(&back).unwrap() == std::fs::read(&pkg).unwrap(),
        "Prod holds 1.0.1 byte for byte"
    );

    // DevTest uses as bases only chunks it gave Prod.
    let (prod_id, ca) = space_identity(&prod);
    let id = p
        .json(&["bundle", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["version"] == "1.0.1")
        .expect("the 1.0.1 bundle")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let old: Vec<Vec<u8>> = v1.iter().cloned().collect();
    let ask = |base: &Vec<u8>| {
        fetch_chunks_with_bases(
            &dev,
            &ca,
            &prod_id,
            &id,
            changed.clone(),
            vec![base.clone(); changed.len()],
        )
        .expect("fetch")
    };
    let sent = ask(&secret_chunks[0]);
    assert!(
        sent.iter().all(Vec::is_empty),
        "a chunk Prod was never given is not used as a base"
    );
    let mut two = old[0].clone();
    two.extend_from_slice(&old[1]);
    let sent = ask(&two);
    assert!(
        sent.iter()
            .all(|b| b.is_empty() || *b == old[0] || *b == old[1])
    );
    let err = fetch_chunks_with_bases(&dev, &ca, &prod_id, &id, changed.clone(), vec![vec![1; 31]])
        .unwrap_err();
    assert!(err.contains("InvalidArgument"), "{err}");
}

#[test]
fn a_changed_package_staged_ahead_travels_as_deltas() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases"]);
    importing_target(&prod, "Production:Production");
    let d = dev.cli();
    let p = prod.cli();
    to_prod_lifecycle(&dev, ":prestage");
    package_project(&dev, "Web", "ToProd", 21, LEN);
    let staged = |v: &str| {
        let key = format!("release={v} chunks=");
        wait_for(
            &format!("{v} staged at Prod"),
            Duration::from_secs(60),
            || {
                prod.log_text()
                    .lines()
                    .any(|l| l.contains("staged packages fetched") && l.contains(&key))
            },
        );
    };
    let promote = |v: &str, n: usize| {
        d.ok(&[
            "release",
            "promote",
            "--project",
            "Web",
            "--version",
            v,
            "--to-space",
            "Prod",
        ]);
        wait_for(&format!("{v} imported"), Duration::from_secs(60), || {
            let l = p.json(&["bundle", "list"]);
            l.as_array()
                .is_some_and(|a| a.len() == n && a.iter().all(|b| b["state"] == "imported"))
        });
    };
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    staged("1.0.0");
    promote("1.0.0", 1);

    let pkg = dev.dir.join("Acme.Web.1.0.1.tgz");
    write_stored_tar_gz(&pkg, "app.bin", &edited(21));
    d.ok(&["package", "upload", s(&pkg)]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    staged("1.0.1");
    let log = prod.log_text();
    let fetched = logged(&log, "staged packages fetched", "chunks");
    let deltas = logged(&log, "staged packages fetched", "deltas");
    let bytes = logged(&log, "staged packages fetched", "bytes");
    println!("1.0.1 staged: {fetched} chunks, {deltas} as deltas, {bytes} bytes");
    assert!(fetched >= 10, "{fetched}");
    assert!(
        deltas * 10 >= fetched * 9,
        "most as deltas: {deltas} of {fetched}"
    );
    assert!(
        bytes < (LEN / 20) as u64,
        "{bytes} bytes for 20 edits of 64 bytes"
    );
    promote("1.0.1", 2);
    let back = prod.dir.join("back.tgz");
    p.ok(&[
        "package",
        "download",
        "Acme.Web",
        "1.0.1",
        "--out",
        s(&back),
    ]);
    assert!(std::fs::read(&back).unwrap() == std::fs::read(&pkg).unwrap());
}
