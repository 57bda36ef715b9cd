//! Subcommands, one module per noun: `deploy <noun> <verb>`.

pub mod access;
pub mod audit;
pub mod automation;
pub mod bundle;
pub mod config;
pub mod confirm;
pub mod dashboard;
pub mod deployment;
pub mod drop;
pub mod lifecycle;
pub mod odcm;
pub mod package;
pub mod project;
pub mod project_code;
pub mod promotion;
pub mod receipt;
pub mod release;
pub mod space;
pub mod step;
pub mod target;
pub mod teams;
pub mod tenants;
pub mod variable;
pub mod variable_preview;

use crate::client::Client;
use crate::output::Format;

/// What every command that talks to a server gets.
pub struct Env {
    pub client: Client,
    pub output: Format,
}

/// Pagination helper: keeps calling `page(token)` until the token is empty.
pub async fn all_pages<T, F, Fut>(mut page: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, String)>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        if next.is_empty() {
            return Ok(out);
        }
        token = next;
    }
}

pub fn page(token: String) -> proto::space::v1::PageRequest {
    proto::space::v1::PageRequest {
        page_size: 500,
        page_token: token,
    }
}
