//! End to end: the pack-file chunk store through the real binaries — a data directory of the
//! older one-file-per-chunk layout is migrated at start and serves its packages byte for
//! byte; a flipped byte in a pack is refused on read, naming the chunk.

use sha2::{Digest, Sha256};

use e2e::promotion::{flip_byte, stored_chunks};
use e2e::{Space, noise, write_stored_tar_gz};

fn sha(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Rewrites a stopped Space's packs as the older layout: `<2 hex>/<64 hex>.zst` per chunk.
fn to_older_layout(chunks: &std::path::Path) {
    use std::os::unix::fs::FileExt;
    for (hash, pack, offset, len) in stored_chunks(chunks) {
        let f = std::fs::File::open(&pack).unwrap();
        let mut payload = vec![0; len as usize];
        f.read_exact_at(&mut payload, offset).unwrap();
        let name = hex::encode(hash);
        let dir = chunks.join(&name[..2]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.zst")), payload).unwrap();
    }
    std::fs::remove_dir_all(chunks.join("packs")).unwrap();
}

#[test]
fn an_older_chunk_store_is_migrated_at_start_and_serves_its_packages() {
    let mut s = Space::start();
    let c = s.cli();
    let mut uploaded = Vec::new();
    for (i, v) in ["1.0.0", "1.0.1"].iter().enumerate() {
        let p = s.dir.join(format!("Acme.Web.{v}.tar.gz"));
        write_stored_tar_gz(&p, "app.bin", &noise(40 + i as u64, 3 << 20));
        c.ok(&["package", "upload", p.to_str().unwrap()]);
        uploaded.push((v.to_string(), sha(&p)));
    }
    let before = c.json(&["package", "stats"]);
    s.stop();
    let chunks = s.data_dir.join("chunks");
    let count = stored_chunks(&chunks).len();
    to_older_layout(&chunks);
    assert!(!chunks.join("packs").exists());

    s.start_again();
    let c = s.cli();
    assert!(
        s.log_text().contains("chunk store moved into pack files"),
        "the migration is logged"
    );
    assert_eq!(c.json(&["package", "stats"])["chunks"], before["chunks"]);
    for (v, want) in &uploaded {
        let out = s.dir.join(format!("down-{v}.tar.gz"));
        c.ok(&[
            "package",
            "download",
            "Acme.Web",
            v,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(&sha(&out), want, "{v} byte for byte after the migration");
    }
    assert_eq!(stored_chunks(&chunks).len(), count);
    let left: Vec<_> = std::fs::read_dir(&chunks)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["packs"], "no chunk file of the older layout is left");
}

#[test]
fn a_flipped_byte_in_a_pack_is_refused_naming_the_chunk() {
    let s = Space::start();
    let c = s.cli();
    let p = s.dir.join("Acme.Web.2.0.0.tar.gz");
    write_stored_tar_gz(&p, "app.bin", &noise(50, 1 << 20));
    c.ok(&["package", "upload", p.to_str().unwrap()]);
    let (hash, pack, offset, len) = stored_chunks(&s.data_dir.join("chunks"))
        .into_iter()
        .nth(3)
        .unwrap();
    flip_byte(&pack, offset + u64::from(len) / 2);
    let out = s.dir.join("down.tar.gz");
    let err = c.fails(&[
        "package",
        "download",
        "Acme.Web",
        "2.0.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains(&hex::encode(hash)),
        "the damaged chunk is named: {err}"
    );
    assert!(
        !out.exists(),
        "nothing of a damaged package is left at --out"
    );
}

fn stats(c: &e2e::Cli) -> (u64, u64) {
    let s = c.json(&["package", "stats"]);
    (
        s["chunks"].as_u64().unwrap(),
        s["stored_bytes"].as_u64().unwrap(),
    )
}

#[test]
fn garbage_collection_frees_what_no_package_needs_with_a_dry_run_first() {
    let s = Space::start();
    let c = s.cli();
    let upload = |v: &str, seed: u64| {
        let p = s.dir.join(format!("Acme.Api.{v}.tar.gz"));
        write_stored_tar_gz(&p, "api.bin", &noise(seed, 2 << 20));
        c.ok(&["package", "upload", p.to_str().unwrap()]);
        p
    };
    let kept = upload("1.0.0", 60);
    upload("1.0.1", 61);
    c.ok(&["package", "delete", "Acme.Api", "1.0.1"]);
    let before = stats(&c);

    // The default minimum age (24 h) leaves packs written just now alone.
    let r = c.json(&["package", "gc", "--dry-run"]);
    assert_eq!(r["chunks"], 0, "{r}");
    let r = c.json(&["package", "gc", "--dry-run", "--min-age-hours", "0"]);
    let freed = r["chunks"].as_u64().unwrap();
    assert!(
        freed > 0 && r["freed_bytes"].as_u64().unwrap() > 1 << 20,
        "{r}"
    );
    assert_eq!(stats(&c), before, "a dry run changes nothing");

    let out = c.run(&["package", "gc", "--min-age-hours", "0"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("freed {freed} chunk(s)")), "{said}");
    assert_eq!(stats(&c).0, before.0 - freed);
    let down = s.dir.join("kept.tar.gz");
    c.ok(&[
        "package",
        "download",
        "Acme.Api",
        "1.0.0",
        "--out",
        down.to_str().unwrap(),
    ]);
    assert_eq!(sha(&down), sha(&kept), "the package kept is whole");
    let again = c.json(&["package", "gc", "--min-age-hours", "0"]);
    assert_eq!(again["chunks"], 0, "nothing left to free: {again}");
    // What is on disk is now the kept chunks and their record headers (and a pack's magic).
    let st = c.json(&["package", "stats"]);
    let overhead = st["pack_bytes"].as_u64().unwrap() - st["stored_bytes"].as_u64().unwrap();
    assert!(
        overhead <= 40 * st["chunks"].as_u64().unwrap() + 8 * st["pack_files"].as_u64().unwrap(),
        "{st}"
    );
}

/// An upload whose chunks are those of a deleted package (so it finds them present) runs
/// while collections run: it still ends whole.
#[test]
fn collection_never_deletes_what_an_upload_in_flight_counted_on() {
    let s = Space::start();
    let c = s.cli();
    let content = noise(70, 6 << 20);
    let first = s.dir.join("Acme.Db.1.0.0.tar.gz");
    write_stored_tar_gz(&first, "db.bin", &content);
    c.ok(&["package", "upload", first.to_str().unwrap()]);
    c.ok(&["package", "delete", "Acme.Db", "1.0.0"]);
    let again = s.dir.join("Acme.Db.1.0.1.tar.gz");
    write_stored_tar_gz(&again, "db.bin", &content);
    let uploader = {
        let (c, path) = (s.cli(), again.clone());
        std::thread::spawn(move || c.ok(&["package", "upload", path.to_str().unwrap()]))
    };
    while !uploader.is_finished() {
        c.ok(&["package", "gc", "--min-age-hours", "0"]);
    }
    uploader.join().unwrap();
    c.ok(&["package", "gc", "--min-age-hours", "0"]);
    let down = s.dir.join("down-db.tar.gz");
    c.ok(&[
        "package",
        "download",
        "Acme.Db",
        "1.0.1",
        "--out",
        down.to_str().unwrap(),
    ]);
    assert_eq!(sha(&down), sha(&again));
}
