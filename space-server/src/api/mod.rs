//! The gRPC services of `space.v1`, one module per resource. Handlers convert wire types at
//! the edge (`proto::wire`) and call the service layer (`crate::services`).

pub mod access;
pub mod audit;
pub mod environments;
pub mod lifecycles;
pub mod packages;
pub mod process;
pub mod projects;
pub mod releases;
pub mod system;
pub mod targets;
pub mod tenants;
pub mod variables;

use proto::space::v1 as pb;

use crate::error::{ApiError, ApiResult};
use crate::services::Page;

pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

/// Page size and the key to continue after, from a wire page request.
pub fn page(p: Option<pb::PageRequest>) -> ApiResult<Page> {
    let pb::PageRequest {
        page_size,
        page_token,
    } = p.unwrap_or_default();
    let size = match page_size as usize {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let after = if page_token.is_empty() {
        None
    } else {
        let bytes = hex::decode(&page_token).map_err(|_| {
            ApiError::Invalid("page_token is not a token this server issued".into())
        })?;
        Some(String::from_utf8(bytes).map_err(|_| {
            ApiError::Invalid("page_token is not a token this server issued".into())
        })?)
    };
    Ok(Page { size, after })
}

/// The wire form of a continuation key.
pub fn token(next: Option<String>) -> String {
    next.map(hex::encode).unwrap_or_default()
}

pub use crate::services::check_name;

pub type Resp<T> = Result<tonic::Response<T>, tonic::Status>;

pub fn ok<T>(v: T) -> Resp<T> {
    Ok(tonic::Response::new(v))
}
