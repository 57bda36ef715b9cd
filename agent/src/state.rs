//! What an agent owns in its data directory: its TLS identity (created on first start, key
//! 0600), its package chunk cache, assembled packages, and the executor's working directory.

use std::path::{Path, PathBuf};

use net::tls::Identity;

pub struct AgentState {
    pub identity: Identity,
    /// Assembled packages and the chunk index over them.
    pub cache: crate::cache::PackageCache,
    pub packages_dir: PathBuf,
    pub work_dir: PathBuf,
    pub applications_dir: PathBuf,
    pub hostname: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot prepare {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] net::tls::TlsError),
    #[error(transparent)]
    Package(#[from] package_store::PackageError),
}

fn mkdir(p: &Path) -> Result<(), StateError> {
    std::fs::create_dir_all(p).map_err(|source| StateError::Dir {
        path: p.display().to_string(),
        source,
    })
}

impl AgentState {
    pub fn open(data_dir: &Path, applications_dir: &Path) -> Result<Self, StateError> {
        mkdir(data_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| StateError::Dir {
                    path: data_dir.display().to_string(),
                    source,
                },
            )?;
        }
        // Scripts run in other directories: every path the agent hands out is absolute.
        let abs = |p: &Path| -> Result<PathBuf, StateError> {
            mkdir(p)?;
            std::fs::canonicalize(p).map_err(|source| StateError::Dir {
                path: p.display().to_string(),
                source,
            })
        };
        let data_dir = &abs(data_dir)?;
        let applications_dir = &abs(applications_dir)?;
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "agent".into());
        let identity = Identity::load_or_create(data_dir, &format!("agent on {hostname}"), &[])?;
        let packages_dir = data_dir.join("packages");
        let work_dir = data_dir.join("work");
        mkdir(&packages_dir)?;
        mkdir(&work_dir)?;
        mkdir(applications_dir)?;
        Ok(Self {
            identity,
            cache: crate::cache::PackageCache::open(&packages_dir),
            packages_dir,
            work_dir,
            applications_dir: applications_dir.to_path_buf(),
            hostname,
        })
    }
}
