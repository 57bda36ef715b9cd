//! Web sign-in passwords: set by an admin (or by the user for themself), stored only as a
//! scrypt hash on the user's record; a sign-in proves the user and makes a caller whose
//! stamp changes with the password, so changing it ends the sessions made with the old one.

use runtime::auth::Caller;
use storage::records::UserRecord;
use storage::{Batch, StoreExt};

use super::access::AccessService;
use crate::error::{ApiError, ApiResult};

/// The caller-key of a password session: the user and a stamp of their password's hash.
fn stamp(user: &str, hash: &str) -> String {
    let h = secrets::hash_api_key(hash);
    format!("password:{user}:{}", &h[..16])
}

impl AccessService {
    /// Sets `user`'s password (admins for anyone, a user for themself).
    pub async fn set_password(&self, caller: &Caller, user: &str, password: &str) -> ApiResult<()> {
        if caller.name != user || caller.registration {
            self.admin_only(caller)?;
        }
        secrets::password::check_new(password).map_err(ApiError::Invalid)?;
        let u = self.user(user)?;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || secrets::password::hash(&pw))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        let mut b = Batch::new();
        b.put_record(&UserRecord {
            password: Some(hash),
            ..u
        })?;
        self.state.commit(b).await?;
        tracing::info!(user = %user, by = %caller.name, "password set");
        Ok(())
    }

    /// The caller `user` proves with `password` (blocking: the hash takes about 0.1 s).
    pub fn sign_in_with_password(&self, user: &str, password: &str) -> ApiResult<Caller> {
        let refused = || ApiError::Unauthenticated("wrong user name or password".into());
        let u = self.user(user).map_err(|_| refused())?;
        let hash = u.password.as_deref().ok_or_else(refused)?;
        if !secrets::password::verify(password, hash) {
            return Err(refused());
        }
        Ok(Caller {
            name: u.name.clone(),
            admin: u.admin,
            key_name: "password".into(),
            key_hash: stamp(&u.name, hash),
            registration: false,
            expires_at: None,
        })
    }

    /// Whether a password session's caller still stands (the user exists and its password is
    /// the one signed in with).
    pub fn password_session_valid(&self, caller: &Caller) -> bool {
        let Ok(Some(u)) = self
            .state
            .store
            .get_record::<UserRecord>(&storage::key_of(&[&caller.name]))
        else {
            return false;
        };
        u.password
            .as_deref()
            .is_some_and(|h| stamp(&u.name, h) == caller.key_hash)
    }
}
