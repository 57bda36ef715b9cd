//! Users, service accounts and their API keys, and agent registration tokens: created (a key
//! is shown once and stored as its hash), listed, revoked. Only an admin manages them.

use std::sync::Arc;

use runtime::auth::Caller;
use storage::records::{ApiKeyRecord, RegistrationGrant, UserRecord};
use storage::{Batch, Record, StoreExt, key_of};

use super::check_name;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// Longest life of a registration token (seconds), and its default.
pub const MAX_TOKEN_SECS: u64 = 30 * 24 * 3600;
pub const DEFAULT_TOKEN_SECS: u64 = 24 * 3600;

pub struct AccessService {
    pub state: Arc<SpaceState>,
}

/// A new key and its record (the key itself is shown once, never stored).
pub struct NewKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

impl AccessService {
    /// Managing users, keys, teams and roles, and reading the trail: an admin key, or a
    /// team granting the `admin` permission.
    pub fn admin_only(&self, caller: &Caller) -> ApiResult<()> {
        let admin = domain::access::Need::anywhere(domain::access::Permission::Admin);
        self.require(caller, &admin).map_err(|e| match e {
            ApiError::PermissionDenied(_) => ApiError::PermissionDenied(format!(
                "managing users and API keys needs an admin key (or the admin permission); '{}' is not an admin",
                caller.name
            )),
            e => e,
        })
    }
}

fn expiry(secs: u64) -> ApiResult<Option<i64>> {
    if secs == 0 {
        return Ok(None);
    }
    let secs =
        i64::try_from(secs).map_err(|_| ApiError::Invalid("the expiry is too far away".into()))?;
    Ok(Some(domain::model::now().saturating_add(secs)))
}

impl AccessService {
    /// Users, with those that exist only through a live key (the "admin" of a Space made
    /// before users existed).
    pub fn users(&self, caller: &Caller) -> ApiResult<Vec<UserRecord>> {
        self.admin_only(caller)?;
        self.all_users()
    }

