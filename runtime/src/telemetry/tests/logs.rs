//! Unit tests of `logs.rs`.

use super::*;

#[test]
fn init_json_once_then_refuses_second_init() {
    let cfg = TelemetryConfig {
        log_format: LogFormat::Json,
        otlp_endpoint: None,
        service_name: "test".into(),
    };
    // Another test in this binary may have installed a subscriber first.
    let first = init(&cfg);
    match &first {
        Ok(guard) => assert!(!guard.exporting()),
        Err(TelemetryError::AlreadyInitialized(_)) => {}
        Err(other) => panic!("unexpected error: {other}"),
    }
    tracing::info!(answer = 42, "telemetry test event");
    let second = init(&cfg);
    assert!(matches!(second, Err(TelemetryError::AlreadyInitialized(_))));
    drop(first);
}

#[test]
fn otlp_without_runtime_is_an_error() {
    let err = build_provider("http://127.0.0.1:4317", "svc").expect_err("no runtime");
    assert!(matches!(err, TelemetryError::NoRuntime));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_provider_builds_and_shuts_down_without_collector() {
    let provider = build_provider("http://127.0.0.1:4317", "svc").expect("provider");
    let guard = TelemetryGuard {
        provider: Some(provider),
    };
    assert!(guard.exporting());
    drop(guard);
}

#[tokio::test]
async fn otlp_invalid_endpoint_is_an_error() {
    let err = build_provider("http://bad host:4317", "svc").expect_err("invalid");
    assert!(matches!(err, TelemetryError::Exporter { .. }), "{err}");
}

#[test]
fn exporter_targets_are_filtered() {
    assert!(is_exporter_internal("h2::codec"));
    assert!(is_exporter_internal("opentelemetry_sdk"));
    assert!(is_exporter_internal("tonic"));
    assert!(!is_exporter_internal("hyperdrive"));
    assert!(!is_exporter_internal("runtime::telemetry"));
}
