//! End to end, one network: an `odcm` and two `space-server`s enrolled with it by token, driven
//! by the real `deploy` CLI. Calls between the Spaces succeed only along a trust and in its
//! direction, a revoked trust refuses the next call within a second, refused certificates say
//! why, a rotated certificate is accepted during the overlap and refused after it, and the
//! audit chain verifies until someone edits the store.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::odcm::Odcm;
use e2e::peers::{crafted_identity, ping, who_am_i};
use e2e::{bin, wait_for};
use storage::{Batch, SledStore, Store};

fn trust(o: &Odcm, verb: &str, from: &str, to: &str, kind: &str) {
    o.cli().ok(&[
        "odcm", "trust", verb, "--from", from, "--to", to, "--kind", kind,
    ]);
}

#[test]
fn connected_spaces_follow_trusts_rotation_and_audit() {
    let mut odcm = Odcm::start_with_args("NetA", &["--rotation-overlap-secs", "4"]);
    let (dev, dev_token) = odcm.enrolled_space("DevTest");
    let (mut prod, _) = odcm.enrolled_space("Prod");

    // The ODCM identity is separate from the pinned API certificate, and its key is private.
    let st = dev.cli().json(&["space", "status"]);
    assert_eq!(st["space"], "DevTest");
    assert_eq!(st["odcm"], "NetA");
    assert_ne!(st["fingerprint"], dev.fingerprint.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dev.data_dir.join("identity/space.key");
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "space.key must be 0600");
    }
    wait_for(
        "DevTest to watch its trust set",
        Duration::from_secs(10),
        || dev.cli().json(&["space", "status"])["odcm_connected"] == true,
    );

    // A token works once, and the error says so without echoing it.
    let again = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin("space-server"))
        .arg("init")
        .arg("--data-dir")
        .arg(again.path().join("data"))
        .args(["--name", "DevTest", "--odcm-url", &odcm.address])
        .args(["--odcm-fingerprint", &odcm.fingerprint])
        .env("SPACE_ENROLMENT_TOKEN", &dev_token)
        .env_remove("SPACE_CONFIG")
        .output()
        .expect("space-server init");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("already used"), "{err}");
    assert!(!err.contains(&dev_token), "the token must not be printed");

    // No trust: the Spaces do not know each other.
    let e = ping(&dev, "Prod", None).unwrap_err();
    assert!(e.contains("not in the trust set of DevTest"), "{e}");

    // Prod accepts releases from DevTest: DevTest may call Prod, not the other way round.
    trust(&odcm, "add", "DevTest", "Prod", "releases");
    wait_for("DevTest to reach Prod", Duration::from_secs(5), || {
        ping(&dev, "Prod", Some("releases")).is_ok()
    });
    let out = ping(&dev, "Prod", Some("releases")).unwrap();
    assert!(
        out.contains("Prod (NetA)") && out.contains("DevTest (NetA"),
        "{out}"
    );
    let e = ping(&dev, "Prod", Some("receipts")).unwrap_err();
    assert!(
        e.contains("receipt sent by space 'DevTest' which Prod does not trust for receipts"),
        "{e}"
    );
    let e = ping(&prod, "DevTest", None).unwrap_err();
    assert!(
        e.contains("'Prod' (ODCM 'NetA') is not trusted by DevTest"),
        "{e}"
    );

    // DevTest accepts receipts from Prod: now Prod may call DevTest for receipts.
    trust(&odcm, "add", "DevTest", "Prod", "receipts");
    wait_for("Prod to reach DevTest", Duration::from_secs(5), || {
        ping(&prod, "DevTest", Some("receipts")).is_ok()
    });

    // Revoking refuses the next call within a second.
    trust(&odcm, "revoke", "DevTest", "Prod", "releases");
    let t = Instant::now();
    wait_for(
        "the revoked trust to refuse",
        Duration::from_secs(1),
        || ping(&dev, "Prod", Some("releases")).is_err(),
    );
    eprintln!("revocation took effect after {:?}", t.elapsed());
    let e = ping(&dev, "Prod", Some("releases")).unwrap_err();
    assert!(
        e.contains("bundle offered by space 'DevTest' which Prod does not trust for releases"),
        "{e}"
    );

    // Certificates that are refused, each with its reason.
    let ca_pem = std::fs::read_to_string(dev.data_dir.join("identity/ca.crt")).expect("ca");
    let e = who_am_i(&dev.peer_address, &ca_pem, None).unwrap_err();
    assert!(e.contains("requires a client certificate"), "{e}");
    let other = net::pki::CertificateAuthority::create("Elsewhere").expect("ca");
    let now = net::pki::unix_now();
    let stranger = crafted_identity(&other, "Prod", now - 60, now + 3600);
    let e = who_am_i(&dev.peer_address, &ca_pem, Some(&stranger)).unwrap_err();
    assert!(
        e.contains("Elsewhere CA") && e.contains("is not trusted"),
        "{e}"
    );
    let net_a = net::pki::CertificateAuthority::load_or_create(&odcm.data_dir, "NetA")
        .expect("the ODCM's CA");
    let expired = crafted_identity(&net_a, "Prod", now - 7200, now - 3600);
    let e = who_am_i(&dev.peer_address, &ca_pem, Some(&expired)).unwrap_err();
    assert!(e.contains("expired at"), "{e}");

    // Rotation: Prod gets a new certificate; the running server still presents the old one,
    // accepted for the 4 s overlap, then refused; after a restart it presents the new one.
    let out = Command::new(bin("space-server"))
        .arg("rotate-cert")
        .arg("--data-dir")
        .arg(&prod.data_dir)
        .env_remove("SPACE_CONFIG")
        .output()
        .expect("rotate-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated_at = Instant::now();
    let ok = ping(&prod, "DevTest", Some("receipts"));
    assert!(rotated_at.elapsed() < Duration::from_secs(4));
    assert!(
        ok.is_ok(),
        "the old certificate is accepted during the overlap: {ok:?}"
    );
    wait_for(
        "the old certificate to be refused",
        Duration::from_secs(15),
        || {
            ping(&prod, "DevTest", Some("receipts"))
                .is_err_and(|e| e.contains("was replaced and stopped being accepted"))
        },
    );
    prod.restart();
    wait_for(
        "Prod to call with its new certificate",
        Duration::from_secs(10),
        || ping(&prod, "DevTest", Some("receipts")).is_ok(),
    );

    // The audit log holds what crossed and verifies; editing one entry breaks it there.
    let oc = odcm.cli();
    wait_for(
        "trust checks in the audit log",
        Duration::from_secs(5),
        || {
            let kinds: Vec<String> = oc
                .json(&["odcm", "audit", "list"])
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e["kind"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            [
                "bundle_accepted",
                "bundle_refused",
                "receipt_accepted",
                "cert_rotated",
            ]
            .iter()
            .all(|k| kinds.iter().any(|x| x == k))
        },
    );
    assert!(
        oc.ok(&["odcm", "audit", "verify"])
            .contains("audit log verified")
    );
    odcm.stop();
    {
        let store = SledStore::open(&odcm.data_dir.join("db")).expect("open the ODCM store");
        let key = format!("{:020}", 4);
        let raw = store.get("audit", &key).expect("read").expect("entry 4");
        let mut v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        v["data"]["detail"] = serde_json::Value::String("nothing happened here".into());
        let mut b = Batch::new();
        b.put("audit", &key, serde_json::to_vec(&v).expect("encode"));
        store.commit(b).expect("write");
        store.flush().expect("flush");
    }
    odcm.start_again();
    let e = odcm.cli().fails(&["odcm", "audit", "verify"]);
    assert!(e.contains("broken at entry 4"), "{e}");
    let logs = format!("{}{}{}", dev.log_text(), prod.log_text(), odcm.log_text());
    assert!(!logs.contains(&dev_token), "the token must never be logged");
    assert!(!logs.contains("PRIVATE KEY"), "no keys in logs");
}
