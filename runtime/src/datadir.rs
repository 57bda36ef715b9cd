//! A service's data directory and what every service creates in it on first start: the
//! directory itself (0700) and the first admin API key (shown once, stored as a hash).

use std::path::Path;

use secrets::{SecretError, hash_api_key, new_api_key};
use storage::records::ApiKeyRecord;
use storage::{Batch, Record, StorageError, Store};

/// Creates `dir` (and its parents) if needed and makes it private to this user (0700).
pub fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// On a store without any API key: a new admin key and a batch that records its hash, for the
/// caller to complete (an audit entry, say) and commit. `None` once any key exists.
pub fn admin_key_batch(store: &dyn Store) -> Result<Option<(String, Batch)>, BootstrapError> {
    if !store.scan(ApiKeyRecord::TABLE, "", None, 1)?.is_empty() {
        return Ok(None);
    }
    let key = new_api_key()?;
    let mut b = Batch::new();
    b.insert_record(&ApiKeyRecord {
        name: "admin".into(),
        key_hash: hash_api_key(&key),
        admin: true,
        created_at: domain::model::now(),
        user: "admin".into(),
        expires_at: None,
        revoked_at: None,
        last_used: None,
        registration: None,
    })?;
    b.insert_record(&storage::records::UserRecord {
        name: "admin".into(),
        service: false,
        admin: true,
        created_at: domain::model::now(),
        password: None,
    })?;
    Ok(Some((key, b)))
}

/// Prints the admin key made at this start (shown once, never again).
pub fn announce_new_key(key: &Option<String>) {
    if let Some(k) = key {
        println!("Admin API key (shown once; store it now): {k}");
    }
}

#[cfg(test)]
#[path = "tests/datadir.rs"]
mod tests;
