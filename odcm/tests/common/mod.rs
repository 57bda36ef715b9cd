//! In-process test harness: an ODCM served on 127.0.0.1:0 from a temporary data directory, an
//! admin client (pinned server certificate + API key) and Space clients (mutual TLS).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use net::pki::{PeerRole, TrustSnapshot, TrustStore, TrustVerifier, client_config, new_csr};
use net::tls::Identity;
use odcm::config::Config;
use odcm::state::OdcmState;
use proto::odcm::v1 as pb;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Admin = pb::admin_client::AdminClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let v = MetadataValue::try_from(format!("Bearer {}", self.0))
            .map_err(|_| tonic::Status::internal("bad key"))?;
        r.metadata_mut().insert("authorization", v);
        Ok(r)
    }
}

pub struct Odcm {
    pub dir: tempfile::TempDir,
    pub state: Arc<OdcmState>,
    pub address: String,
    pub fingerprint: String,
    pub api_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Odcm {
    pub async fn start(name: &str, overlap_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            name: name.into(),
            data_dir: dir.path().join("data"),
            rotation_overlap_secs: overlap_secs,
            ..Config::default()
        };
        let opened = OdcmState::open(&config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("https://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = opened.state.clone();
        tokio::spawn(async move {
            odcm::serve(state, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Odcm {
            fingerprint: opened.state.identity.fingerprint().unwrap(),
            state: opened.state,
            address,
            api_key: opened.new_admin_key.unwrap(),
            dir,
            stop: Some(tx),
        }
    }

    pub async fn admin_with_key(&self, key: &str) -> Admin {
        let ch = net::tls::connect_pinned(&self.address, &self.fingerprint, Duration::from_secs(5))
            .await
            .unwrap();
        pb::admin_client::AdminClient::with_interceptor(ch, Bearer(key.into()))
    }

    pub async fn admin(&self) -> Admin {
        self.admin_with_key(&self.api_key).await
    }

    /// An enrolment client without a client certificate.
    pub async fn enrolment(&self) -> pb::enrolment_client::EnrolmentClient<Channel> {
        let ch = net::tls::connect_pinned(&self.address, &self.fingerprint, Duration::from_secs(5))
            .await
            .unwrap();
        pb::enrolment_client::EnrolmentClient::new(ch)
    }

    /// Creates Space `name` and enrols it; returns its identity (key generated here).
    pub async fn enrol(&self, name: &str) -> Identity {
        let token = self
            .admin()
            .await
            .create_space(pb::CreateSpaceRequest {
                name: name.into(),
                endpoint: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .enrolment_token;
        let pending = new_csr(name, "").unwrap();
        let r = self
            .enrolment()
            .await
            .enrol(pb::EnrolRequest {
                token,
                csr_pem: pending.csr_pem.clone(),
                endpoint: "https://127.0.0.1:9999".into(),
            })
            .await
            .unwrap()
            .into_inner();
        pending.into_identity(r.cert_pem)
    }

    /// A mutual-TLS channel presenting `id`, verifying the ODCM by its CA.
    pub async fn mtls(&self, id: Option<&Identity>) -> Result<Channel, net::tls::TlsError> {
        let mut snap = TrustSnapshot::default();
        snap.add_ca_pem(&self.state.name, &self.state.ca.cert_pem())
            .unwrap();
        let verifier = TrustVerifier::new(TrustStore::new(snap)).expecting(PeerRole::Odcm);
        let cfg = client_config(id, Arc::new(verifier)).unwrap();
        net::pki::connect_mtls(&self.address, cfg, Duration::from_secs(5)).await
    }

    pub async fn spaces(&self, id: &Identity) -> pb::spaces_client::SpacesClient<Channel> {
        pb::spaces_client::SpacesClient::new(self.mtls(Some(id)).await.unwrap())
    }
}

impl Drop for Odcm {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Polls `cond` every 50 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

pub fn trust(source: &str, target: &str, kind: pb::TrustKind) -> pb::TrustRequest {
    pb::TrustRequest {
        source: source.into(),
        target: target.into(),
        kind: kind as i32,
    }
}
