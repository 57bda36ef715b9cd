//! Bundle round trips with real ODCM-issued keys, and every refusal.

use proptest::prelude::*;

use super::envelope::build_with_schema;
use super::*;
use domain::model::{
    PinnedPackage, Process, RunState, Scope, Step, StepAction, TemplateKind, VariableTemplate,
};
use net::pki::{CertInfo, CertificateAuthority, new_csr, unix_now};
use package_store::{ArchiveFormat, ChunkRef, PackageManifest};

/// A Space's certificate (issued by an ODCM CA, as in production) and its private key PEM.
struct Space {
    cert: CertInfo,
    cert_pem: String,
    key_pem: String,
}

fn space(ca: &CertificateAuthority, name: &str) -> Space {
    let pending = new_csr(name, ca.odcm()).unwrap();
    let signed = ca
        .sign_csr(&pending.csr_pem, name, unix_now() - 60, unix_now() + 86_400)
        .unwrap();
    Space {
        cert: signed.info,
        cert_pem: signed.pem,
        key_pem: pending.key_pem().to_string(),
    }
}

struct Fixture {
    dev: Space,
    prod: Space,
    qa: Space,
}

fn fixture() -> Fixture {
    let a = CertificateAuthority::create("odcm-a").unwrap();
    let b = CertificateAuthority::create("odcm-b").unwrap();
    Fixture {
        dev: space(&a, "DevTest"),
        prod: space(&b, "Prod"),
        qa: space(&b, "QA"),
    }
}

fn manifest() -> PackageManifest {
    PackageManifest {
        id: "Acme.Web".into(),
        version: "1.0.0".into(),
        size: 30,
        sha256: "ab".repeat(32),
        format: ArchiveFormat::TarGz,
        chunks: vec![
            ChunkRef {
                hash: [1; 32],
                length: 10,
            },
            ChunkRef {
                hash: [2; 32],
                length: 20,
            },
        ],
        uploaded_at: 7,
    }
}

fn var(id: &str, name: &str, value: &str, sensitive: bool) -> DraftVariable {
    DraftVariable {
        id: id.into(),
        name: name.into(),
        value: value.into(),
        sensitive,
        scope: Scope {
            environments: vec!["Prod: Production".into()],
            ..Scope::default()
        },
        description: String::new(),
    }
}

fn draft(target: &str) -> BundleDraft {
    BundleDraft {
        source_space: "DevTest".into(),
        target_space: target.into(),
        project: ProjectInfo {
            name: "Web".into(),
            description: "the shop".into(),
        },
        release: ReleaseInfo {
            version: "1.0.0".into(),
            notes: "first".into(),
            channel: "Default".into(),
        },
        process: Process {
            steps: vec![Step {
                name: "Deploy".into(),
                environments: vec![],
                roles: vec!["web".into()],
                channels: vec![],
                action: StepAction::DeployPackage {
                    package_id: "Acme.Web".into(),
                    substitute_files: vec![],
                    structured_files: vec![],
                },
            }],
        },
        variables: vec![
            var("v-1", "Url", "https://shop", false),
            var("v-2", "DbPassword", "hunter2-secret", true),
            var("v-3", "ApiKey", "k3y-secret", true),
        ],
        templates: vec![VariableTemplate {
            name: "Region".into(),
            label: "Region".into(),
            help_text: String::new(),
            kind: TemplateKind::Text,
            mandatory: true,
            default_value: None,
        }],
        pinned_packages: vec![PinnedPackage {
            step: "Deploy".into(),
            id: "Acme.Web".into(),
            version: "1.0.0".into(),
            sha256: "ab".repeat(32),
        }],
        packages: vec![manifest()],
        deployments: vec![DeploymentSummary {
            space: "DevTest".into(),
            environment: "Test".into(),
            state: RunState::Success,
            finished_at: Some(42),
        }],
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        origin: None,
    }
}

fn signer(s: &Space) -> SigningIdentity {
    SigningIdentity::from_pem(&s.cert_pem, &s.key_pem).unwrap()
}

fn trusting(s: &Space) -> impl Fn(&str) -> Option<CertInfo> + '_ {
    move |keyid| (keyid == s.cert.fingerprint).then(|| s.cert.clone())
}

fn bundle(f: &Fixture) -> Vec<u8> {
    build(draft("Prod"), &f.prod.cert.der, &signer(&f.dev)).unwrap()
}

