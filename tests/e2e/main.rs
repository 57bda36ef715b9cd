//! Every end-to-end scenario in one test binary (linked once): each module starts the real
//! binaries (`space-server`, `odcm`, `agent`, `deploy`) on loopback and drives them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step should panic

mod access;
mod audit_checkpoints;
mod backup_restore;
mod bombs;
mod chunk_store;
mod cli_conventions;
mod connected_auto;
mod connected_chain;
mod connected_cut;
mod connected_damage;
mod connected_deleted;
mod connected_delta;
mod connected_prestage;
mod connected_relay;
mod connected_schedule;
mod connected_trace;
mod deployment_failures;
mod deployments;
mod input_refusals;
mod integrity;
mod netns;
mod odcm;
mod offline_drop;
mod oversized;
mod packages_releases;
mod peer_flood;
mod peering;
mod peering_disconnected;
mod permissions;
mod permissions_scoped;
mod project_code;
mod promotion;
mod promotion_connected;
mod promotion_crash;
mod promotion_later;
mod promotion_refusals;
mod restart_and_logs;
mod space_api;
mod templates;
mod tenant_deployments;
mod tenants;
mod web_ui;
mod web_ui_more;