    pub(super) fn all_users(&self) -> ApiResult<Vec<UserRecord>> {
        let mut users = self.state.store.all_records::<UserRecord>("")?;
        for k in self.state.store.all_records::<ApiKeyRecord>("")? {
            if k.registration.is_none()
                && k.revoked_at.is_none()
                && !users.iter().any(|u| u.name == k.user_name())
            {
                users.push(UserRecord {
                    name: k.user_name().to_string(),
                    service: false,
                    admin: k.admin,
                    created_at: k.created_at,
                    password: None,
                });
            }
        }
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    pub(super) fn user(&self, name: &str) -> ApiResult<UserRecord> {
        self.all_users()?
            .into_iter()
            .find(|u| u.name == name)
            .ok_or_else(|| ApiError::not_found("user", name))
    }

    pub async fn create_user(&self, caller: &Caller, u: UserRecord) -> ApiResult<UserRecord> {
        self.admin_only(caller)?;
        check_name("user", &u.name)?;
        if self.user(&u.name).is_ok() {
            return Err(ApiError::exists("user", &u.name));
        }
        let u = UserRecord {
            created_at: domain::model::now(),
            ..u
        };
        let mut b = Batch::new();
        b.insert_record(&u)?;
        self.state.commit(b).await?;
        tracing::info!(user = %u.name, service = u.service, admin = u.admin, by = %caller.name, "user created");
        Ok(u)
    }

    /// Deletes the user and revokes every key of it; the last admin stays.
    pub async fn delete_user(&self, caller: &Caller, name: &str) -> ApiResult<()> {
        self.admin_only(caller)?;
        let u = self.user(name)?;
        let admins = self.all_users()?.iter().filter(|u| u.admin).count();
        if u.admin && admins <= 1 {
            return Err(ApiError::Precondition(format!(
                "'{name}' is the last admin: make another user an admin first"
            )));
        }
        let now = domain::model::now();
        let mut b = Batch::new();
        b.delete(UserRecord::TABLE, &key_of(&[name]));
        for k in self.state.store.all_records::<ApiKeyRecord>("")? {
            if k.user_name() == name && k.revoked_at.is_none() {
                b.put_record(&ApiKeyRecord {
                    revoked_at: Some(now),
                    ..k
                })?;
            }
        }
        self.state.commit(b).await?;
        tracing::info!(user = %name, by = %caller.name, "user deleted, its keys revoked");
        Ok(())
    }

    async fn insert_key(&self, record: ApiKeyRecord, key: String) -> ApiResult<NewKey> {
        let mut b = Batch::new();
        b.insert_record(&record)?;
        self.state.commit(b).await?;
        Ok(NewKey { key, record })
    }

    pub async fn create_key(
        &self,
        caller: &Caller,
        user: &str,
        name: &str,
        expires_in: u64,
    ) -> ApiResult<NewKey> {
        self.admin_only(caller)?;
        let u = self.user(user)?;
        let name = if name.trim().is_empty() {
            "key"
        } else {
            name.trim()
        };
        check_name("API key", name)?;
        let key = secrets::new_api_key().map_err(|e| ApiError::Internal(e.to_string()))?;
        let record = ApiKeyRecord {
            name: name.to_string(),
            key_hash: secrets::hash_api_key(&key),
            admin: u.admin,
            created_at: domain::model::now(),
            user: u.name.clone(),
            expires_at: expiry(expires_in)?,
            revoked_at: None,
            last_used: None,
            registration: None,
        };
        tracing::info!(user = %u.name, key = %record.id(), by = %caller.name, "API key created");
        self.insert_key(record, key).await
    }

    /// A token that registers agents and does nothing else: `uses` registrations (0: any
    /// number), for `expires_in` seconds (0: a day; at most 30 days).
    pub async fn create_registration_token(
        &self,
        caller: &Caller,
        name: &str,
        uses: u32,
        expires_in: u64,
    ) -> ApiResult<NewKey> {
        self.admin_only(caller)?;
        let secs = if expires_in == 0 {
            DEFAULT_TOKEN_SECS
        } else {
            expires_in
        };
        if secs > MAX_TOKEN_SECS {
            return Err(ApiError::Invalid(format!(
                "a registration token lives at most 30 days ({MAX_TOKEN_SECS} seconds)"
            )));
        }
        let key = secrets::new_api_key().map_err(|e| ApiError::Internal(e.to_string()))?;
        let record = ApiKeyRecord {
            name: if name.trim().is_empty() {
                "agent registration"
            } else {
                name.trim()
            }
            .into(),
            key_hash: secrets::hash_api_key(&key),
            admin: false,
            created_at: domain::model::now(),
            user: caller.name.clone(),
            expires_at: expiry(secs)?,
            revoked_at: None,
            last_used: None,
            registration: Some(RegistrationGrant {
                uses_left: (uses > 0).then_some(uses),
            }),
        };
        tracing::info!(key = %record.id(), uses, by = %caller.name, "agent registration token created");
        self.insert_key(record, key).await
    }

    pub fn keys(&self, caller: &Caller, user: &str) -> ApiResult<Vec<ApiKeyRecord>> {
        self.admin_only(caller)?;
        let mut keys: Vec<ApiKeyRecord> = self
            .state
            .store
            .all_records::<ApiKeyRecord>("")?
            .into_iter()
            .filter(|k| user.is_empty() || k.user_name() == user)
            .collect();
        keys.sort_by_key(|k| (k.user_name().to_string(), k.created_at));
        Ok(keys)
    }

    /// Revokes the key whose id starts with `id` (at least 8 characters, one key).
    pub async fn revoke(&self, caller: &Caller, id: &str) -> ApiResult<ApiKeyRecord> {
        self.admin_only(caller)?;
        let id = id.trim();
        if id.len() < 8 {
            return Err(ApiError::Invalid(
                "name the key by at least 8 characters of its id (deploy apikey list)".into(),
            ));
        }
        let mut found: Vec<ApiKeyRecord> = self
            .state
            .store
            .all_records::<ApiKeyRecord>("")?
            .into_iter()
            .filter(|k| k.key_hash.starts_with(id))
            .collect();
        let k = match found.len() {
            0 => return Err(ApiError::not_found("API key", id)),
            1 => found.remove(0),
            _ => {
                return Err(ApiError::Invalid(format!(
                    "'{id}' names several keys: give more of the id"
                )));
            }
        };
        let k = ApiKeyRecord {
            revoked_at: Some(k.revoked_at.unwrap_or_else(domain::model::now)),
            ..k
        };
        let mut b = Batch::new();
        b.put_record(&k)?;
        self.state.commit(b).await?;
        tracing::info!(key = %k.id(), user = %k.user_name(), by = %caller.name, "API key revoked");
        Ok(k)
    }

    /// Takes one use of the registration token `key_hash` before an agent registers (a
    /// token with none left, or revoked meanwhile, is refused); see [`Self::give_back`].
    pub async fn take_registration(&self, key_hash: &str) -> ApiResult<()> {
        let hash = key_hash.to_string();
        self.state
            .transaction(move |tx| {
                use storage::TxExt;
                let Some(mut k) = tx.get_record::<ApiKeyRecord>(&hash)? else {
                    return Err(ApiError::PermissionDenied("this registration token is gone".into()));
                };
                let Some(grant) = k.registration.as_mut() else {
                    return Ok(());
                };
                match grant.uses_left {
                    Some(0) => {
                        return Err(ApiError::PermissionDenied(
                            "this registration token has been used up: ask an admin for a new one (deploy target registration-token)".into(),
                        ));
                    }
                    Some(n) => grant.uses_left = Some(n - 1),
                    None => {}
                }
                tx.put_record(&k)?;
                Ok(())
            })
            .await
    }

    /// Gives a use back when the registration it was taken for failed.
    pub async fn give_back(&self, key_hash: &str) {
        let hash = key_hash.to_string();
        let r = self
            .state
            .transaction(move |tx| {
                use storage::TxExt;
                if let Some(mut k) = tx.get_record::<ApiKeyRecord>(&hash)?
                    && let Some(g) = k.registration.as_mut()
                    && let Some(n) = g.uses_left
                {
                    g.uses_left = Some(n + 1);
                    tx.put_record(&k)?;
                }
                Ok::<(), ApiError>(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot give a registration token its use back");
        }
    }
}
