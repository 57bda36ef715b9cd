//! Unit tests of `mod.rs`.

use super::*;

#[test]
fn config_serde_roundtrip() {
    let cfg: TelemetryConfig = serde_json::from_str(
        r#"{"log_format":"json","otlp_endpoint":"http://127.0.0.1:4317","service_name":"space"}"#,
    )
    .expect("parse");
    assert_eq!(cfg.log_format, LogFormat::Json);
    assert_eq!(cfg.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4317"));
    let text = serde_json::to_string(&TelemetryConfig::default()).expect("serialize");
    assert!(text.contains("\"log_format\":\"text\""), "{text}");
}
