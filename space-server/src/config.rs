//! Space server configuration: TOML file, overridden by environment variables, overridden by
//! flags. `--print-config` shows the effective result.

use std::path::{Path, PathBuf};

use runtime::telemetry::{LogFormat, TelemetryConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Space's name, shown to users and other Spaces.
    pub name: String,
    /// Where the Space keeps everything it owns (database, keys, packages).
    pub data_dir: PathBuf,
    /// gRPC (TLS) listen address.
    pub listen: String,
    /// Agent endpoint listen address (mutual TLS; polling agents connect here).
    pub agent_listen: String,
    /// Prometheus /metrics listen address (plain HTTP); empty: off.
    pub metrics_listen: String,
    /// Web UI listen address (HTTPS, the API's certificate); empty: off. On by default on
    /// loopback, like the API: the people who watch releases do it in a browser.
    pub web_listen: String,
    /// Minutes a web UI session lasts without a request.
    pub web_idle_minutes: u64,
    /// Seconds a step waits for a polling agent that is not connected.
    pub agent_wait_secs: u64,
    /// Targets per step at once, unless a deployment asks otherwise.
    pub max_parallel: usize,
    /// Extractions of each package an agent keeps per environment (older ones are removed
    /// using the deployment journal); 0 keeps all.
    pub package_retention: usize,
    /// The largest package upload accepted, in bytes (default 16 GiB).
    pub max_package_bytes: u64,
    /// Extra DNS names / IPs for the server certificate.
    pub tls_names: Vec<String>,
    pub log_format: LogFormat,
    /// OTLP gRPC endpoint for traces (e.g. http://127.0.0.1:4317); empty: off.
    pub otlp_endpoint: String,
    /// Peer service listen address (mutual TLS with other Spaces' ODCM-issued certificates).
    pub peer_listen: String,
    /// The peer address other Spaces are told (https://HOST:PORT); empty: from `peer_listen`.
    pub peer_endpoint: String,
    /// The ODCM this Space enrols with (https://HOST:PORT); empty: not connected to an ODCM.
    pub odcm_url: String,
    /// The ODCM's server certificate fingerprint (sha256:...), pinned for enrolment.
    pub odcm_fingerprint: String,
    /// One-time enrolment token from `deploy odcm space create` (secret; needed once).
    pub enrolment_token: String,
    /// Seconds of silence after which another Space's results show as stale (default 600).
    pub peer_stale_after_secs: i64,
    /// Size caps on what the API stores (`[limits]`).
    pub limits: crate::limits::Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: "Space".into(),
            data_dir: PathBuf::from("space-data"),
            listen: "127.0.0.1:8443".into(),
            agent_listen: "127.0.0.1:8444".into(),
            metrics_listen: String::new(),
            web_listen: "127.0.0.1:8446".into(),
            web_idle_minutes: 30,
            agent_wait_secs: 60,
            max_parallel: 10,
            package_retention: 0,
            max_package_bytes: 16 << 30,
            tls_names: Vec::new(),
            log_format: LogFormat::Text,
            otlp_endpoint: String::new(),
            peer_listen: "127.0.0.1:8445".into(),
            peer_endpoint: String::new(),
            odcm_url: String::new(),
            odcm_fingerprint: String::new(),
            enrolment_token: String::new(),
            peer_stale_after_secs: crate::contacts::DEFAULT_STALE_AFTER,
            limits: crate::limits::Limits::default(),
        }
    }
}

