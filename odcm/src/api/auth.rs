//! API-key authentication of the Admin service: the shared interceptor (`runtime::auth`) over
//! the ODCM's store, admin keys only.

use std::sync::Arc;

use runtime::auth::{ApiKeyAuth, Hints, caller};

use crate::state::OdcmState;

const HINTS: Hints = Hints {
    log: "admin request refused",
    missing: "this request carries no ODCM API key: pass one with --odcm-api-key or ODCM_API_KEY",
    invalid: "the API key is not valid for this ODCM: check --odcm-api-key / ODCM_API_KEY",
};

/// The interceptor the Admin service sits behind.
pub fn admin_auth(state: &Arc<OdcmState>) -> ApiKeyAuth {
    ApiKeyAuth::new(state.store.clone(), true, HINTS)
}

/// The audit actor of an authenticated admin request.
pub fn actor<T>(req: &tonic::Request<T>) -> String {
    caller(req).name
}
