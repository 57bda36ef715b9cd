//! Receipts files: round trip with real ODCM-issued keys, every refusal, and random byte flips.

use proptest::prelude::*;

use super::*;
use crate::bundle::SigningIdentity;
use net::pki::{CertificateAuthority, new_csr, unix_now};

struct Space {
    cert: CertInfo,
    signer: SigningIdentity,
}

fn space(ca: &CertificateAuthority, name: &str) -> Space {
    let pending = new_csr(name, ca.odcm()).unwrap();
    let signed = ca
        .sign_csr(&pending.csr_pem, name, unix_now() - 60, unix_now() + 86_400)
        .unwrap();
    Space {
        signer: SigningIdentity::from_pem(&signed.pem, pending.key_pem()).unwrap(),
        cert: signed.info,
    }
}

fn file() -> ReceiptFile {
    ReceiptFile {
        kind: KIND.into(),
        schema: SCHEMA.to_string(),
        from_space: "Prod".into(),
        to_space: "DevTest".into(),
        created_at: 1_700_000_000,
        receipts: vec![Receipt {
            id: "Deployments-7".into(),
            bundle_id: "00".repeat(16),
            bundle_digest: format!("sha256:{}", "ab".repeat(32)),
            project: "Web".into(),
            version: "1.0.0".into(),
            environment: "Production".into(),
            state: RunState::Success,
            started_at: Some(1_700_000_000),
            finished_at: Some(1_700_000_060),
            steps: vec![ReceiptStep {
                name: "Deploy".into(),
                state: RunState::Success,
                targets: 2,
                failed_targets: 0,
            }],
            targets: 2,
            traceparent: String::new(),
            route: vec![],
        }],
    }
}

struct Fixture {
    prod: Space,
    other: Space,
}

fn fixture() -> Fixture {
    let b = CertificateAuthority::create("odcm-b").unwrap();
    Fixture {
        prod: space(&b, "Prod"),
        other: space(&b, "QA"),
    }
}

fn trusting(c: &CertInfo) -> impl Fn(&str) -> Option<CertInfo> + '_ {
    move |k| (k == c.fingerprint).then(|| c.clone())
}

