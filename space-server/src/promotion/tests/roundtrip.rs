//! The promotion rules of two Spaces against the memory backend, without servers or files
//! carried by a CLI: DevTest promotes a release to Prod (signed, sensitive value sealed for
//! Prod), Prod adds and imports the bundle (refusing a tampered copy and a second import),
//! deploys it, and DevTest applies Prod's receipt once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use domain::model::{BundleState, ReceivedBundle, RunState, VariableInput};
use net::pki::{CertificateAuthority, new_csr, unix_now};
use net::tls::Identity;
use proto::odcm::v1 as odcm_pb;
use storage::StoreExt;

use crate::agents::Hub;
use crate::deployments::Engine;
use crate::error::ApiError;
use crate::peering::Peering;
use crate::promotion::{bundles, promote, receipts, receipts_in};
use crate::services::Services;
use crate::services::tests::{
    env, lifecycle, new_release, project, remote_env, script_step, space,
};
use crate::state::SpaceState;

const ODCM: &str = "NetA";

/// Writes the identity files an enrolment would have written, for `name` signed by `ca`.
fn enrol(data_dir: &Path, ca: &CertificateAuthority, name: &str) -> Identity {
    let pending = new_csr(name, "").unwrap();
    let now = unix_now();
    let signed = ca
        .sign_csr(&pending.csr_pem, name, now - 60, now + 86_400)
        .unwrap();
    let id = pending.into_identity(signed.pem);
    let dir = data_dir.join("identity");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("space.crt"), &id.cert_pem).unwrap();
    std::fs::write(dir.join("space.key"), &id.key_pem).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.cert_pem()).unwrap();
    let meta = serde_json::json!({
        "odcm": ODCM, "odcm_url": "", "odcm_fingerprint": "", "endpoint": ""
    });
    std::fs::write(dir.join("odcm.json"), meta.to_string()).unwrap();
    id
}

fn peer(name: &str, id: &Identity) -> odcm_pb::Peer {
    let info = net::pki::CertInfo::from_pem(&id.cert_pem).unwrap();
    odcm_pb::Peer {
        name: name.into(),
        odcm: ODCM.into(),
        remote: false,
        endpoint: String::new(),
        certs: vec![odcm_pb::PeerCert {
            cert_pem: id.cert_pem.clone(),
            fingerprint: info.fingerprint,
            not_after: info.not_after,
            accept_until: 0,
        }],
    }
}

fn trust(truster: &str, trusted: &str, kind: odcm_pb::TrustKind) -> odcm_pb::Trust {
    odcm_pb::Trust {
        source: trusted.into(),
        target: truster.into(),
        kind: kind as i32,
        truster: truster.into(),
        trusted: trusted.into(),
        created_at: 0,
    }
}

/// Loads the peering of `state` and gives it the trust set its ODCM would send.
fn peering(
    state: &Arc<SpaceState>,
    dir: &Path,
    ca: &CertificateAuthority,
    peers: Vec<odcm_pb::Peer>,
) {
    let p = Peering::load(dir).unwrap().unwrap();
    p.apply(odcm_pb::TrustSet {
        version: 1,
        odcm: ODCM.into(),
        ca_pem: ca.cert_pem(),
        space: state.name.clone(),
        peers,
        trusts: vec![
            trust("Prod", "DevTest", odcm_pb::TrustKind::Releases),
            trust("DevTest", "Prod", odcm_pb::TrustKind::Receipts),
        ],
        retired: vec![],
    })
    .unwrap();
    state.peering.set(Arc::new(p)).unwrap();
}

fn engine(state: &Arc<SpaceState>) -> Arc<Engine> {
    let hub = Hub::new(state.clone(), Duration::from_millis(100)).unwrap();
    Engine::new(state.clone(), hub, 2, None).unwrap()
}

/// DevTest: project Web, lifecycle straight to "Prod: Production", a script step, a plain and
/// a sensitive value, release 1.0.0.
async fn source_release(state: &Arc<SpaceState>) {
    let s = Services::new(state, None);
    s.environments
        .create(remote_env("Production", Some("Prod")))
        .await
        .unwrap();
    let l = lifecycle("ToProd", &["Prod: Production"]);
    s.lifecycles.create(l).await.unwrap();
    s.projects.create(project("Web", "ToProd")).await.unwrap();
    let step = script_step("Hello", "echo #{Greeting}");
    s.process.add_step("Web", None, step).await.unwrap();
    for (name, value, sensitive) in [("Greeting", "hello", false), ("Password", "s3cret", true)] {
        s.variables
            .set(VariableInput {
                project: "Web".into(),
                id: None,
                name: name.into(),
                value: value.into(),
                sensitive,
                scope: Default::default(),
                description: String::new(),
            })
            .await
            .unwrap();
    }
    let r = new_release("Web", "1.0.0");
    s.releases.create(r, "tester".into()).await.unwrap();
}

