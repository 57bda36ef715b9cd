//! End to end, two networks: an `odcm` per network with one Space each, certificates carried
//! by file (`deploy odcm space export-cert` / `remote-space add --cert`). A certificate of the
//! other network is refused until registered, a wrongly registered one is refused naming the
//! fingerprint mismatch, trusts hold in their direction only, and a Space keeps enforcing its
//! last trust set while its ODCM is down.

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::peers::{crafted_identity, ping};
use e2e::wait_for;

fn odcm(o: &Odcm, args: &[&str]) -> String {
    let mut a = vec!["odcm"];
    a.extend(args);
    o.cli().ok(&a)
}

#[test]
fn disconnected_networks_exchange_certificates_by_file() {
    let a = Odcm::start("NetA");
    let mut b = Odcm::start("NetB");
    let (dev, _) = a.enrolled_space("DevTest");
    let (mut prod, _) = b.enrolled_space("Prod");
    let prod_pem = b.dir.join("prod.pem");
    let dev_pem = a.dir.join("devtest.pem");
    odcm(
        &b,
        &[
            "space",
            "export-cert",
            "Prod",
            "--out",
            prod_pem.to_str().unwrap(),
        ],
    );
    odcm(
        &a,
        &[
            "space",
            "export-cert",
            "DevTest",
            "--out",
            dev_pem.to_str().unwrap(),
        ],
    );

    // Network A registers Prod and accepts receipts from it; B does not know DevTest yet.
    odcm(
        &a,
        &[
            "remote-space",
            "add",
            "Prod",
            "--cert",
            prod_pem.to_str().unwrap(),
            "--endpoint",
            &prod.peer_address,
        ],
    );
    odcm(
        &a,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
        ],
    );
    wait_for(
        "Prod to refuse a certificate of another CA",
        Duration::from_secs(10),
        || {
            ping(&dev, "Prod", Some("releases"))
                .is_err_and(|e| e.contains("is not trusted") && e.contains("NetA CA"))
        },
    );

    // B registers a wrong certificate under DevTest's name: refused as a fingerprint mismatch.
    let impostor_ca = net::pki::CertificateAuthority::create("NetA").expect("ca");
    let now = net::pki::unix_now();
    let fake = crafted_identity(&impostor_ca, "DevTest", now - 60, now + 3600);
    let fake_pem = b.dir.join("fake.pem");
    std::fs::write(&fake_pem, &fake.cert_pem).expect("write");
    odcm(
        &b,
        &[
            "remote-space",
            "add",
            "DevTest",
            "--cert",
            fake_pem.to_str().unwrap(),
            "--endpoint",
            &dev.peer_address,
        ],
    );
    odcm(
        &b,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    wait_for(
        "Prod to refuse a mismatching certificate",
        Duration::from_secs(10),
        || {
            ping(&dev, "Prod", Some("releases")).is_err_and(|e| {
                e.contains("does not match the registered certificate of Remote Space 'DevTest'")
            })
        },
    );

    // The right file: DevTest may offer releases to Prod, Prod may send receipts back.
    odcm(&b, &["remote-space", "remove", "DevTest"]);
    let shown = odcm(
        &b,
        &[
            "remote-space",
            "add",
            "DevTest",
            "--cert",
            dev_pem.to_str().unwrap(),
            "--endpoint",
            &dev.peer_address,
        ],
    );
    let dev_fp = dev.cli().json(&["space", "status"])["fingerprint"].clone();
    assert_eq!(shown.trim(), dev_fp.as_str().unwrap_or_default());
    odcm(
        &b,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    wait_for("DevTest to reach Prod", Duration::from_secs(10), || {
        ping(&dev, "Prod", Some("releases")).is_ok()
    });
    let out = ping(&dev, "Prod", Some("releases")).unwrap();
    assert!(
        out.contains("Prod (NetB)") && out.contains("DevTest (NetA"),
        "{out}"
    );
    let out = ping(&prod, "DevTest", Some("receipts")).expect("Prod sends receipts to DevTest");
    assert!(
        out.contains("DevTest (NetA)") && out.contains("Prod (NetB"),
        "{out}"
    );
    let e = ping(&prod, "DevTest", Some("releases")).unwrap_err();
    assert!(
        e.contains("bundle offered by space 'Prod' which DevTest does not trust for releases"),
        "{e}"
    );
    wait_for(
        "the accepted bundle in B's audit log",
        Duration::from_secs(5),
        || odcm(&b, &["audit", "list"]).contains("bundle_accepted"),
    );
    for o in [&a, &b] {
        assert!(odcm(o, &["audit", "verify"]).contains("audit log verified"));
    }

    // ODCM B goes away: Prod restarts from its stored trust set and still accepts DevTest.
    b.stop();
    prod.restart();
    let st = prod.cli().json(&["space", "status"]);
    assert_eq!(st["odcm_connected"], false);
    assert!(
        st["trusts"]
            .to_string()
            .contains("Prod accepts releases from DevTest"),
        "{st}"
    );
    ping(&dev, "Prod", Some("releases")).expect("the stored trust set still holds");
}
