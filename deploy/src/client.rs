//! A connection to a Space server: TLS pinned to the context's fingerprint, the API key on every
//! call, a deadline on every call, and gRPC errors turned into one actionable line.

use std::future::Future;
use std::time::Duration;

use anyhow::anyhow;
use proto::space::v1::{
    access_client::AccessClient, audit_client::AuditClient, channels_client::ChannelsClient,
    deployments_client::DeploymentsClient, environments_client::EnvironmentsClient,
    lifecycles_client::LifecyclesClient, packages_client::PackagesClient,
    peers_client::PeersClient, process_client::ProcessClient, projects_client::ProjectsClient,
    promotion_client::PromotionClient, releases_client::ReleasesClient,
    system_client::SystemClient, targets_client::TargetsClient, tenants_client::TenantsClient,
    variables_client::VariablesClient,
};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::context::Ctx;

#[derive(Clone)]
pub struct ApiKey(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for ApiKey {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

type Svc = InterceptedService<Channel, ApiKey>;

pub struct Client {
    pub server: String,
    pub deadline: Duration,
    pub system: SystemClient<Svc>,
    pub access: AccessClient<Svc>,
    pub audit: AuditClient<Svc>,
    pub environments: EnvironmentsClient<Svc>,
    pub lifecycles: LifecyclesClient<Svc>,
    pub projects: ProjectsClient<Svc>,
    pub channels: ChannelsClient<Svc>,
    pub process: ProcessClient<Svc>,
    pub variables: VariablesClient<Svc>,
    pub packages: PackagesClient<Svc>,
    pub releases: ReleasesClient<Svc>,
    pub targets: TargetsClient<Svc>,
    pub tenants: TenantsClient<Svc>,
    pub deployments: DeploymentsClient<Svc>,
    pub peers: PeersClient<Svc>,
    pub promotion: PromotionClient<Svc>,
}

const MAX_MESSAGE: usize = 8 * 1024 * 1024;

impl Client {
    pub async fn connect(ctx: &Ctx, deadline: Duration) -> anyhow::Result<Self> {
        let channel =
            net::tls::connect_pinned(&ctx.server, &ctx.fingerprint, Duration::from_secs(10))
                .await
                .map_err(|e| anyhow!("{e}"))?;
        let key = if ctx.api_key.is_empty() {
            None
        } else {
            Some(
                MetadataValue::try_from(format!("Bearer {}", ctx.api_key))
                    .map_err(|_| anyhow!("the API key contains characters that cannot be sent"))?,
            )
        };
        let auth = ApiKey(key);
        macro_rules! c {
            ($t:ident) => {
                $t::with_interceptor(channel.clone(), auth.clone())
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(MAX_MESSAGE)
            };
        }
        Ok(Self {
            server: ctx.server.clone(),
            deadline,
            system: c!(SystemClient),
            access: c!(AccessClient),
            audit: c!(AuditClient),
            environments: c!(EnvironmentsClient),
            lifecycles: c!(LifecyclesClient),
            projects: c!(ProjectsClient),
            channels: c!(ChannelsClient),
            process: c!(ProcessClient),
            variables: c!(VariablesClient),
            packages: c!(PackagesClient),
            releases: c!(ReleasesClient),
            targets: c!(TargetsClient),
            tenants: c!(TenantsClient),
            deployments: c!(DeploymentsClient),
            peers: c!(PeersClient),
            promotion: c!(PromotionClient),
        })
    }

    /// A request carrying the call deadline (`grpc-timeout`).
    pub fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(self.deadline);
        r
    }

    /// Runs one call under the deadline and maps its error to an actionable message.
    pub async fn call<T>(
        &self,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> anyhow::Result<T> {
        self.call_within(self.deadline, fut).await
    }

    pub async fn call_within<T>(
        &self,
        deadline: Duration,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(deadline, fut).await {
            Err(_) => Err(anyhow!(
                "{} did not answer within {}s (raise it with --timeout)",
                self.server,
                deadline.as_secs()
            )),
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(status_error(&self.server, s)),
        }
    }
}

/// One line a user can act on, from a gRPC status.
pub fn status_error(server: &str, s: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    let msg = s.message().to_string();
    match s.code() {
        // The server answered: something it called (a peer Space) is unreachable, and the
        // message names it.
        Code::Unavailable if s.metadata().get(runtime::status::ANSWERED).is_some() => {
            anyhow!("{msg}")
        }
        Code::Unavailable => {
            anyhow!("cannot reach {server}: {msg} (is the server running and the address right?)")
        }
        Code::Unauthenticated => anyhow!("{msg}"),
        Code::PermissionDenied => anyhow!("permission denied: {msg}"),
        Code::DeadlineExceeded => {
            anyhow!("{server} did not answer in time: {msg} (raise it with --timeout)")
        }
        Code::Unknown if msg.contains("connection") => anyhow!(
            "the connection to {server} failed: {msg}; check the certificate fingerprint of the context"
        ),
        _ => anyhow!("{msg}"),
    }
}