async fn add(state: &Arc<SpaceState>, bytes: Vec<u8>) -> Result<ReceivedBundle, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || bundles::add(&state, &bytes, "tester"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_goes_to_prod_and_its_result_comes_back_once() {
    let ca = CertificateAuthority::create(ODCM).unwrap();
    let (dev_dir, dev) = space("DevTest");
    let (prod_dir, prod) = space("Prod");
    let dev_id = enrol(dev_dir.path(), &ca, "DevTest");
    let prod_id = enrol(prod_dir.path(), &ca, "Prod");
    let peers = vec![peer("DevTest", &dev_id), peer("Prod", &prod_id)];
    peering(&dev, dev_dir.path(), &ca, peers.clone());
    peering(&prod, prod_dir.path(), &ca, peers);

    // DevTest promotes: the bundle is signed by DevTest and the secret is not in it in clear.
    source_release(&dev).await;
    let dev_engine = engine(&dev);
    let e = dev_engine.clone();
    let promoted =
        tokio::task::spawn_blocking(move || promote::promote(&e, "Web", "1.0.0", "Prod", "tester"))
            .await
            .unwrap()
            .unwrap();
    let bytes = promoted.bytes;
    assert!(!String::from_utf8_lossy(&bytes).contains("s3cret"));

    // Prod refuses a tampered copy and records nothing, then adds the real one (pending).
    let mut tampered = bytes.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 0x01;
    assert!(add(&prod, tampered).await.is_err());
    assert!(
        prod.store
            .all_records::<ReceivedBundle>("")
            .unwrap()
            .is_empty()
    );
    let rb = add(&prod, bytes.clone()).await.unwrap();
    assert_eq!(rb.state, BundleState::Pending);
    assert_eq!(rb.source_space, "DevTest");

    // Prod imports it into the Remote Project with its own lifecycle; the secret is re-sealed
    // with Prod's master key; a second import is refused and changes nothing.
    let ps = Services::new(&prod, None);
    ps.environments.create(env("Production")).await.unwrap();
    let l = lifecycle("Local", &["Production"]);
    ps.lifecycles.create(l).await.unwrap();
    let prod_engine = engine(&prod);
    let service = crate::promotion::service::PromotionService {
        engine: prod_engine.clone(),
    };
    let outcome = service
        .import_bundle(&rb.id, "Local", "tester")
        .await
        .unwrap();
    assert!(outcome.missing.is_empty(), "{:?}", outcome.missing);
    let imported = outcome.imported;
    assert!(imported.project_created);
    assert_eq!(imported.release.project, "DevTest: Web");
    let secret = imported
        .release
        .variables
        .iter()
        .find(|v| v.name == "Password")
        .unwrap();
    assert_eq!(prod.reveal("DevTest: Web", secret).unwrap(), "s3cret");
    let again = service.import_bundle(&rb.id, "Local", "tester").await;
    assert!(
        matches!(again, Err(ApiError::AlreadyExists { .. })),
        "a second import must be refused"
    );

    // Prod deploys it (no targets there: it fails, a result all the same) and exports the
    // receipt; DevTest applies it once and shows it on its dashboard.
    let d = prod_engine
        .create("DevTest: Web", "1.0.0", "Production", "tester", 0, None)
        .unwrap();
    for _ in 0..200 {
        if prod_engine.get(&d.id).unwrap().state.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let select = receipts::Selection {
        all: false,
        range: None,
    };
    let (count, file) = receipts::export(&prod, "DevTest", select, "tester")
        .await
        .unwrap();
    assert_eq!(count, 1);
    let mut tampered = file.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 0x01;
    assert!(
        receipts_in::import(&dev, &tampered, "tester")
            .await
            .is_err()
    );
    let first = receipts_in::import(&dev, &file, "tester").await.unwrap();
    assert_eq!((first.applied, first.already), (1, 0));
    let second = receipts_in::import(&dev, &file, "tester").await.unwrap();
    assert_eq!((second.applied, second.already), (0, 1));
    let dash = dev_engine
        .dashboard(&crate::permits::Viewer::everything())
        .unwrap();
    let cell = dash
        .cells
        .iter()
        .find(|c| c.environment == "Prod: Production")
        .unwrap();
    assert_eq!(cell.state, RunState::Failed);
    assert!(cell.receipt_received_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_refuses_strangers_and_malformed_lists_and_reports_what_it_lacks() {
    use crate::promotion::staging::{PART, accept};
    use proto::peer::v1::{StagePackagesRequest, StagedChunk};
    let ca = CertificateAuthority::create(ODCM).unwrap();
    let (prod_dir, prod) = space("Prod");
    let (dev_dir, _dev) = space("DevTest");
    let prod_id = enrol(prod_dir.path(), &ca, "Prod");
    let dev_id = enrol(dev_dir.path(), &ca, "DevTest");
    peering(
        &prod,
        prod_dir.path(),
        &ca,
        vec![peer("DevTest", &dev_id), peer("Prod", &prod_id)],
    );
    let chunk = |b: u8, length| StagedChunk {
        hash: vec![b; 32],
        length,
        package: 0,
    };
    let req = |id: &str, chunks| StagePackagesRequest {
        staging_id: id.into(),
        project: "Web".into(),
        version: "1.0.0".into(),
        part: 0,
        chunks,
        packages: vec!["Acme.Web".into()],
    };
    let id = "ab".repeat(16);
    let e = accept(&prod, "Stranger", req(&id, vec![chunk(1, 10)])).await;
    assert!(matches!(e, Err(ApiError::PermissionDenied(_))), "untrusted");
    for (bad, why) in [
        (req("../x", vec![chunk(1, 10)]), "staging id"),
        (req(&id, vec![chunk(1, 0)]), "length"),
        (req(&id, vec![chunk(1, 2 << 20)]), "length"),
        (req(&id, vec![chunk(1, 10); PART + 1]), "at most"),
        (
            req(
                &id,
                vec![StagedChunk {
                    hash: vec![1; 31],
                    length: 10,
                    package: 0,
                }],
            ),
            "32 bytes",
        ),
        (
            req(
                &id,
                vec![StagedChunk {
                    package: 1,
                    ..chunk(1, 10)
                }],
            ),
            "names package 1 of 1",
        ),
        (
            StagePackagesRequest {
                packages: vec!["../etc".into()],
                ..req(&id, vec![chunk(1, 10)])
            },
            "package id",
        ),
    ] {
        let e = accept(&prod, "DevTest", bad).await.unwrap_err();
        assert!(matches!(e, ApiError::Invalid(_)), "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
    let l = accept(
        &prod,
        "DevTest",
        req(&id, vec![chunk(1, 10), chunk(2, 20), chunk(1, 10)]),
    )
    .await
    .unwrap();
    assert_eq!((l.chunks, l.bytes), (2, 30), "both lacking, counted once");
}

/// A pending bundle is kept in memory as verified when it arrives; once its signer is no
/// longer trusted for releases, that copy is not used: the import checks the file again and
/// is refused, and the bundle stays pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_kept_verified_is_refused_once_its_signer_is_no_longer_trusted() {
    let ca = CertificateAuthority::create(ODCM).unwrap();
    let (dev_dir, dev) = space("DevTest");
    let (prod_dir, prod) = space("Prod");
    let dev_id = enrol(dev_dir.path(), &ca, "DevTest");
    let prod_id = enrol(prod_dir.path(), &ca, "Prod");
    let peers = vec![peer("DevTest", &dev_id), peer("Prod", &prod_id)];
    peering(&dev, dev_dir.path(), &ca, peers.clone());
    peering(&prod, prod_dir.path(), &ca, peers.clone());
    source_release(&dev).await;
    let e = engine(&dev);
    let promoted =
        tokio::task::spawn_blocking(move || promote::promote(&e, "Web", "1.0.0", "Prod", "tester"))
            .await
            .unwrap()
            .unwrap();
    let rb = add(&prod, promoted.bytes).await.unwrap();
    assert!(prod.verified_bundles.lock().unwrap().contains_key(&rb.id));
    let ps = Services::new(&prod, None);
    ps.environments.create(env("Production")).await.unwrap();
    ps.lifecycles
        .create(lifecycle("Local", &["Production"]))
        .await
        .unwrap();

    // The ODCM withdraws "Prod accepts releases from DevTest".
    let p = prod.peering.get().unwrap();
    p.apply(odcm_pb::TrustSet {
        version: 2,
        odcm: ODCM.into(),
        ca_pem: ca.cert_pem(),
        space: "Prod".into(),
        peers,
        trusts: vec![trust("DevTest", "Prod", odcm_pb::TrustKind::Receipts)],
        retired: vec![],
    })
    .unwrap();
    let service = crate::promotion::service::PromotionService {
        engine: engine(&prod),
    };
    let refused = service.import_bundle(&rb.id, "Local", "tester").await;
    assert!(refused.is_err(), "imported from a Space no longer trusted");
    let still = bundles::find(&prod, &rb.id).unwrap();
    assert_eq!(still.state, BundleState::Pending);
}
