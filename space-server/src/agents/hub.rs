//! The registry of agent sessions. Polling agents open theirs through `AgentHub.Session` on
//! the agent listener (mutual TLS: only registered target certificates complete the
//! handshake); the Space opens sessions to listening agents itself, pinning their certificate.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::model::{AgentMode, Target};
use futures::Stream;
use net::pinning::FingerprintSet;
use proto::agent::v1 as ab;
use proto::agent::v1::agent_endpoint_client::AgentEndpointClient;
use proto::agent::v1::agent_hub_server::AgentHub;
use storage::records::TARGET_BY_FINGERPRINT;
use storage::{StoreExt, key_of};
use tokio::sync::{Notify, mpsc};

pub use super::session::JobEvent;
use super::session::Session;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

const MAX_MESSAGE: usize = 8 * 1024 * 1024;

pub struct Hub {
    pub state: Arc<SpaceState>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    last_seen: Mutex<HashMap<String, i64>>,
    connected: Notify,
    /// Set when the server shuts down: open agent sessions end so connections can drain.
    closing: tokio::sync::watch::Sender<bool>,
    /// Certificates allowed to complete a handshake on the agent listener.
    pub allowed: FingerprintSet,
    /// Held while `allowed` is brought in line with the store (see [`Hub::sync_allowed`]).
    allowed_sync: Mutex<()>,
    /// How long a step waits for a polling agent that is not connected.
    pub agent_wait: Duration,
}

impl Hub {
    pub fn new(state: Arc<SpaceState>, agent_wait: Duration) -> ApiResult<Arc<Self>> {
        let allowed = FingerprintSet::default();
        for t in state.store.all_records::<Target>("")? {
            if !t.fingerprint.is_empty() {
                allowed.insert(t.fingerprint);
            }
        }
        Ok(Arc::new(Self {
            state,
            sessions: Mutex::new(HashMap::new()),
            last_seen: Mutex::new(HashMap::new()),
            connected: Notify::new(),
            closing: tokio::sync::watch::channel(false).0,
            allowed,
            allowed_sync: Mutex::new(()),
            agent_wait,
        }))
    }

