//! Agent configuration: `agent.toml` in the data directory (written by `agent register`), or
//! a file given with --config, overridden by environment variables and flags.

use std::path::{Path, PathBuf};

use runtime::telemetry::LogFormat;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Polling,
    Listening,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the agent keeps its identity, package cache, journal and (by default) applications.
    pub data_dir: PathBuf,
    pub mode: Mode,
    /// Polling: the Space's agent endpoint (https://host:port).
    pub server: String,
    /// The Space certificate this agent trusts (sha256:...). Work from anyone else is refused.
    pub server_fingerprint: String,
    /// Listening: where to serve (host:port).
    pub listen: String,
    /// Where packages are extracted: {applications}/{environment}/{package}/{version}.
    /// Empty: {data_dir}/applications.
    pub applications_dir: PathBuf,
    pub log_format: LogFormat,
    pub otlp_endpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("agent-data"),
            mode: Mode::Polling,
            server: String::new(),
            server_fingerprint: String::new(),
            listen: "127.0.0.1:10933".into(),
            applications_dir: PathBuf::new(),
            log_format: LogFormat::Text,
            otlp_endpoint: String::new(),
        }
    }
}

#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file (default: agent.toml in the data directory, if present).
    #[arg(long, env = "AGENT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[arg(long, env = "AGENT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "AGENT_MODE", global = true)]
    pub mode: Option<Mode>,
    /// Polling: the Space's agent endpoint.
    #[arg(long, env = "AGENT_SERVER", global = true)]
    pub server: Option<String>,
    /// The Space certificate fingerprint to trust.
    #[arg(long, env = "AGENT_SERVER_FINGERPRINT", global = true)]
    pub server_fingerprint: Option<String>,
    /// Listening: host:port to serve on (port 0 picks one).
    #[arg(long, env = "AGENT_LISTEN", global = true)]
    pub listen: Option<String>,
    #[arg(long, env = "AGENT_APPLICATIONS_DIR", global = true)]
    pub applications_dir: Option<PathBuf>,
    #[arg(long, env = "AGENT_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    #[arg(long, env = "AGENT_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
}

pub use runtime::config::ConfigError;

pub const FILE_NAME: &str = "agent.toml";

impl Config {
    pub fn load(o: &Overrides) -> Result<Self, ConfigError> {
        let data_dir = o
            .data_dir
            .clone()
            .unwrap_or_else(|| Config::default().data_dir);
        let file = o.config.clone().or_else(|| {
            let p = data_dir.join(FILE_NAME);
            p.exists().then_some(p)
        });
        let mut c = match file {
            Some(p) => Self::from_file(&p)?,
            None => Self::default(),
        };
        c.data_dir = data_dir;
        if let Some(v) = o.mode {
            c.mode = v;
        }
        if let Some(v) = &o.server {
            c.server = v.clone();
        }
        if let Some(v) = &o.server_fingerprint {
            c.server_fingerprint = v.clone();
        }
        if let Some(v) = &o.listen {
            c.listen = v.clone();
        }
        if let Some(v) = &o.applications_dir {
            c.applications_dir = v.clone();
        }
        if let Some(v) = &o.otlp_endpoint {
            c.otlp_endpoint = v.clone();
        }
        if let Some(v) = &o.log_format {
            c.log_format = runtime::config::parse_log_format(v)?;
        }
        if c.applications_dir.as_os_str().is_empty() {
            c.applications_dir = c.data_dir.join("applications");
        }
        Ok(c)
    }

    fn from_file(p: &Path) -> Result<Self, ConfigError> {
        runtime::config::read_toml(p)
    }

    /// Checks what running needs, with messages that say what to do.
    pub fn check_runnable(&self) -> Result<(), ConfigError> {
        if self.server_fingerprint.is_empty() {
            return Err(ConfigError::Invalid(
                "no Space certificate to trust: pass --server-fingerprint sha256:... (or run 'agent register')".into(),
            ));
        }
        net::tls::normalize_fingerprint(&self.server_fingerprint)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.mode == Mode::Polling && self.server.is_empty() {
            return Err(ConfigError::Invalid(
                "a polling agent needs the Space's agent endpoint: pass --server https://HOST:PORT (deploy target endpoint prints it)".into(),
            ));
        }
        Ok(())
    }

    pub fn printable(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}
