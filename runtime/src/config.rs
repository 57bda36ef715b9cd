//! Configuration pieces every service shares: reading its TOML file, parsing a log format, and
//! the errors both produce.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::telemetry::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration file {path} is invalid: {reason}")]
    Parse { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Reads a TOML configuration file; unknown keys are refused by the target type.
pub fn read_toml<T: DeserializeOwned>(p: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
        path: p.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: p.display().to_string(),
        reason: e.to_string(),
    })
}

/// `text` or `json`, any case.
pub fn parse_log_format(v: &str) -> Result<LogFormat, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(ConfigError::Invalid(format!(
            "log format '{other}' is not known: use text or json"
        ))),
    }
}

#[cfg(test)]
#[path = "tests/config.rs"]
mod tests;
