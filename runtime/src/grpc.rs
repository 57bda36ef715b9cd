//! Server wiring every gRPC listener shares: the standard health service, and reflection over
//! every `.proto` of the system (behind the API key where the caller puts it).

use tonic::server::NamedService;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_reflection::server::v1::{ServerReflection, ServerReflectionServer};

/// The health service, reporting `S` as serving.
pub async fn health<S: NamedService>() -> HealthServer<impl Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter.set_serving::<S>().await;
    service
}

/// gRPC reflection over the system's services and the health service.
pub fn reflection() -> Result<ServerReflectionServer<impl ServerReflection>, String> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| e.to_string())
}
