//! Anyone who can reach a Space's peer port can be refused; a flood of refused calls with
//! huge, hostile subjects must cost the ODCM (audit log, database, log) a bounded amount, and
//! the admin's audit listing must keep working.

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::peers::{check_trust, crafted_identity, dir_size};
use e2e::wait_for;

#[test]
fn a_flood_of_refused_peer_calls_costs_the_odcm_a_bounded_amount() {
    let mut odcm = Odcm::start("NetA");
    let (dev, _) = odcm.enrolled_space("DevTest");
    wait_for(
        "DevTest to watch its trust set",
        Duration::from_secs(10),
        || dev.cli().json(&["space", "status"])["odcm_connected"] == true,
    );
    let ca_pem = std::fs::read_to_string(dev.data_dir.join("identity/ca.crt")).expect("ca");
    let db = odcm.data_dir.join("db");
    let (db_before, log_before) = (dir_size(&db), odcm.log_text().len());

    let elsewhere = net::pki::CertificateAuthority::create("Elsewhere").expect("ca");
    let now = net::pki::unix_now();
    let stranger = crafted_identity(&elsewhere, "Mallory\u{1b}[2J", now - 60, now + 3600);
    let subject = format!("{}\u{1b}]0;owned\u{7}\n", "A".repeat(1 << 20));
    for i in 0..40 {
        let who = (i % 2 == 0).then_some(&stranger);
        let (code, msg) = check_trust(&dev.peer_address, &ca_pem, who, &subject).unwrap_err();
        assert_eq!(code, tonic::Code::Unauthenticated, "{msg}");
    }

    let oc = odcm.cli();
    let refusals = || -> Vec<serde_json::Value> {
        oc.json(&["odcm", "audit", "list"])
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["kind"] == "bundle_refused")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for(
        "the refusal in the audit log",
        Duration::from_secs(10),
        || !refusals().is_empty(),
    );
    std::thread::sleep(Duration::from_secs(1)); // any further report would have landed
    let found = refusals();
    assert_eq!(found.len(), 1, "one entry for the whole flood: {found:?}");
    let text = found[0].to_string();
    assert!(
        text.len() < 4_000,
        "subject and detail are capped: {} bytes",
        text.len()
    );
    for bad in ['\u{1b}', '\u{7}'] {
        assert!(!text.contains(bad), "no control characters kept: {text}");
    }
    assert!(
        oc.ok(&["odcm", "audit", "verify"])
            .contains("audit log verified")
    );

    odcm.stop();
    let grown = dir_size(&db).saturating_sub(db_before);
    let logged = odcm.log_text().len().saturating_sub(log_before);
    eprintln!("40 refused calls of 1 MiB: ODCM database +{grown} bytes, log +{logged} bytes");
    assert!(grown < 4 << 20, "database grew by {grown} bytes");
    assert!(logged < 64 << 10, "log grew by {logged} bytes");
}
