//! Assembles the gRPC server (TLS, API-key auth, health, reflection, metrics) and serves it on
//! an already-bound listener until the shutdown future completes.

use std::future::Future;
use std::sync::Arc;

use proto::space::v1 as pb;
use runtime::telemetry::{Metrics, MetricsLayer};
use tonic::service::interceptor::InterceptedService;

use crate::agents::{AgentHubApi, Hub};
use crate::api::environments::EnvironmentsApi;
use crate::api::lifecycles::LifecyclesApi;
use crate::api::packages::PackagesApi;
use crate::api::process::ProcessApi;
use crate::api::projects::{ChannelsApi, ProjectsApi};
use crate::api::releases::ReleasesApi;
use crate::api::system::SystemApi;
use crate::api::targets::TargetsApi;
use crate::api::variables::VariablesApi;
use crate::deployments::{DeploymentsApi, Engine};
use crate::state::SpaceState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot configure TLS: {0}")]
    Tls(String),
    #[error("cannot build reflection service: {0}")]
    Reflection(String),
    #[error("server failed: {0}")]
    Transport(String),
}

/// Largest gRPC message accepted (package data arrives in 1 MiB pieces).
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// How deployments behave.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a step waits for a polling agent that is not connected.
    pub agent_wait: std::time::Duration,
    /// Targets per step at once, unless a deployment asks otherwise.
    pub max_parallel: usize,
    /// Extractions of each package kept on a target; `None`: all.
    pub retention: Option<usize>,
    /// The largest package upload accepted, in bytes.
    pub max_package_bytes: u64,
    /// Size caps on what the API stores.
    pub limits: crate::limits::Limits,
    /// Seconds of silence after which a peer Space's results show as stale.
    pub stale_after_secs: i64,
    /// This Space's ODCM identity and trust set, when it is enrolled.
    pub peering: Option<Arc<crate::peering::Peering>>,
    /// How long a web UI session lasts without a request.
    pub web_idle: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            agent_wait: std::time::Duration::from_secs(60),
            max_parallel: 10,
            retention: None,
            max_package_bytes: 16 << 30,
            limits: crate::limits::Limits::default(),
            stale_after_secs: crate::contacts::DEFAULT_STALE_AFTER,
            peering: None,
            web_idle: crate::web::IDLE,
        }
    }
}

