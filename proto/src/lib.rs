//! Generated gRPC types and services (tonic/prost), and `wire`: the one module that converts
//! them to and from domain types. Nothing outside this crate builds a domain value from a
//! generated message by hand. `json`: the JSON shape of answers the CLI (`-o json`) and the
//! web UI's endpoints both give, built once from the messages.

#[allow(clippy::all, clippy::pedantic)] // generated code
pub mod space {
    pub mod v1 {
        tonic::include_proto!("space.v1");
    }
}

#[allow(clippy::all, clippy::pedantic)] // generated code
pub mod odcm {
    pub mod v1 {
        tonic::include_proto!("odcm.v1");
    }
}

#[allow(clippy::all, clippy::pedantic)] // generated code
pub mod agent {
    pub mod v1 {
        tonic::include_proto!("agent.v1");
    }
}

#[allow(clippy::all, clippy::pedantic)] // generated code
pub mod peer {
    pub mod v1 {
        tonic::include_proto!("peer.v1");
    }
}

/// The encoded file descriptor set of every .proto file, for tonic-reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod json;
pub mod wire;