#[test]
fn round_trip_with_real_keys() {
    let f = fixture();
    let bytes = bundle(&f);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("k3y"));
    let v = verify(&bytes, "Prod", trusting(&f.dev)).unwrap();
    assert_eq!(v.signer_keyid, f.dev.cert.fingerprint);
    assert_eq!(v.schema, SCHEMA_VERSION);
    assert!(v.digest.starts_with("sha256:"));
    let c = &v.contents;
    assert_eq!(
        (c.source_space.as_str(), c.target_space.as_str()),
        ("DevTest", "Prod")
    );
    assert_eq!(c.release.version, "1.0.0");
    assert_eq!(c.process, draft("Prod").process);
    assert_eq!(c.templates.len(), 1);
    assert_eq!(c.deployments[0].state, RunState::Success);
    assert_eq!(v.manifests(), vec![manifest()]);
    assert_eq!(
        c.variables[0].value,
        BundleValue::Plain("https://shop".into())
    );
    assert!(c.variables[1].is_sensitive());
    let plain = v.decrypt_sensitive(&f.prod.key_pem).unwrap();
    let got: Vec<(&str, &str)> = plain
        .iter()
        .map(|d| (d.id.as_str(), d.value.as_str()))
        .collect();
    assert_eq!(got, [("v-2", "hunter2-secret"), ("v-3", "k3y-secret")]);
    assert!(!format!("{plain:?}").contains("hunter2"));
    assert!(!format!("{:?}", draft("Prod").variables).contains("hunter2"));

    // The envelope is plain DSSE around an in-toto statement whose subjects are the packages.
    let env: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(env["payloadType"], PAYLOAD_TYPE);
    assert_eq!(
        env["signatures"][0]["keyid"],
        f.dev.cert.fingerprint.as_str()
    );
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(st["_type"], STATEMENT_TYPE);
    assert_eq!(st["predicateType"], "urn:deploy:release-bundle:v1.2");
    assert_eq!(st["subject"][0]["name"], "Acme.Web@1.0.0");
    assert_eq!(st["subject"][0]["digest"]["sha256"], "ab".repeat(32));
}

#[test]
fn untrusted_signer_is_refused_by_name() {
    let f = fixture();
    let err = verify(&bundle(&f), "Prod", |_| None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BundleError::Untrusted { .. }), "{msg}");
    assert!(
        msg.contains("'DevTest'") && msg.contains(&f.dev.cert.fingerprint),
        "{msg}"
    );
    assert!(msg.contains("does not trust for releases"), "{msg}");
}

#[test]
fn signature_by_another_key_is_refused() {
    let f = fixture();
    // The key id is trusted but maps to another certificate (e.g. after a forged key id).
    let err = verify(&bundle(&f), "Prod", |_| Some(f.qa.cert.clone())).unwrap_err();
    assert!(matches!(err, BundleError::BadSignature { .. }), "{err}");
}

