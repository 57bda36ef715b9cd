//! Named contexts (server address, API key, pinned certificate fingerprint) kept in a config
//! file, like kubeconfig. The file holds API keys, so it is written with mode 0600.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ctx {
    pub server: String,
    pub api_key: String,
    pub fingerprint: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub current: Option<String>,
    pub contexts: BTreeMap<String, Ctx>,
}

/// `$DEPLOY_CONFIG`, else `$XDG_CONFIG_HOME/deploy/config.toml`, else `~/.config/deploy/config.toml`.
pub fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("DEPLOY_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(x).join("deploy").join("config.toml"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        anyhow!("cannot find a home directory: set DEPLOY_CONFIG to a config file path")
    })?;
    Ok(PathBuf::from(home)
        .join(".config")
        .join("deploy")
        .join("config.toml"))
}

impl ConfigFile {
    pub fn load() -> anyhow::Result<Self> {
        let path = config_path()?;
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid deploy config", path.display()))
    }

    pub fn save(&self) -> anyhow::Result<()> {
        let path = config_path()?;
        let text = toml::to_string_pretty(self)?;
        secrets::write_private_file(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Where to connect, from flags/environment first, then the named or current context.
pub fn resolve(
    context: Option<&str>,
    server: Option<&str>,
    api_key: Option<&str>,
    fingerprint: Option<&str>,
) -> anyhow::Result<Ctx> {
    let file = ConfigFile::load()?;
    let name = context.map(str::to_string).or(file.current.clone());
    let base = match &name {
        Some(n) => match file.contexts.get(n) {
            Some(c) => c.clone(),
            None if context.is_some() => {
                bail!("context '{n}' does not exist: list them with 'deploy context list'")
            }
            None => Ctx::default(),
        },
        None => Ctx::default(),
    };
    let ctx = Ctx {
        server: server.map(str::to_string).unwrap_or(base.server),
        api_key: api_key.map(str::to_string).unwrap_or(base.api_key),
        fingerprint: fingerprint.map(str::to_string).unwrap_or(base.fingerprint),
    };
    if ctx.server.is_empty() {
        bail!(
            "no server configured: add a context with 'deploy context add NAME --server https://HOST:PORT --api-key KEY --fingerprint sha256:...'"
        );
    }
    if ctx.fingerprint.is_empty() {
        bail!(
            "no certificate fingerprint for {}: the server prints it at start ('certificate sha256:...'); pass --server-fingerprint or add it to the context",
            ctx.server
        );
    }
    Ok(ctx)
}
