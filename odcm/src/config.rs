//! ODCM configuration: TOML file, overridden by environment variables (`ODCM_*`), overridden by
//! flags. `--print-config` shows the effective result.

use std::path::{Path, PathBuf};

use runtime::telemetry::{LogFormat, TelemetryConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The ODCM's name: the `O` of every certificate it issues.
    pub name: String,
    /// Where the ODCM keeps everything it owns (database, CA key, TLS identity).
    pub data_dir: PathBuf,
    /// gRPC (TLS) listen address for the admin, enrolment and Space-facing APIs.
    pub listen: String,
    /// Web UI listen address (HTTPS, admin keys); empty: off.
    pub web_listen: String,
    /// Extra DNS names / IPs for the server certificate.
    pub tls_names: Vec<String>,
    /// How long a rotated-out certificate stays accepted next to its replacement.
    pub rotation_overlap_secs: u64,
    /// Validity of the certificates issued to Spaces.
    pub cert_validity_days: u64,
    /// Validity of enrolment tokens.
    pub token_validity_secs: u64,
    pub log_format: LogFormat,
    /// OTLP gRPC endpoint for traces (e.g. http://127.0.0.1:4317); empty: off.
    pub otlp_endpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: "ODCM".into(),
            data_dir: PathBuf::from("odcm-data"),
            listen: "127.0.0.1:8440".into(),
            web_listen: "127.0.0.1:8441".into(),
            tls_names: Vec::new(),
            rotation_overlap_secs: 24 * 3600,
            cert_validity_days: 365,
            token_validity_secs: 24 * 3600,
            log_format: LogFormat::Text,
            otlp_endpoint: String::new(),
        }
    }
}

/// Values given on the command line or in the environment (`None`: not given).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file (TOML).
    #[arg(long, env = "ODCM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// ODCM name.
    #[arg(long, env = "ODCM_NAME", global = true)]
    pub name: Option<String>,
    /// Data directory.
    #[arg(long, env = "ODCM_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// gRPC listen address (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "ODCM_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Web UI listen address (HOST:PORT; port 0 picks a free one; empty: no web UI).
    #[arg(long, env = "ODCM_WEB_LISTEN", global = true)]
    pub web_listen: Option<String>,
    /// Rotation overlap in seconds.
    #[arg(long, env = "ODCM_ROTATION_OVERLAP_SECS", global = true)]
    pub rotation_overlap_secs: Option<u64>,
    /// Validity of issued Space certificates, in days.
    #[arg(long, env = "ODCM_CERT_VALIDITY_DAYS", global = true)]
    pub cert_validity_days: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "ODCM_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// OTLP gRPC endpoint for traces.
    #[arg(long, env = "ODCM_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
}

pub use runtime::config::ConfigError;

impl Config {
    /// Defaults, then the file, then the overrides.
    pub fn load(o: &Overrides) -> Result<Self, ConfigError> {
        let mut c = match &o.config {
            Some(p) => Self::from_file(p)?,
            None => Self::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = &o.$f { c.$f = v.clone(); })* };
        }
        set!(
            name,
            data_dir,
            listen,
            web_listen,
            rotation_overlap_secs,
            cert_validity_days,
            otlp_endpoint
        );
        if let Some(v) = &o.log_format {
            c.log_format = runtime::config::parse_log_format(v)?;
        }
        if c.name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "the ODCM name must not be empty".into(),
            ));
        }
        if c.cert_validity_days == 0 {
            return Err(ConfigError::Invalid(
                "cert_validity_days must be at least 1".into(),
            ));
        }
        Ok(c)
    }

    fn from_file(p: &Path) -> Result<Self, ConfigError> {
        runtime::config::read_toml(p)
    }

    pub fn telemetry(&self) -> TelemetryConfig {
        TelemetryConfig {
            log_format: self.log_format,
            otlp_endpoint: (!self.otlp_endpoint.is_empty()).then(|| self.otlp_endpoint.clone()),
            service_name: "odcm".into(),
        }
    }

    /// The effective configuration as TOML, with credentials in URLs masked.
    pub fn printable(&self) -> String {
        let mut c = self.clone();
        if let (Some(s), Some(at)) = (c.otlp_endpoint.find("://"), c.otlp_endpoint.find('@'))
            && at > s
        {
            c.otlp_endpoint = format!(
                "{}********{}",
                &c.otlp_endpoint[..s + 3],
                &c.otlp_endpoint[at..]
            );
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
#[path = "tests/config.rs"]
mod tests;
