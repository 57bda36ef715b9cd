//! tower middleware putting every write and every refusal of the Space API on the audit
//! trail: the caller is the one `runtime::auth::KeyLayer` found for the request's key, the
//! outcome from the response's `grpc-status` header (an error from a handler or the
//! interceptor comes that way; a stream that fails later is recorded as accepted).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use runtime::auth::KeyCheck;
use tower::{Layer, Service};

use super::{AuditTrail, Call};

/// Method names that only read: their successful calls are not recorded.
const READS: &[&str] = &[
    "Get",
    "List",
    "Watch",
    "WhoAmI",
    "Status",
    "Dashboard",
    "Preview",
    "Evaluate",
    "Compare",
    "Missing",
    "Stats",
    "Download",
    "Inventory",
    "AgentEndpoint",
    "Export",
    "Ping",
    "Show",
    "Verify",
    "ServerReflectionInfo",
    "Check",
];

pub(crate) fn is_read(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or("");
    READS.iter().any(|r| method.starts_with(r))
}

#[derive(Clone)]
pub struct AuditLayer {
    trail: AuditTrail,
}

impl AuditLayer {
    pub fn new(trail: AuditTrail) -> Self {
        Self { trail }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = AuditService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuditService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuditService<S> {
    inner: S,
    layer: AuditLayer,
}

/// The user and key id of the request's key, as `KeyLayer` found it.
fn who<B>(req: &Request<B>) -> (String, String) {
    match KeyCheck::of(req) {
        KeyCheck::Missing => ("(no key)".into(), String::new()),
        KeyCheck::Known(c) => {
            let id = c.key_hash[..c.key_hash.len().min(12)].to_string();
            (c.name, id)
        }
        KeyCheck::Unknown | KeyCheck::Refused(_) => ("(unknown key)".into(), String::new()),
    }
}

fn from<B>(req: &Request<B>) -> String {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    req.extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|i| i.get_ref().remote_addr())
        .or_else(|| {
            req.extensions()
                .get::<TcpConnectInfo>()
                .and_then(|i| i.remote_addr())
        })
        .map(|a| a.to_string())
        .unwrap_or_default()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuditService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = req.uri().path().to_string();
        let (user, key) = who(&req);
        let from = from(&req);
        let trail = self.layer.trail.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let code = match &result {
                Ok(resp) => runtime::telemetry::grpc_code_name(resp.headers()).to_string(),
                Err(_) => "Unknown".to_string(),
            };
            if code != "OK" || !is_read(&method) {
                trail.append(Call {
                    user,
                    key,
                    method,
                    from,
                    code,
                });
            }
            result
        })
    }
}