/// Values given on the command line or in the environment (`None`: not given).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file (TOML).
    #[arg(long, env = "SPACE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Space name.
    #[arg(long, env = "SPACE_NAME", global = true)]
    pub name: Option<String>,
    /// Data directory.
    #[arg(long, env = "SPACE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// gRPC listen address (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "SPACE_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Prometheus metrics listen address.
    #[arg(long, env = "SPACE_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
    /// Agent endpoint listen address (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "SPACE_AGENT_LISTEN", global = true)]
    pub agent_listen: Option<String>,
    /// Web UI listen address (HOST:PORT; port 0 picks a free one; empty: no web UI).
    #[arg(long, env = "SPACE_WEB_LISTEN", global = true)]
    pub web_listen: Option<String>,
    /// Seconds a step waits for a polling agent that is not connected.
    #[arg(long, env = "SPACE_AGENT_WAIT_SECS", global = true)]
    pub agent_wait_secs: Option<u64>,
    /// Extractions of each package agents keep (0: all).
    #[arg(long, env = "SPACE_PACKAGE_RETENTION", global = true)]
    pub package_retention: Option<usize>,
    /// The largest package upload accepted, in bytes.
    #[arg(long, env = "SPACE_MAX_PACKAGE_BYTES", global = true)]
    pub max_package_bytes: Option<u64>,
    /// Seconds of silence after which another Space's results show as stale.
    #[arg(long, env = "SPACE_PEER_STALE_AFTER_SECS", global = true)]
    pub peer_stale_after_secs: Option<i64>,
    /// Log format: text or json.
    #[arg(long, env = "SPACE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// OTLP gRPC endpoint for traces.
    #[arg(long, env = "SPACE_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// Peer service listen address (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "SPACE_PEER_LISTEN", global = true)]
    pub peer_listen: Option<String>,
    /// Peer address announced to the ODCM (https://HOST:PORT).
    #[arg(long, env = "SPACE_PEER_ENDPOINT", global = true)]
    pub peer_endpoint: Option<String>,
    /// ODCM address (https://HOST:PORT).
    #[arg(long, env = "SPACE_ODCM_URL", global = true)]
    pub odcm_url: Option<String>,
    /// ODCM server certificate fingerprint (sha256:...).
    #[arg(long, env = "SPACE_ODCM_FINGERPRINT", global = true)]
    pub odcm_fingerprint: Option<String>,
    /// One-time enrolment token (used at the first start only).
    #[arg(
        long,
        env = "SPACE_ENROLMENT_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub enrolment_token: Option<String>,
}

pub use runtime::config::ConfigError;

impl Config {
    /// Defaults, then the file, then the overrides.
    pub fn load(o: &Overrides) -> Result<Self, ConfigError> {
        let mut c = match &o.config {
            Some(p) => Self::from_file(p)?,
            None => Self::default(),
        };
        if let Some(v) = &o.name {
            c.name = v.clone();
        }
        if let Some(v) = &o.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = &o.listen {
            c.listen = v.clone();
        }
        if let Some(v) = &o.metrics_listen {
            c.metrics_listen = v.clone();
        }
        if let Some(v) = &o.agent_listen {
            c.agent_listen = v.clone();
        }
        if let Some(v) = &o.web_listen {
            c.web_listen = v.clone();
        }
        if let Some(v) = o.agent_wait_secs {
            c.agent_wait_secs = v;
        }
        if let Some(v) = o.package_retention {
            c.package_retention = v;
        }
        if let Some(v) = o.peer_stale_after_secs {
            c.peer_stale_after_secs = v;
        }
        if let Some(v) = o.max_package_bytes {
            c.max_package_bytes = v;
        }
        if let Some(v) = &o.otlp_endpoint {
            c.otlp_endpoint = v.clone();
        }
        for (v, f) in [
            (&o.peer_listen, &mut c.peer_listen),
            (&o.peer_endpoint, &mut c.peer_endpoint),
            (&o.odcm_url, &mut c.odcm_url),
            (&o.odcm_fingerprint, &mut c.odcm_fingerprint),
            (&o.enrolment_token, &mut c.enrolment_token),
        ] {
            if let Some(v) = v {
                f.clone_from(v);
            }
        }
        if let Some(v) = &o.log_format {
            c.log_format = runtime::config::parse_log_format(v)?;
        }
        if c.name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "the Space name must not be empty".into(),
            ));
        }
        Ok(c)
    }

    fn from_file(p: &Path) -> Result<Self, ConfigError> {
        runtime::config::read_toml(p)
    }

    pub fn options(&self) -> crate::server::Options {
        crate::server::Options {
            agent_wait: std::time::Duration::from_secs(self.agent_wait_secs),
            max_parallel: self.max_parallel.max(1),
            retention: (self.package_retention > 0).then_some(self.package_retention),
            max_package_bytes: self.max_package_bytes,
            limits: self.limits,
            stale_after_secs: self.peer_stale_after_secs,
            peering: None,
            web_idle: std::time::Duration::from_secs(self.web_idle_minutes.max(1) * 60),
        }
    }

    pub fn telemetry(&self) -> TelemetryConfig {
        TelemetryConfig {
            log_format: self.log_format,
            otlp_endpoint: (!self.otlp_endpoint.is_empty()).then(|| self.otlp_endpoint.clone()),
            service_name: "space-server".into(),
        }
    }

    /// The effective configuration as TOML, with credentials in URLs masked.
    pub fn printable(&self) -> String {
        let mut c = self.clone();
        c.otlp_endpoint = mask_userinfo(&c.otlp_endpoint);
        if !c.enrolment_token.is_empty() {
            c.enrolment_token = "********".into();
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// Hides `user:password@` in a URL.
fn mask_userinfo(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}********{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
#[path = "tests/config.rs"]
mod tests;
