//! Unit tests of `checkpoint.rs`: which checkpoint a Space keeps when its ODCM offers a newer,
//! the same, an older or a forked one.

use super::*;
use net::pki::CertificateAuthority;

fn cp(ca: &CertificateAuthority, entries: u64, head: &str) -> Checkpoint {
    Checkpoint::issue(
        ca.odcm(),
        &ca.cert().fingerprint,
        entries,
        head,
        1_800_000_000,
        |b| ca.sign(b).map_err(|e| e.to_string()),
    )
    .unwrap()
}

#[test]
fn the_first_and_newer_consistent_checkpoints_are_kept() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let (kept, problem) = decide(None, cp(&ca, 3, "a"), true, "");
    assert_eq!((kept.entries, problem), (3, None));
    let (kept, problem) = decide(Some(kept), cp(&ca, 5, "b"), true, "");
    assert_eq!((kept.entries, problem), (5, None));
}

#[test]
fn an_older_a_forked_or_an_inconsistent_offer_keeps_the_held_one() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let held = cp(&ca, 5, "b");
    let (kept, problem) = decide(Some(held.clone()), cp(&ca, 3, "a"), true, "");
    assert_eq!(kept, held);
    let why = problem.unwrap();
    assert!(
        why.contains("3 entries, fewer than the 5") && why.contains("rolled back"),
        "{why}"
    );

    let (kept, problem) = decide(Some(held.clone()), cp(&ca, 5, "x"), true, "");
    assert_eq!(kept, held);
    assert!(problem.unwrap().contains("rewritten"));

    let (kept, problem) = decide(
        Some(held.clone()),
        cp(&ca, 9, "y"),
        false,
        "entries 4 to 5 were cut",
    );
    assert_eq!(kept, held);
    assert!(problem.unwrap().contains("entries 4 to 5 were cut"));
}