    fn session(&self, target: &str) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&target.to_lowercase()).cloned())
            .filter(|s| s.is_open())
    }

    /// Whether a target has an open session now, and when it was last seen.
    pub fn status(&self, target: &str) -> (bool, Option<i64>) {
        let seen = self
            .last_seen
            .lock()
            .ok()
            .and_then(|m| m.get(&target.to_lowercase()).copied());
        (self.session(target).is_some(), seen)
    }

    /// Number of open sessions.
    pub fn connected_count(&self) -> usize {
        self.sessions
            .lock()
            .map(|s| s.values().filter(|x| x.is_open()).count())
            .unwrap_or(0)
    }

    /// Drops a closed session from the registry (unless a newer one replaced it), so nothing
    /// keeps its connection open.
    fn remove(&self, session: &Arc<Session>) {
        if let Ok(mut s) = self.sessions.lock() {
            let key = session.target.to_lowercase();
            if s.get(&key).is_some_and(|x| Arc::ptr_eq(x, session)) {
                s.remove(&key);
            }
        }
    }

    /// Ends every agent session (at shutdown); agents reconnect to the next server.
    pub fn close_all(&self) {
        let _ = self.closing.send(true);
        if let Ok(mut s) = self.sessions.lock() {
            s.clear();
        }
    }

    /// A future that completes when the server starts shutting down.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }

    /// Closes the session of a target (e.g. when it is deleted).
    pub fn forget(&self, target: &str) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&target.to_lowercase());
        }
    }

    fn register(&self, session: Arc<Session>) {
        let key = session.target.to_lowercase();
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(key.clone(), session);
        }
        if let Ok(mut m) = self.last_seen.lock() {
            m.insert(key, domain::model::now());
        }
        self.connected.notify_waiters();
    }

    /// Opens a session to a listening agent, pinning its registered certificate.
    async fn open_listening(
        self: &Arc<Self>,
        t: &Target,
        address: &str,
    ) -> Result<Arc<Session>, String> {
        let channel = net::pinning::connect(
            address,
            &t.fingerprint,
            &self.state.identity,
            Duration::from_secs(10),
            &format!(
                "it is registered for target '{}': if the agent was re-created, run deploy target update {} --fingerprint NEW",
                t.name, t.name
            ),
        )
        .await
        .map_err(|e| {
            format!(
                "cannot reach listening target '{}' at {address}: {e}",
                t.name
            )
        })?;
        let mut client = AgentEndpointClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let (tx, rx) = mpsc::channel::<ab::ServerMessage>(256);
        let _ = tx
            .send(ab::ServerMessage {
                msg: Some(ab::server_message::Msg::Welcome(ab::Welcome {
                    space: self.state.name.clone(),
                    target: t.name.clone(),
                })),
            })
            .await;
        let inbound = client
            .session(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|s| {
                format!(
                    "listening target '{}' at {address} refused the session: {} (does the agent trust this Space's certificate {}?)",
                    t.name,
                    s.message(),
                    self.state.identity.fingerprint().unwrap_or_default()
                )
            })?
            .into_inner();
        let session = Session::new(t.name.clone(), tx);
        self.register(session.clone());
        let hub = self.clone();
        let s2 = session.clone();
        tokio::spawn(async move {
            s2.clone().drive(inbound, hub.state.chunks.clone()).await;
            hub.remove(&s2);
        });
        Ok(session)
    }

    async fn session_for(self: &Arc<Self>, t: &Target) -> Result<Arc<Session>, String> {
        if let Some(s) = self.session(&t.name) {
            return Ok(s);
        }
        match &t.mode {
            AgentMode::Listening { address } => self.open_listening(t, address).await,
            AgentMode::OfflineDrop { .. } => Err(format!(
                "target '{}' is an offline drop target: it has no agent",
                t.name
            )),
            AgentMode::Polling => {
                let deadline = tokio::time::Instant::now() + self.agent_wait;
                loop {
                    let notified = self.connected.notified();
                    if let Some(s) = self.session(&t.name) {
                        return Ok(s);
                    }
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return Err(format!(
                            "polling target '{}' is not connected (waited {}s): is its agent running?",
                            t.name,
                            self.agent_wait.as_secs()
                        ));
                    }
                }
            }
        }
    }

    /// Sends one step to a target; its log lines and result arrive on the receiver.
    pub async fn start_job(
        self: &Arc<Self>,
        t: &Target,
        work: ab::StepWork,
    ) -> Result<(Arc<Session>, mpsc::UnboundedReceiver<JobEvent>), String> {
        let session = self.session_for(t).await?;
        let rx = session.start(work).await?;
        Ok((session, rx))
    }

    /// Brings the listener's allowed set in line with the store for `fingerprints`, after a
    /// commit that registered or dropped them. Each commit is followed by a sync that reads
    /// after it, so concurrent changes cannot leave a removed certificate allowed.
    pub fn sync_allowed(&self, fingerprints: &[&str]) -> ApiResult<()> {
        let _g = self
            .allowed_sync
            .lock()
            .map_err(|_| ApiError::Internal("agent allow-list lock poisoned".into()))?;
        for fp in fingerprints.iter().filter(|f| !f.is_empty()) {
            if self.state.store.get(TARGET_BY_FINGERPRINT, fp)?.is_some() {
                self.allowed.insert(fp.to_string());
            } else {
                self.allowed.remove(fp);
            }
        }
        Ok(())
    }

    pub fn target_by_fingerprint(&self, fp: &str) -> ApiResult<Option<Target>> {
        let Some(name) = self.state.store.get(TARGET_BY_FINGERPRINT, fp)? else {
            return Ok(None);
        };
        let name = String::from_utf8_lossy(&name).into_owned();
        Ok(self.state.store.get_record::<Target>(&key_of(&[&name]))?)
    }
}

/// `agent.v1.AgentHub`, served on the agent listener.
pub struct AgentHubApi {
    pub hub: Arc<Hub>,
}

type Out = Pin<Box<dyn Stream<Item = Result<ab::ServerMessage, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl AgentHub for AgentHubApi {
    type SessionStream = Out;

    async fn session(
        &self,
        req: tonic::Request<tonic::Streaming<ab::AgentMessage>>,
    ) -> Result<tonic::Response<Out>, tonic::Status> {
        let fp = net::pinning::peer_fingerprint(&req).ok_or_else(|| {
            refuse(
                ErrorCode::Unauthenticated,
                "agents must present their certificate",
            )
        })?;
        let target = self.hub.target_by_fingerprint(&fp)?.ok_or_else(|| {
            refuse(
                ErrorCode::PermissionDenied,
                format!("certificate {fp} is not registered as a deployment target in this Space"),
            )
        })?;
        if let AgentMode::Listening { address } = &target.mode {
            return Err(ApiError::Precondition(format!(
                "target '{}' is registered as a listening agent at {address}; update it to polling to connect this way",
                target.name
            ))
            .into());
        }
        let (tx, rx) = mpsc::channel::<ab::ServerMessage>(256);
        let _ = tx
            .send(ab::ServerMessage {
                msg: Some(ab::server_message::Msg::Welcome(ab::Welcome {
                    space: self.hub.state.name.clone(),
                    target: target.name.clone(),
                })),
            })
            .await;
        let session = Session::new(target.name.clone(), tx);
        self.hub.register(session.clone());
        tracing::info!(target = %target.name, fingerprint = %fp, "polling agent connected");
        let hub = self.hub.clone();
        let inbound = req.into_inner();
        tokio::spawn(async move {
            session
                .clone()
                .drive(inbound, hub.state.chunks.clone())
                .await;
            hub.remove(&session);
        });
        let out = futures::StreamExt::take_until(
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok),
            Box::pin(self.hub.closed()),
        );
        Ok(tonic::Response::new(Box::pin(out)))
    }
}