#[test]
fn round_trip_and_digest() {
    let f = fixture();
    let bytes = file().sign(&f.prod.signer).unwrap();
    assert!(is_receipts_file(&bytes));
    assert!(!is_receipts_file(br#"{"kind":"offline-drop-result"}"#));
    let v = verify(&bytes, "devtest", trusting(&f.prod.cert)).unwrap();
    assert_eq!(v.file, file());
    assert!(v.digest.starts_with("sha256:"));
    assert_eq!(v.signer_keyid, f.prod.cert.fingerprint);
}

#[test]
fn refusals_name_what_failed() {
    let f = fixture();
    let bytes = file().sign(&f.prod.signer).unwrap();
    // Not trusted for receipts.
    let e = verify(&bytes, "DevTest", |_| None).unwrap_err();
    assert!(
        matches!(e, ReceiptError::Untrusted { ref space, .. } if space == "Prod"),
        "{e}"
    );
    assert!(e.to_string().contains("does not trust for receipts"));
    // Addressed to someone else.
    let e = verify(&bytes, "QA", trusting(&f.prod.cert)).unwrap_err();
    assert!(matches!(e, ReceiptError::WrongAddressee { .. }), "{e}");
    // Signed by another Space's key under Prod's key id.
    let mut forged = file();
    forged.from_space = "QA".into();
    let other = forged.sign(&f.other.signer).unwrap();
    let e = verify(&other, "DevTest", |_| Some(f.prod.cert.clone())).unwrap_err();
    assert!(matches!(e, ReceiptError::BadSignature { .. }), "{e}");
    // A sender claiming another name than its certificate.
    let mut liar = file();
    liar.from_space = "Prod".into();
    assert!(liar.sign(&f.other.signer).is_err());
    // Newer schema major.
    let mut newer = file();
    newer.schema = "2.0".into();
    let e = verify(
        &newer.sign(&f.prod.signer).unwrap(),
        "DevTest",
        trusting(&f.prod.cert),
    )
    .unwrap_err();
    assert!(matches!(e, ReceiptError::SchemaTooNew { .. }), "{e}");
    assert!(e.to_string().contains("2.0") && e.to_string().contains("1.1"));
    // Newer minor of our major is read.
    let mut minor = file();
    minor.schema = "1.9".into();
    let e = verify(
        &minor.sign(&f.prod.signer).unwrap(),
        "DevTest",
        trusting(&f.prod.cert),
    )
    .unwrap_err();
    assert!(matches!(e, ReceiptError::SchemaTooNew { .. }), "{e}");
    // Names that would become keys must be plain text.
    let mut odd = file();
    odd.receipts[0].id = "Deployments-7\u{1f}x".into();
    let e = verify(
        &odd.sign(&f.prod.signer).unwrap(),
        "DevTest",
        trusting(&f.prod.cert),
    )
    .unwrap_err();
    assert!(e.to_string().contains("control characters"), "{e}");
    // Not an envelope at all.
    assert!(matches!(
        verify(b"hello", "DevTest", trusting(&f.prod.cert)).unwrap_err(),
        ReceiptError::Malformed(_)
    ));
}

#[test]
fn relayed_files_are_read_where_a_route_names_the_space() {
    let f = fixture();
    let hop = |space: &str| RouteHop {
        space: space.into(),
        project: "Svc".into(),
        bundle_id: "11".repeat(16),
        bundle_digest: format!("sha256:{}", "cd".repeat(32)),
    };
    // Prod's receipts for QA name Dev as the hop before: QA reads it directly, Dev as relayed.
    let mut chain = file();
    chain.to_space = "QA".into();
    chain.receipts[0].route = vec![hop("Dev")];
    let bytes = chain.sign(&f.prod.signer).unwrap();
    let direct = verify(&bytes, "qa", trusting(&f.prod.cert)).unwrap();
    assert!(!direct.relayed);
    let relayed = verify(&bytes, "DEV", trusting(&f.prod.cert)).unwrap();
    assert!(relayed.relayed);
    assert_eq!(relayed.file.receipts[0].route, vec![hop("Dev")]);
    // A Space no route names is not an addressee.
    let e = verify(&bytes, "Other", trusting(&f.prod.cert)).unwrap_err();
    assert!(matches!(e, ReceiptError::WrongAddressee { .. }), "{e}");
    // Route entries are names like any other, and a route is bounded.
    let mut odd = chain.clone();
    odd.receipts[0].route[0].space = "De\u{7}v".into();
    let e = verify(
        &odd.sign(&f.prod.signer).unwrap(),
        "QA",
        trusting(&f.prod.cert),
    )
    .unwrap_err();
    assert!(e.to_string().contains("route space"), "{e}");
    let mut long = chain.clone();
    long.receipts[0].route = (0..=MAX_ROUTE).map(|i| hop(&format!("S{i}"))).collect();
    let e = verify(
        &long.sign(&f.prod.signer).unwrap(),
        "QA",
        trusting(&f.prod.cert),
    )
    .unwrap_err();
    assert!(e.to_string().contains("hops"), "{e}");
    // A 1.0 file (no route) still reads.
    let mut old = file();
    old.schema = "1.0".into();
    assert!(
        verify(
            &old.sign(&f.prod.signer).unwrap(),
            "DevTest",
            trusting(&f.prod.cert)
        )
        .is_ok()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_changed_byte_is_refused(pos in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<bool>()) {
        thread_local!(static CASE: (Fixture, Vec<u8>) = {
            let f = fixture();
            let b = file().sign(&f.prod.signer).unwrap();
            (f, b)
        });
        CASE.with(|(f, original)| {
            let mut bytes = original.clone();
            let i = pos.index(bytes.len());
            if cut {
                bytes.truncate(i);
            } else {
                bytes[i] ^= xor;
            }
            prop_assert!(verify(&bytes, "DevTest", trusting(&f.prod.cert)).is_err(), "byte {} accepted", i);
            Ok(())
        })?;
    }
}