/// Serves the Space's gRPC API over TLS on `listener` and the agent endpoint (mutual TLS) on
/// `agent_listener` until `shutdown` resolves, then stops accepting, lets requests in flight
/// finish, and flushes the database.
pub async fn serve(
    state: Arc<SpaceState>,
    listener: tokio::net::TcpListener,
    agent_listener: tokio::net::TcpListener,
    web_listener: Option<tokio::net::TcpListener>,
    metrics: Metrics,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if let Some(p) = &options.peering {
        let _ = state.peering.set(p.clone());
    }
    let _ = state.limits.set(options.limits);
    let _ = state.stale_after.set(options.stale_after_secs.max(1));
    let auth = crate::auth::authenticator(&state);
    let hub = Hub::new(state.clone(), options.agent_wait)
        .map_err(|e| ServeError::Transport(e.to_string()))?;
    let engine = Engine::new(
        state.clone(),
        hub.clone(),
        options.max_parallel,
        options.retention,
    )
    .map_err(|e| ServeError::Transport(e.to_string()))?;
    let agent_address = format!(
        "https://{}",
        agent_listener
            .local_addr()
            .map_err(|e| ServeError::Transport(e.to_string()))?
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let agents = {
        let tls = net::pinning::server_config(
            &state.identity,
            hub.allowed.clone(),
            "a deployment target in this Space",
        )
        .map_err(|e| ServeError::Tls(e.to_string()))?;
        let incoming = net::pinning::tls_incoming(agent_listener, Arc::new(tls));
        let mut rx = stop_rx.clone();
        let m = metrics.clone();
        let hub = hub.clone();
        tokio::spawn(async move {
            net::transport::server_builder()
                .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
                .layer(MetricsLayer::new(m))
                .add_service(
                    proto::agent::v1::agent_hub_server::AgentHubServer::new(AgentHubApi { hub })
                        .max_decoding_message_size(MAX_MESSAGE)
                        .max_encoding_message_size(MAX_MESSAGE),
                )
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await
        })
    };
    let automation = {
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::automation::run(engine.clone(), async move {
            let _ = rx.wait_for(|v| *v).await;
        }))
    };
    let closing = hub.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close_all();
        let _ = stop_tx.send(true);
    };
    macro_rules! svc {
        ($server:path, $api:expr) => {
            svc!($server, auth.clone(), $api)
        };
        ($server:path, $auth:expr, $api:expr) => {{
            use $server as S;
            InterceptedService::new(
                S::new($api)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(MAX_MESSAGE),
                $auth,
            )
        }};
    }
    let services = crate::services::Services::new(&state, Some(engine.clone()));
    let health_svc =
        runtime::grpc::health::<pb::environments_server::EnvironmentsServer<EnvironmentsApi>>()
            .await;
    let reflection = runtime::grpc::reflection().map_err(ServeError::Reflection)?;

    let trail = crate::audit::AuditTrail::new(state.store.clone());
    let web = web_listener.map(|l| {
        let app = Arc::new(crate::web::App {
            state: state.clone(),
            engine: engine.clone(),
            web: webui::login::Web::new(
                webui::Sessions::new(options.web_idle),
                auth.clone(),
                format!("Space {}", state.name),
                false,
            )
            .with_passwords(Box::new(crate::web::SpacePasswords {
                access: crate::services::access::AccessService {
                    state: state.clone(),
                },
            })),
            trail: trail.clone(),
        });
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::web::serve(app, l, async move {
            let _ = rx.wait_for(|v| *v).await;
        }))
    });
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    net::transport::server_builder()
        .tls_config(state.identity.server_tls())
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .layer(MetricsLayer::new(metrics))
        .layer(runtime::auth::KeyLayer::new(auth.clone()))
        .layer(crate::audit::AuditLayer::new(trail.clone()))
        .layer(crate::permits::PermitLayer::new(state.clone()))
        .add_service(health_svc)
        .add_service(InterceptedService::new(reflection, auth.clone()))
        .add_service(svc!(
            pb::system_server::SystemServer,
            SystemApi {
                state: state.clone()
            }
        ))
        .add_service(svc!(
            pb::environments_server::EnvironmentsServer,
            EnvironmentsApi {
                service: services.environments
            }
        ))
        .add_service(svc!(
            pb::lifecycles_server::LifecyclesServer,
            LifecyclesApi {
                service: services.lifecycles
            }
        ))
        .add_service(svc!(
            pb::projects_server::ProjectsServer,
            ProjectsApi {
                service: services.projects,
                code: services.project_code,
            }
        ))
        .add_service(svc!(
            pb::channels_server::ChannelsServer,
            ChannelsApi {
                service: services.channels
            }
        ))
        .add_service(svc!(
            pb::process_server::ProcessServer,
            ProcessApi {
                service: services.process
            }
        ))
        .add_service(svc!(
            pb::variables_server::VariablesServer,
            VariablesApi {
                service: services.variables
            }
        ))
        .add_service(svc!(
            pb::packages_server::PackagesServer,
            PackagesApi {
                service: crate::services::packages::PackageService {
                    state: state.clone(),
                    max_bytes: options.max_package_bytes,
                }
            }
        ))
        .add_service(svc!(
            pb::releases_server::ReleasesServer,
            ReleasesApi {
                service: services.releases
            }
        ))
        .add_service(svc!(
            pb::targets_server::TargetsServer,
            auth.admitting_registration(),
            TargetsApi {
                service: crate::services::targets::TargetService {
                    hub: hub.clone(),
                    agent_address
                },
                access: crate::services::access::AccessService {
                    state: state.clone()
                },
            }
        ))
        .add_service(svc!(
            pb::tenants_server::TenantsServer,
            crate::api::tenants::TenantsApi {
                service: crate::services::tenants::TenantService {
                    state: state.clone()
                }
            }
        ))
        .add_service(svc!(
            pb::audit_server::AuditServer,
            crate::api::audit::AuditApi {
                trail,
                access: crate::services::access::AccessService {
                    state: state.clone()
                }
            }
        ))
        .add_service(svc!(
            pb::access_server::AccessServer,
            crate::api::access::AccessApi {
                service: crate::services::access::AccessService {
                    state: state.clone()
                }
            }
        ))
        .add_service(svc!(
            pb::deployments_server::DeploymentsServer,
            DeploymentsApi {
                engine: engine.clone()
            }
        ))
        .add_service(svc!(
            pb::promotion_server::PromotionServer,
            crate::promotion::PromotionApi {
                service: crate::promotion::service::PromotionService {
                    engine: engine.clone()
                },
                max_archive: options.max_package_bytes.saturating_mul(4)
            }
        ))
        .add_service(svc!(
            pb::peers_server::PeersServer,
            crate::peering::api::PeersApi {
                peering: options.peering.clone(),
                state: state.clone()
            }
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ServeError::Transport(net::tls::error_chain(&e)))?;
    match agents.await {
        Ok(Err(e)) => {
            tracing::error!(error = %net::tls::error_chain(&e), "agent endpoint failed")
        }
        Err(e) => tracing::error!(error = %e, "agent endpoint task failed"),
        Ok(Ok(())) => {}
    }
    if let Some(Ok(Err(e))) = match web {
        Some(w) => Some(w.await),
        None => None,
    } {
        tracing::error!(error = %e, "the web UI failed");
    }
    if let Err(e) = automation.await {
        tracing::error!(error = %e, "the automation loop failed");
    }
    if let Err(e) = state.store.flush() {
        tracing::error!(error = %e, "flushing the database at shutdown failed");
    }
    tracing::info!("server stopped");
    Ok(())
}
