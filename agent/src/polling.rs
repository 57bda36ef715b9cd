//! Polling mode: the agent connects out to the Space's agent endpoint over mutual TLS and
//! holds one stream open; work arrives on it at once. After a cut it reconnects with
//! exponential backoff (with jitter), and resumes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use proto::agent::v1 as ab;
use proto::agent::v1::agent_hub_client::AgentHubClient;
use tokio::sync::mpsc;

use crate::session;
use crate::state::AgentState;

const MAX_BACKOFF: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// Explains a failed connection in terms an operator can act on.
pub fn explain(err: &str, fingerprint: &str) -> String {
    let e = err.to_ascii_lowercase();
    if [
        "closed",
        "reset",
        "certificate",
        "cancel",
        "handshake",
        "alert",
    ]
    .iter()
    .any(|w| e.contains(w))
    {
        format!(
            "the Space refused the connection or closed it: {err}. Is this agent registered as a deployment target? Its certificate is {fingerprint} (deploy target add NAME --fingerprint {fingerprint} ...)"
        )
    } else {
        err.to_string()
    }
}

/// Connects and serves sessions until `shutdown` completes.
pub async fn run(
    state: Arc<AgentState>,
    server: String,
    server_fingerprint: String,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let fingerprint = state.identity.fingerprint().unwrap_or_default();
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let channel = net::pinning::connect(
                &server,
                &server_fingerprint,
                &state.identity,
                Duration::from_secs(10),
                "this agent trusts it: if the Space was re-created, register the agent again (agent register)",
            )
            .await
            .map_err(|e| e.to_string())?;
            let mut client = AgentHubClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
            let (tx, rx) = mpsc::channel::<ab::AgentMessage>(256);
            let resp = client
                .session(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .map_err(|s| net::tls::error_chain(&s))?;
            tracing::info!(server = %server, "session open");
            Ok::<_, String>(session::run(state.clone(), resp.into_inner(), tx))
        };
        let result = tokio::select! {
            _ = &mut shutdown => return,
            r = attempt => r,
        };
        match result {
            Ok(session) => {
                backoff = Duration::from_millis(100);
                let ended = tokio::select! {
                    _ = &mut shutdown => return,
                    r = session => r,
                };
                match ended {
                    Ok(()) => tracing::info!("the Space closed the session; reconnecting"),
                    Err(s) => tracing::warn!(
                        error = %explain(s.message(), &fingerprint),
                        "session ended; reconnecting"
                    ),
                }
            }
            Err(e) => {
                tracing::warn!(server = %server, error = %explain(&e, &fingerprint), retry_in_ms = backoff.as_millis() as u64, "cannot connect to the Space")
            }
        }
        let jitter = Duration::from_millis(u64::from(std::process::id() % 97));
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(backoff + jitter) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
