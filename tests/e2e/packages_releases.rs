//! End to end: the package feed (streaming upload/download, dedup, bad archives, a crash
//! mid-upload) and releases (pinning, comparison).

use std::time::Duration;

use e2e::{Space, noise, wait_for, write_tar_gz};
use sha2::{Digest, Sha256};

fn stats(c: &e2e::Cli) -> u64 {
    c.json(&["package", "stats"])["stored_bytes"]
        .as_u64()
        .unwrap()
}

#[test]
fn upload_download_and_dedup_of_a_50_mib_archive() {
    let s = Space::start();
    let c = s.cli();
    // ~50 MiB of poorly compressible content inside a tar.gz (gzip level "fast" keeps
    // content-defined boundaries stable because the bytes barely compress).
    let base = noise(7, 50 * 1024 * 1024);
    let mut next = base.clone();
    // 1% of the bytes changed, in 20 scattered regions.
    let region = next.len() / 100 / 20;
    for i in 0..20 {
        let at = i * (next.len() / 20) + 12_345;
        next[at..at + region].copy_from_slice(&noise(1000 + i as u64, region));
    }
    let v1 = s.dir.join("Big.App.1.0.0.tar");
    let v2 = s.dir.join("Big.App.1.0.1.tar");
    // gzip would smear a change over the rest of the stream: stored blocks keep it local.
    for (path, data) in [(&v1, &base), (&v2, &next)] {
        e2e::write_stored_tar_gz(&path.with_extension("tar.gz"), "app.bin", data);
    }
    let v1 = v1.with_extension("tar.gz");
    let v2 = v2.with_extension("tar.gz");
    c.ok(&["package", "upload", v1.to_str().unwrap()]);
    let after_first = stats(&c);
    assert!(
        after_first > 50 * 1024 * 1024,
        "store holds the first version: {after_first}"
    );
    c.ok(&["package", "upload", v2.to_str().unwrap()]);
    let growth = stats(&c) - after_first;
    let pct = growth as f64 * 100.0 / after_first as f64;
    eprintln!("second version grew the store by {growth} bytes ({pct:.2}%)");
    assert!(
        pct < 4.0,
        "the second version should store only changed chunks, grew {pct:.2}%"
    );
    assert!(
        pct > 0.5,
        "a 1% change must store something, grew {pct:.2}%"
    );

    let out = s.dir.join("down.tar.gz");
    c.ok(&[
        "package",
        "download",
        "Big.App",
        "1.0.1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let want = hex::encode(Sha256::digest(std::fs::read(&v2).unwrap()));
    let got = hex::encode(Sha256::digest(std::fs::read(&out).unwrap()));
    assert_eq!(got, want);
    let listed = c.json(&["package", "list", "--id", "Big.App"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // A list counts the chunks as show does (it only leaves the chunk list out).
    let shown = c.json(&["package", "show", "Big.App", "1.0.1"]);
    assert!(shown["chunks"].as_u64().unwrap() > 1, "{shown}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["chunks"] == shown["chunks"]),
        "{listed} vs {shown}"
    );
    let err = c.fails(&["package", "upload", v2.to_str().unwrap()]);
    assert!(err.contains("already in the feed"), "{err}");
}

#[test]
fn bad_archives_are_refused_and_change_nothing() {
    let s = Space::start();
    let c = s.cli();
    let good = s.dir.join("Acme.Web.1.0.0.tar.gz");
    write_tar_gz(
        &good,
        &[
            ("app.conf", b"url=#{Url}\n", 0o644),
            ("deploy.sh", b"#!/bin/sh\necho hi\n", 0o755),
        ],
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = s.dir.join("Acme.Web.1.0.1.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = c.fails(&["package", "upload", truncated.to_str().unwrap()]);
    assert!(err.contains("malformed"), "{err}");
    let garbage = s.dir.join("Acme.Web.1.0.2.zip");
    std::fs::write(&garbage, b"this is not a zip file at all").unwrap();
    let err = c.fails(&["package", "upload", garbage.to_str().unwrap()]);
    assert!(err.contains("malformed"), "{err}");
    let evil = s.dir.join("Evil.1.0.0.tar.gz");
    write_tar_gz(&evil, &[("ok.txt", b"fine", 0o644)]);
    // A tar entry named ../../escape (the tar crate refuses to build one, so patch the header).
    let evil_path = s.dir.join("Evil.2.0.0.tar.gz");
    {
        let mut raw = Vec::new();
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..12].copy_from_slice(b"../../escape");
        h.set_size(4);
        h.set_mode(0o644);
        h.set_cksum();
        raw.extend_from_slice(h.as_bytes());
        raw.extend_from_slice(b"evil");
        raw.resize(512 * 2, 0);
        raw.resize(raw.len() + 1024, 0);
        let f = std::fs::File::create(&evil_path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap();
    }
    let err = c.fails(&["package", "upload", evil_path.to_str().unwrap()]);
    assert!(err.contains("outside the extraction directory"), "{err}");
    let err = c.fails(&[
        "package",
        "upload",
        s.dir.join("nover.zip").to_str().unwrap(),
    ]);
    assert!(
        err.contains("cannot open") || err.contains("file name"),
        "{err}"
    );
    assert_eq!(c.json(&["package", "list"]).as_array().unwrap().len(), 0);
    c.ok(&["package", "upload", good.to_str().unwrap()]);
    let err = c.fails(&["package", "download", "Acme.Web", "9.9.9"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_server_killed_mid_upload_never_shows_the_partial_package() {
    let mut s = Space::start();
    let c = s.cli();
    let big = s.dir.join("Huge.1.0.0.tar.gz");
    e2e::write_stored_tar_gz(&big, "blob", &noise(3, 300 * 1024 * 1024));
    let mut upload = std::process::Command::new(e2e::bin("deploy"))
        .args(["package", "upload", big.to_str().unwrap()])
        .env("DEPLOY_CONFIG", &c.config)
        .envs(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The upload's chunks go to a staging pack while it arrives.
    let packs = s.data_dir.join("chunks").join("packs");
    let staging = |min: u64| {
        std::fs::read_dir(&packs)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("staging-"))
                    .any(|e| e.metadata().map(|m| m.len() >= min).unwrap_or(false))
            })
            .unwrap_or(false)
    };
    wait_for(
        "the upload to be under way",
        Duration::from_secs(60),
        || staging(1024 * 1024),
    );
    s.crash();
    let st = upload.wait().unwrap();
    assert!(!st.success(), "the upload must fail when the server dies");
    s.start_again();
    let c = s.cli();
    assert_eq!(c.json(&["package", "list"]).as_array().unwrap().len(), 0);
    assert!(!staging(0), "partial uploads are cleaned at start");
    assert_eq!(c.json(&["package", "stats"])["chunks"], 0);
}

#[test]
fn releases_pin_packages_freeze_snapshots_and_compare() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Dev"]);
    c.ok(&["env", "create", "Prod"]);
    c.ok(&[
        "lifecycle",
        "create",
        "L",
        "--phase",
        "Dev:Dev",
        "--phase",
        "Prod:Prod",
    ]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Web",
        "--package",
        "Acme.Web",
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Notify",
        "--script",
        "echo done",
    ]);
    let err = c.fails(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
    ]);
    assert!(err.contains("no version in the feed"), "{err}");
    for v in ["1.0.0", "1.2.0", "1.10.0"] {
        let p = s.dir.join(format!("Acme.Web.{v}.zip"));
        let f = std::fs::File::create(&p).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("web.config", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, format!("version {v}").as_bytes()).unwrap();
        z.finish().unwrap();
        c.ok(&["package", "upload", p.to_str().unwrap()]);
    }
    let err = c.fails(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--package",
        "Acme.Web:9.9.9",
    ]);
    assert!(err.contains("9.9.9 is not in the feed"), "{err}");
    let err = c.fails(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--package",
        "Other:1.0.0",
    ]);
    assert!(err.contains("not used by any step"), "{err}");
    assert_eq!(
        c.json(&["release", "list", "--project", "Acme"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    c.ok(&["variable", "set", "--project", "Acme", "Url", "http://one"]);
    c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "Secret",
            "--sensitive",
        ],
        Some("alpha-secret"),
    );
    c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "Same",
            "--sensitive",
        ],
        Some("same-secret"),
    );
    let r1 = c.json(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--package",
        "Acme.Web:1.0.0",
        "--notes",
        "first",
    ]);
    assert_eq!(r1["packages"][0]["version"], "1.0.0");
    // Change the project after the release: the release keeps its snapshot.
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Url",
        "http://two",
        "--id",
        "v-1",
    ]);
    c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "Secret",
            "--sensitive",
            "--id",
            "v-2",
        ],
        Some("beta-secret"),
    );
    c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "Same",
            "--sensitive",
            "--id",
            "v-3",
        ],
        Some("same-secret"),
    );
    c.ok(&["step", "delete", "--project", "Acme", "--name", "Notify"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Smoke",
        "--script",
        "curl -f #{Url}",
        "--env",
        "Prod",
    ]);
    let r2 = c.json(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.1.0",
    ]);
    assert_eq!(
        r2["packages"][0]["version"], "1.10.0",
        "the latest version is picked by version order"
    );
    let shown = c.json(&["release", "show", "--project", "Acme", "--version", "1.0.0"]);
    assert_eq!(shown["process"].as_array().unwrap().len(), 2);
    assert_eq!(shown["variables"][0]["value"], "http://one");
    assert_eq!(shown["notes"], "first");
    let err = c.fails(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.1.0",
    ]);
    assert!(err.contains("already exists"), "{err}");

    let changed_only = c.json(&["release", "compare", "--project", "Acme", "1.0.0", "1.1.0"]);
    assert!(
        !changed_only.to_string().contains("\"unchanged\""),
        "unchanged entries only with --all: {changed_only}"
    );
    assert!(
        changed_only.to_string().contains("\"changed\""),
        "{changed_only}"
    );
    let cmp = c.json(&[
        "release",
        "compare",
        "--project",
        "Acme",
        "1.0.0",
        "1.1.0",
        "--all",
    ]);
    let kind = |section: &str, subject: &str| -> String {
        cmp[section]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"].as_str().unwrap().starts_with(subject))
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{subject} missing in {section}: {cmp}"))
    };
    assert_eq!(kind("steps", "Notify"), "removed");
    assert_eq!(kind("steps", "Smoke"), "added");
    assert_eq!(kind("steps", "Web"), "unchanged");
    assert_eq!(kind("variables", "Url"), "changed");
    assert_eq!(kind("variables", "Secret"), "changed");
    assert_eq!(kind("variables", "Same"), "unchanged");
    assert_eq!(kind("packages", "Acme.Web"), "changed");
    let text = cmp.to_string()
        + &c.ok(&[
            "release",
            "compare",
            "--project",
            "Acme",
            "1.0.0",
            "1.1.0",
            "--all",
        ]);
    for secret in ["alpha-secret", "beta-secret", "same-secret"] {
        assert!(!text.contains(secret), "comparison revealed {secret}");
    }
    assert!(text.contains("********"));
    let err = c.fails(&["package", "delete", "Acme.Web", "1.0.0"]);
    assert!(err.contains("pinned by release"), "{err}");
}

#[test]
fn uploads_larger_than_the_space_accepts_are_refused() {
    let s = Space::start_with_env(&[("SPACE_MAX_PACKAGE_BYTES", "100000")]);
    let c = s.cli();
    let big = s.dir.join("Big.1.0.0.tar.gz");
    e2e::write_stored_tar_gz(&big, "blob", &noise(5, 300_000));
    let err = c.fails(&["package", "upload", big.to_str().unwrap()]);
    assert!(err.contains("larger than this Space accepts"), "{err}");
    assert_eq!(c.json(&["package", "list"]).as_array().unwrap().len(), 0);
    assert_eq!(c.json(&["package", "stats"])["chunks"], 0);
    let small = s.dir.join("Small.1.0.0.tar.gz");
    e2e::write_stored_tar_gz(&small, "blob", &noise(6, 50_000));
    c.ok(&["package", "upload", small.to_str().unwrap()]);
}
