//! Listening mode: the agent serves `agent.v1.AgentEndpoint` over mutual TLS; only a Space
//! whose certificate fingerprint the agent trusts can open a session.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use net::pinning::{FingerprintSet, server_config, tls_incoming};
use proto::agent::v1 as ab;
use proto::agent::v1::agent_endpoint_server::{AgentEndpoint, AgentEndpointServer};
use tokio::sync::mpsc;

use crate::session;
use crate::state::AgentState;

const MAX_MESSAGE: usize = 8 * 1024 * 1024;

struct Endpoint {
    state: Arc<AgentState>,
    /// Becomes true at shutdown: open sessions end so the server can drain.
    closing: tokio::sync::watch::Receiver<bool>,
}

type Out = Pin<Box<dyn Stream<Item = Result<ab::AgentMessage, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl AgentEndpoint for Endpoint {
    type SessionStream = Out;

    async fn session(
        &self,
        req: tonic::Request<tonic::Streaming<ab::ServerMessage>>,
    ) -> Result<tonic::Response<Out>, tonic::Status> {
        let peer = net::pinning::peer_fingerprint(&req).unwrap_or_default();
        tracing::info!(space = %peer, "session opened by the Space");
        let inbound = req.into_inner();
        let (tx, rx) = mpsc::channel::<ab::AgentMessage>(256);
        let state = self.state.clone();
        tokio::spawn(async move {
            if let Err(s) = session::run(state, inbound, tx).await {
                tracing::warn!(error = %s.message(), "session ended with an error");
            }
        });
        let mut closing = self.closing.clone();
        let out = futures::StreamExt::take_until(
            tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok),
            Box::pin(async move {
                let _ = closing.wait_for(|v| *v).await;
            }),
        );
        Ok(tonic::Response::new(Box::pin(out)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Tls(#[from] net::tls::TlsError),
    #[error("agent endpoint failed: {0}")]
    Transport(String),
}

/// Serves the agent endpoint on `listener` for the Space with `trusted` fingerprint until
/// `shutdown` completes.
pub async fn serve(
    state: Arc<AgentState>,
    listener: tokio::net::TcpListener,
    trusted: String,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ListenError> {
    let trusted = net::tls::normalize_fingerprint(&trusted).map_err(net::tls::TlsError::from)?;
    let cfg = server_config(
        &state.identity,
        FingerprintSet::new([trusted]),
        "the Space this agent trusts",
    )?;
    let incoming = tls_incoming(listener, Arc::new(cfg));
    let (close_tx, closing) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = close_tx.send(true);
    };
    net::transport::server_builder()
        .add_service(
            AgentEndpointServer::new(Endpoint { state, closing })
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ListenError::Transport(net::tls::error_chain(&e)))
}
