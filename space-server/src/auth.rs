//! API key authentication of the Space API: the shared interceptor (`runtime::auth`) over this
//! Space's store, with the hints a CLI user needs.

use std::sync::Arc;

use runtime::auth::Hints;
pub use runtime::auth::{ApiKeyAuth, Caller, caller};

use crate::state::SpaceState;

const HINTS: Hints = Hints {
    log: "request refused",
    missing: "this request carries no API key: pass one with --api-key or configure a context (deploy context add)",
    invalid: "the API key is not valid for this Space: check the context's api key (deploy context show)",
};

/// The interceptor every Space API service sits behind.
pub fn authenticator(state: &Arc<SpaceState>) -> ApiKeyAuth {
    ApiKeyAuth::new(state.store.clone(), false, HINTS)
}
