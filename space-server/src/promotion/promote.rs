//! The source side of a promotion: checks the lifecycle lets the release reach the target
//! Space, builds the Release Bundle (sensitive values sealed for that Space, signed with this
//! Space's identity) and records that it was sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::model::{DeploymentSummary, Promotion, Release};
use exchange::bundle::{BundleDraft, DraftVariable, ProjectInfo, ReleaseInfo, VerifiedBundle};
use proto::odcm::v1 as odcm_pb;
use storage::Batch;

use super::{audit, bundle_error, peer_cert, peering, signer};
use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};

/// A bundle written for another Space.
pub struct Promoted {
    pub record: Promotion,
    pub bundle: VerifiedBundle,
    pub bytes: Vec<u8>,
}

/// A fresh W3C `traceparent` for a promotion (the bundle carries it to the target Space).
pub fn new_traceparent() -> String {
    let mut ids = [0u8; 24];
    if secrets::random_bytes(&mut ids).is_err() {
        return String::new();
    }
    format!(
        "00-{}-{}-01",
        hex::encode(&ids[..16]),
        hex::encode(&ids[16..])
    )
}

/// Checks the release's lifecycle lets it reach `to_space` (a phase naming the Space or one of
/// its remote environments, with every earlier phase complete).
fn check_lifecycle(engine: &Engine, r: &Release, to_space: &str) -> ApiResult<()> {
    let lifecycle = engine.lifecycle_of(r)?;
    let (succeeded, _) = engine.history(r, None)?;
    let mut entries = vec![to_space.to_string()];
    entries.extend(
        engine
            .state
            .remote_environments(to_space)?
            .into_iter()
            .map(|e| e.name),
    );
    let mut first_error = None;
    for e in &entries {
        if domain::lifecycle::phase_of(&lifecycle, e).is_none() {
            continue;
        }
        match domain::lifecycle::check_can_deploy(&lifecycle, e, &succeeded) {
            Ok(()) => return Ok(()),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    Err(match first_error {
        Some(e) => ApiError::Precondition(format!(
            "release {} of '{}' cannot be promoted to space '{to_space}': {e}",
            r.version, r.project
        )),
        None => ApiError::Precondition(format!(
            "lifecycle '{}' has no phase naming space '{to_space}' or one of its remote environments: add one (e.g. deploy lifecycle update '{}' --phase 'Production:{to_space}')",
            lifecycle.name, lifecycle.name
        )),
    })
}

/// What the bundle reports as done before: this Space's deployments of the release (the latest
/// per environment), the receipts it received, and what its own bundle reported.
fn earlier_deployments(engine: &Engine, r: &Release) -> ApiResult<Vec<DeploymentSummary>> {
    let me = &engine.state.name;
    let mut latest: BTreeMap<String, DeploymentSummary> = BTreeMap::new();
    let mut ds =
        crate::deployments::index::of_release(engine.state.store.as_ref(), &r.project, &r.version)?;
    ds.reverse(); // oldest first: the latest per environment is put last
    for d in ds {
        if d.project.eq_ignore_ascii_case(&r.project)
            && d.version == r.version
            && d.release_created_at.is_none_or(|at| at == r.created_at)
            && d.state.is_final()
        {
            latest.insert(
                d.environment.to_lowercase(),
                DeploymentSummary {
                    space: me.clone(),
                    environment: d.environment,
                    state: d.state,
                    finished_at: d.finished_at,
                },
            );
        }
    }
    let mut out: Vec<DeploymentSummary> = r
        .origin
        .as_ref()
        .map(|o| o.deployments.clone())
        .unwrap_or_default();
    out.extend(latest.into_values());
    for rr in super::remote_index::results_for(&engine.state, r)? {
        let environment = domain::model::Environment::split_remote(&rr.environment)
            .map(|(_, e)| e.to_string())
            .unwrap_or(rr.environment.clone());
        out.push(DeploymentSummary {
            space: rr.from_space,
            environment,
            state: rr.state,
            finished_at: rr.finished_at,
        });
    }
    Ok(out)
}

/// Builds and signs the bundle of `project` `version` for `to_space`, and records it.
pub fn promote(
    engine: &Arc<Engine>,
    project: &str,
    version: &str,
    to_space: &str,
    who: &str,
) -> ApiResult<Promoted> {
    let state = &engine.state;
    let to_space = to_space.trim();
    if to_space.eq_ignore_ascii_case(&state.name) {
        return Err(ApiError::Invalid(format!(
            "'{to_space}' is this Space: deploy the release here instead"
        )));
    }
    let r = state.release(project, version)?;
    let p = peering(state)?;
    let target = peer_cert(p, to_space)?;
    check_lifecycle(engine, &r, &target.common_name)?;
    let proj = state.project(&r.project)?;
    let mut variables = Vec::with_capacity(r.variables.len());
    // Tenants belong to this Space: values scoped to them never travel.
    for v in r.variables.iter().filter(|v| v.scope.tenants.is_empty()) {
        variables.push(DraftVariable {
            id: v.id.clone(),
            name: v.name.clone(),
            value: state.reveal(&r.project, v)?,
            sensitive: v.is_sensitive(),
            scope: v.scope.clone(),
            description: v.description.clone(),
        });
    }
    let mut packages = Vec::new();
    for pin in &r.packages {
        let m = state.package(&pin.id, &pin.version)?;
        if m.sha256 != pin.sha256 {
            return Err(ApiError::Precondition(format!(
                "package {} {} in the feed is not the one release {} pinned (sha256 {} vs {}): it was replaced after the release was created",
                pin.id, pin.version, r.version, m.sha256, pin.sha256
            )));
        }
        if !packages
            .iter()
            .any(|x: &package_store::PackageManifest| x.id == m.id && x.version == m.version)
        {
            packages.push(m);
        }
    }
    // The promotion's span (a child of the trace the release came with, along a chain) is
    // what the target's spans join: its context travels in the bundle.
    let upstream = r
        .origin
        .as_ref()
        .map(|o| o.traceparent.clone())
        .filter(|t| !t.is_empty());
    let span = tracing::info_span!("promote release", project = %r.project, release = %r.version, to_space = %target.common_name);
    if let Some(t) = &upstream {
        runtime::telemetry::context::set_parent(&span, t);
    }
    let _in_span = span.enter();
    let traceparent = runtime::telemetry::context::traceparent_of(&span)
        .or(upstream)
        .unwrap_or_else(new_traceparent);
    let draft = BundleDraft {
        source_space: p.me.clone(),
        target_space: target.common_name.clone(),
        project: ProjectInfo {
            name: r.project.clone(),
            description: proj.description.clone(),
        },
        release: ReleaseInfo {
            version: r.version.clone(),
            notes: r.notes.clone(),
            channel: r.channel.clone(),
        },
        process: r.process.clone(),
        variables,
        templates: r.templates.clone(),
        pinned_packages: r.packages.clone(),
        packages,
        deployments: earlier_deployments(engine, &r)?,
        traceparent: traceparent.clone(),
        origin: r.origin.as_ref().map(|o| {
            let (space, project) = o.first();
            let mut route = o.route.clone();
            route.push(domain::model::RouteHop {
                space: o.source_space.clone(),
                project: o.source_project.clone(),
                bundle_id: o.bundle_id.clone(),
                bundle_digest: o.bundle_digest.clone(),
            });
            exchange::bundle::BundleOrigin {
                space: space.to_string(),
                project: project.to_string(),
                route,
            }
        }),
    };
    let signer = signer(p)?;
    let bytes = exchange::bundle::build(draft, &target.der, &signer).map_err(bundle_error)?;
    let bundle = exchange::bundle::verify_signed_by(&bytes, &p.cert).map_err(bundle_error)?;
    let record = Promotion {
        bundle_id: bundle.contents.bundle_id.clone(),
        digest: bundle.digest.clone(),
        project: r.project.clone(),
        version: r.version.clone(),
        target_space: target.common_name.clone(),
        created_at: domain::model::now(),
        created_by: who.to_string(),
    };
    let mut b = Batch::new();
    super::index::put_promotion(&mut b, &record)?;
    super::index::add_given(&mut b, &record.target_space, &r);
    state.commit_blocking(b)?; // durable: acknowledged promotion steps survive a crash
    let sensitive = bundle
        .contents
        .variables
        .iter()
        .filter(|v| v.is_sensitive())
        .count();
    tracing::info!(
        project = %r.project, release = %r.version, to_space = %record.target_space,
        bundle = %record.bundle_id, digest = %record.digest, variables = bundle.contents.variables.len(),
        sensitive, packages = bundle.contents.packages.len(), traceparent = %traceparent, by = %who,
        "release bundle written"
    );
    audit(
        state,
        odcm_pb::EventKind::BundleSent,
        &record.target_space,
        &format!("{} {}", r.project, r.version),
        &format!("bundle {} ({})", record.bundle_id, record.digest),
    );
    Ok(Promoted {
        record,
        bundle,
        bytes,
    })
}
