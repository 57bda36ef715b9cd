//! The ODCM's service layer: its rules, once, for every front end (the gRPC services in
//! `api/` today; a web UI next). Services take and return records, own validation, locking
//! and commits (with their audit entries); handlers only convert.

pub mod admin;
pub mod admin_more;
pub mod enrol;
pub mod link;

/// One page request: at most `size` items after the key `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    pub after: Option<String>,
}

/// A page of items and the key to continue after (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// UNIX seconds as RFC 3339 UTC.
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