#[test]
fn bundle_for_another_space_is_refused() {
    let f = fixture();
    let err = verify(&bundle(&f), "QA", trusting(&f.dev)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle is encrypted for space 'Prod', not 'QA'"
    );
    let v = verify(&bundle(&f), "Prod", trusting(&f.dev)).unwrap();
    let err = v.decrypt_sensitive(&f.qa.key_pem).unwrap_err();
    assert!(matches!(err, BundleError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("'Prod'"), "{err}");
    assert!(v.decrypt_sensitive("not a key").is_err());
}

#[test]
fn schema_versions() {
    let f = fixture();
    let with = |major, minor| {
        let b = build_with_schema(
            draft("Prod"),
            &f.prod.cert.der,
            &signer(&f.dev),
            SchemaVersion { major, minor },
        )
        .unwrap();
        verify(&b, "Prod", trusting(&f.dev))
    };
    // 1.0 (before `origin`) and 1.1 (before its `route`) are still read; 1.2 is this build's.
    assert!(with(1, 0).is_ok());
    assert!(with(1, 1).is_ok());
    assert!(with(1, 2).is_ok());
    let err = with(2, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle schema 2.0 is newer than this server understands (1.2); upgrade this Space server"
    );
    assert!(matches!(with(1, 3), Err(BundleError::SchemaTooNew { .. })));
    let err = with(0, 9).unwrap_err();
    assert!(matches!(err, BundleError::SchemaTooOld { .. }), "{err}");
    assert!(
        err.to_string().contains("0.9") && err.to_string().contains("1.2"),
        "{err}"
    );
    assert_eq!(
        SchemaVersion::from_predicate_type("urn:deploy:release-bundle:v1."),
        None
    );
    assert_eq!(
        SchemaVersion::from_predicate_type("urn:deploy:release-bundle:v+1.0"),
        None
    );
}

#[test]
fn build_refuses_mismatched_identities() {
    let f = fixture();
    assert!(SigningIdentity::from_pem(&f.dev.cert_pem, &f.prod.key_pem).is_err());
    let err = build(draft("Prod"), &f.qa.cert.der, &signer(&f.dev)).unwrap_err();
    assert!(err.to_string().contains("'QA'"), "{err}");
    let err = build(draft("Prod"), &f.prod.cert.der, &signer(&f.qa)).unwrap_err();
    assert!(err.to_string().contains("signing certificate"), "{err}");
    let mut d = draft("Prod");
    d.pinned_packages[0].version = "9.9.9".into();
    let err = build(d, &f.prod.cert.der, &signer(&f.dev)).unwrap_err();
    assert!(matches!(err, BundleError::Inconsistent(_)), "{err}");
    assert!(!format!("{:?}", signer(&f.dev)).contains("PRIVATE"));
}

#[test]
fn sealed_values_are_bound_to_bundle_and_variable() {
    let f = fixture();
    let to = super::seal::Recipient::from_cert_der(&f.prod.cert.der).unwrap();
    let with = super::seal::Opener::from_pkcs8_pem(&f.prod.key_pem).unwrap();
    assert_eq!(to.key_id, with.key_id);
    let (enc, ct) = super::seal::seal(&to, "Prod", "b1", "v-2", "s3cret").unwrap();
    let open = |space, bundle, var| super::seal::open(&with, space, bundle, var, &enc, &ct);
    assert_eq!(open("Prod", "b1", "v-2").as_deref(), Some("s3cret"));
    assert_eq!(open("Prod", "b1", "v-3"), None, "moved to another variable");
    assert_eq!(open("Prod", "b2", "v-2"), None, "moved to another bundle");
    assert_eq!(open("QA", "b1", "v-2"), None, "moved to another space");
}

#[test]
fn dsse_pae_matches_the_spec() {
    assert_eq!(
        super::envelope::pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
}

#[test]
fn garbage_is_refused() {
    let f = fixture();
    for junk in [&b""[..], b"{}", b"null", b"[", &[0xff; 64]] {
        assert!(matches!(
            verify(junk, "Prod", trusting(&f.dev)),
            Err(BundleError::Malformed(_))
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_changed_byte_is_refused(pos in any::<prop::sample::Index>(), xor in 1u8..=255, cut in any::<bool>()) {
        thread_local!(static CASE: (Fixture, Vec<u8>) = {
            let f = fixture();
            let b = bundle(&f);
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
            prop_assert!(verify(&bytes, "Prod", trusting(&f.dev)).is_err(), "byte {} accepted", i);
            Ok(())
        })?;
    }
}

/// Re-signs `bytes` after `edit` changed its statement: only the change can be refused.
fn resigned(f: &Fixture, bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let parts = envelope_parts(bytes).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(&parts.payload).unwrap();
    edit(&mut st);
    signer(&f.dev)
        .sign_dsse(PAYLOAD_TYPE, &serde_json::to_vec(&st).unwrap())
        .unwrap()
}

#[test]
fn names_that_become_paths_are_refused_even_when_signed() {
    let f = fixture();
    let b = bundle(&f);
    assert!(verify(&resigned(&f, &b, |_| {}), "Prod", trusting(&f.dev)).is_ok());
    let traversal = resigned(&f, &b, |st| {
        st["predicate"]["bundle_id"] = "../../../tmp/x".into()
    });
    let err = verify(&traversal, "Prod", trusting(&f.dev)).unwrap_err();
    assert!(err.to_string().contains("bundle id"), "{err}");
    let bad_pkg = resigned(&f, &b, |st| {
        st["predicate"]["packages"][0]["id"] = "../evil".into();
        st["subject"][0]["name"] = "../evil@1.0.0".into();
    });
    let err = verify(&bad_pkg, "Prod", trusting(&f.dev)).unwrap_err();
    assert!(err.to_string().contains("../evil"), "{err}");
}
