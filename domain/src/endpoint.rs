//! Addresses and certificate fingerprints as people type them: parsed and normalised here so
//! every front end and the wire conversions accept the same forms.

/// An address or fingerprint that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid server address '{0}': expected https://HOST:PORT")]
    BadAddress(String),
    #[error("bad fingerprint '{0}': expected sha256: followed by 64 hex characters")]
    BadFingerprint(String),
}

/// Normalises a user-typed fingerprint (accepts colons, upper case, missing `sha256:`).
pub fn normalize_fingerprint(s: &str) -> Result<String, EndpointError> {
    let hexpart: String = s
        .trim()
        .trim_start_matches("sha256:")
        .trim_start_matches("SHA256:")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hexpart.len() != 64 || !hexpart.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(EndpointError::BadFingerprint(s.to_string()));
    }
    Ok(format!("sha256:{hexpart}"))
}

/// Splits `https://host:port` into host and port.
pub fn parse_address(address: &str) -> Result<(String, u16), EndpointError> {
    let bad = || EndpointError::BadAddress(address.to_string());
    let rest = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("grpcs://"))
        .unwrap_or(address)
        .trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}
