//! Unit tests of `checkpoint.rs`: round trip, another ODCM's or a changed checkpoint refused,
//! and the order of two checkpoints.

use super::*;
use net::pki::CertificateAuthority;

fn issue(ca: &CertificateAuthority, entries: u64, head: &str) -> Checkpoint {
    Checkpoint::issue(
        ca.odcm(),
        &ca.cert().fingerprint,
        entries,
        head,
        1_700_000_000,
        |b| ca.sign(b).map_err(|e| e.to_string()),
    )
    .expect("sign")
}

#[test]
fn a_checkpoint_round_trips_and_verifies() {
    let ca = CertificateAuthority::create("Odcm-A").expect("ca");
    let c = issue(&ca, 7, "ab12");
    let back = Checkpoint::read_verified(&c.to_bytes(), &ca.cert().der).expect("verify");
    assert_eq!(back, c);
    assert_eq!(back.entries, 7);
}

#[test]
fn another_odcms_checkpoint_is_refused_by_name() {
    let a = CertificateAuthority::create("Odcm-A").expect("ca");
    let b = CertificateAuthority::create("Odcm-B").expect("ca");
    let c = issue(&b, 7, "ab12");
    let err = Checkpoint::read_verified(&c.to_bytes(), &a.cert().der).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::OtherOdcm { odcm, .. } if odcm == "Odcm-B"),
        "{err}"
    );
    // Claiming A's fingerprint does not help: the signature is B's.
    let mut forged = c.clone();
    forged.ca_fingerprint = a.cert().fingerprint.clone();
    let err = Checkpoint::read_verified(&forged.to_bytes(), &a.cert().der).unwrap_err();
    assert_eq!(err, CheckpointError::BadSignature);
}

#[test]
fn a_changed_checkpoint_is_refused() {
    let ca = CertificateAuthority::create("Odcm-A").expect("ca");
    let mut c = issue(&ca, 7, "ab12");
    c.entries = 9;
    let err = Checkpoint::read_verified(&c.to_bytes(), &ca.cert().der).unwrap_err();
    assert_eq!(err, CheckpointError::BadSignature);
    let bytes = vec![b' '; MAX_BYTES + 1];
    assert_eq!(Checkpoint::parse(&bytes), Err(CheckpointError::TooLarge));
    assert!(matches!(
        Checkpoint::parse(br#"{"format":"x"}"#),
        Err(CheckpointError::Unreadable(_))
    ));
}

#[test]
fn order_names_newer_older_and_forks() {
    let ca = CertificateAuthority::create("Odcm-A").expect("ca");
    let held = issue(&ca, 7, "aa");
    assert_eq!(issue(&ca, 8, "bb").order(&held), Order::Newer);
    assert_eq!(issue(&ca, 6, "cc").order(&held), Order::Older);
    assert_eq!(issue(&ca, 7, "aa").order(&held), Order::Same);
    assert_eq!(issue(&ca, 7, "dd").order(&held), Order::Fork);
}
