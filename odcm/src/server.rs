//! Serves every ODCM service on one TLS listener. The TLS verifier lets clients without a
//! certificate in (people and scripts use API keys; a new Space uses its token) but refuses a
//! certificate that does not chain to this ODCM's CA; the Space-facing calls and Rotate then
//! require a verified Space certificate per call.

use std::future::Future;
use std::sync::Arc;

use net::pki::{TrustVerifier, server_config, tls_incoming};
use proto::odcm::v1 as pb;
use tonic::service::interceptor::InterceptedService;

use crate::api::admin::AdminApi;
use crate::api::auth::admin_auth;
use crate::api::enrol::EnrolmentApi;
use crate::api::spaces::SpacesApi;
use crate::state::OdcmState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot configure TLS: {0}")]
    Tls(String),
    #[error("cannot build reflection service: {0}")]
    Reflection(String),
    #[error("server failed: {0}")]
    Transport(String),
}

/// Serves on `listener` until `shutdown` resolves; then open trust-set watches end, requests in
/// flight finish and the database is flushed.
pub async fn serve(
    state: Arc<OdcmState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let verifier = Arc::new(TrustVerifier::new(state.trust.clone()).allow_anonymous());
    let tls =
        server_config(&state.identity, verifier).map_err(|e| ServeError::Tls(e.to_string()))?;
    let health_svc = runtime::grpc::health::<pb::admin_server::AdminServer<AdminApi>>().await;
    let auth = admin_auth(&state);
    let reflection = runtime::grpc::reflection().map_err(ServeError::Reflection)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stopped = stop_rx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let incoming = tls_incoming(listener, tls);
    net::transport::server_builder()
        .add_service(health_svc)
        .add_service(InterceptedService::new(reflection, auth.clone()))
        .add_service(InterceptedService::new(
            pb::admin_server::AdminServer::new(AdminApi {
                service: crate::services::admin::AdminService {
                    state: state.clone(),
                },
            }),
            auth,
        ))
        .add_service(pb::enrolment_server::EnrolmentServer::new(EnrolmentApi {
            service: crate::services::enrol::EnrolmentService {
                state: state.clone(),
            },
        }))
        .add_service(pb::spaces_server::SpacesServer::new(SpacesApi {
            link: Arc::new(crate::services::link::LinkService::new(state.clone())),
            stop: stop_rx,
        }))
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stopped.wait_for(|v| *v).await;
        })
        .await
        .map_err(|e| ServeError::Transport(net::tls::error_chain(&e)))?;
    if let Err(e) = state.store.flush() {
        tracing::error!(error = %e, "flushing the database at shutdown failed");
    }
    tracing::info!("odcm stopped");
    Ok(())
}
