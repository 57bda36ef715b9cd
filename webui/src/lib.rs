//! What the web UIs of Space servers and ODCMs share: serving a router over TLS on a bound
//! listener until shutdown ([`serve`]), sessions with an idle timeout and a CSRF token each
//! ([`session`]), the login and logout flow over the same API keys as the gRPC API
//! ([`login`]), the page layout and HTML escaping ([`html`]), and the assets embedded in the
//! binary (no CDN, nothing fetched at run time).

pub mod html;
pub mod login;
pub mod serve;
pub mod session;

pub use serve::serve;

/// What a user is told of an error: its message, or, for an internal one, that it is logged
/// (the details go to the log here, never to the browser).
pub fn public_message(code: domain::error::ErrorCode, message: &str) -> String {
    if code == domain::error::ErrorCode::Internal {
        tracing::error!(error = %message, "web request failed");
        "something went wrong on the server: it is logged; try again".to_string()
    } else {
        message.to_string()
    }
}

/// The HTTP status of an error code: the one mapping for every web edge.
pub fn status_of(code: domain::error::ErrorCode) -> http::StatusCode {
    use domain::error::ErrorCode;
    use http::StatusCode;
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::Aborted => StatusCode::CONFLICT,
        ErrorCode::Invalid => StatusCode::BAD_REQUEST,
        ErrorCode::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
pub use session::{Session, Sessions};

/// The embedded stylesheet and script, served under `/assets/`.
pub mod assets {
    pub const CSS: &str = include_str!("../assets/app.css");
    pub const JS: &str = include_str!("../assets/app.js");

    /// The router serving them (cacheable: their names change with their content never, so
    /// they are revalidated).
    pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
        use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
        axum::Router::new()
            .route(
                "/assets/app.css",
                axum::routing::get(|| async {
                    (
                        [
                            (CONTENT_TYPE, "text/css; charset=utf-8"),
                            (CACHE_CONTROL, "no-cache"),
                        ],
                        CSS,
                    )
                }),
            )
            .route(
                "/assets/app.js",
                axum::routing::get(|| async {
                    (
                        [
                            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                            (CACHE_CONTROL, "no-cache"),
                        ],
                        JS,
                    )
                }),
            )
    }
}

#[cfg(test)]
mod tests;
