//! Importing a pending Release Bundle as a release of its Remote Project "<source>: <project>":
//! packages checked whole, sensitive values re-sealed for this Space, environments renamed as
//! this Space sees them, all written in one guarded commit.

use std::sync::Arc;

use domain::model::{
    BundleState, Lifecycle, Project, ReceivedBundle, Release, ReleaseOrigin, RemoteOrigin, Scope,
    Variable, VariableValue,
};
use exchange::bundle::{BundleValue, DecryptedVariable, VerifiedBundle};
use package_store::PackageManifest;
use proto::odcm::v1 as odcm_pb;
use storage::records::{ProcessRecord, VariableSetRecord};
use storage::{Batch, StoreExt, key_of};
use tracing::Instrument;

use super::bundles::{find, load};
use super::{audit, bundle_error, peering};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, now};

/// Rewrites the environments a source scoped things to as this Space sees them
/// ([`domain::model::Environment::as_seen_from`]).
fn localise(envs: &mut [String], me: &str, source: &str) {
    for e in envs.iter_mut() {
        *e = domain::model::Environment::as_seen_from(e, me, source);
    }
}

fn localise_scope(s: &mut Scope, me: &str, source: &str) {
    localise(&mut s.environments, me, source);
}

/// Refuses a bundle imported before.
fn already(rec: &ReceivedBundle) -> ApiResult<()> {
    match &rec.state {
        BundleState::Imported { project, .. } => Err(ApiError::exists(
            "imported bundle",
            format!("{} (release {} of '{project}')", rec.id, rec.version),
        )),
        BundleState::Pending => Ok(()),
    }
}

/// What an import did.
pub struct Imported {
    pub release: Release,
    pub lifecycle: String,
    pub project_created: bool,
    /// The release was here already (the same release by another route): nothing new.
    pub arrived_before: bool,
}

/// Where a bundle's release was first made (Space, project), whichever route it took.
fn first_made(c: &exchange::bundle::BundleContents) -> (&str, &str) {
    match &c.origin {
        Some(o) => (o.space.as_str(), o.project.as_str()),
        None => (c.source_space.as_str(), c.project.name.as_str()),
    }
}

/// The Remote Project a bundle's release is imported into: "<first Space>: <project>".
pub fn local_project(c: &exchange::bundle::BundleContents) -> String {
    let (space, project) = first_made(c);
    format!("{space}: {project}")
}

/// Imports a pending bundle as a release of the Remote Project "<source>: <project>".
pub async fn import(
    state: &Arc<SpaceState>,
    id: &str,
    lifecycle: &str,
    who: &str,
) -> ApiResult<Imported> {
    let rec = find(state, id)?;
    already(&rec)?;
    let v = load(state, &rec, true)?;
    // Part of the promotion's trace: the bundle carries the context of the source's span.
    let span = tracing::info_span!("import release bundle", bundle = %rec.id, from_space = %rec.source_space);
    runtime::telemetry::context::set_parent(&span, &v.contents.traceparent);
    import_verified(state, rec, v, lifecycle, who)
        .instrument(span)
        .await
}

async fn import_verified(
    state: &Arc<SpaceState>,
    rec: ReceivedBundle,
    v: VerifiedBundle,
    lifecycle: &str,
    who: &str,
) -> ApiResult<Imported> {
    let id = rec.id.as_str();
    let p = peering(state)?;
    let secrets = v
        .decrypt_sensitive(&p.identity.key_pem)
        .map_err(bundle_error)?;
    let c = &v.contents;
    // The packages are read outside the write lock (they may be large); the bundle's state is
    // checked again under it.
    let manifests = v.manifests();
    tracing::info!(bundle = %rec.id, packages = manifests.len(), "importing release bundle: checking its packages");
    super::verified::check_all(state, &manifests).await?;
    let imported = state
        .commit_guarded(|| import_plan(state, &v, &secrets, &manifests, id, lifecycle, who))
        .await?; // durable: acknowledged promotion steps survive a crash
    let Imported {
        release, lifecycle, ..
    } = &imported;
    let project_name = &release.project;
    super::bundles::forget(state, id);
    tracing::info!(bundle = %rec.id, project = %project_name, release = %release.version, lifecycle = %lifecycle, traceparent = %c.traceparent, by = %who, "release bundle imported");
    audit(
        state,
        odcm_pb::EventKind::BundleAccepted,
        &c.source_space,
        &format!("{} {}", c.project.name, c.release.version),
        &format!(
            "bundle {} ({}) imported into '{project_name}'",
            rec.id, v.digest
        ),
    );
    Ok(imported)
}

/// What importing the verified bundle `v` writes, decided on what the store holds now: the
/// bundle's state is checked again here (it may have been imported meanwhile).
fn import_plan(
    state: &SpaceState,
    v: &VerifiedBundle,
    secrets: &[DecryptedVariable],
    manifests: &[PackageManifest],
    id: &str,
    asked_lifecycle: &str,
    who: &str,
) -> ApiResult<(Batch, Imported)> {
    let rec = find(state, id)?;
    already(&rec)?;
    let c = &v.contents;
    let (first_space, first_project) = first_made(c);
    let project_name = local_project(c);
    crate::api::check_name("project", &project_name)?;
    package_store::validate_version(&c.release.version)
        .map_err(|e| ApiError::Invalid(format!("the bundle's release version: {e}")))?;
    let existing = state
        .store
        .get_record::<Project>(&key_of(&[&project_name]))?;
    if let Some(e) = &existing
        && !e.remote.as_ref().is_some_and(|o| {
            o.space.eq_ignore_ascii_case(first_space)
                && o.project.eq_ignore_ascii_case(first_project)
        })
    {
        return Err(ApiError::Precondition(format!(
            "project '{project_name}' exists and is not the Remote Project of '{first_project}' from space '{first_space}': delete it (or move its releases elsewhere) before importing"
        )));
    }
    let lifecycle = choose_lifecycle(state, asked_lifecycle, existing.as_ref())?;
    if let Some(have) = state
        .store
        .get_record::<Release>(&key_of(&[&project_name, &c.release.version]))?
    {
        // The same release, arrived by another route (from Dev directly and through QA):
        // one release; this bundle is recorded as imported into it.
        let same = have.origin.as_ref().is_some_and(|o| {
            let (s, p) = o.first();
            s.eq_ignore_ascii_case(first_space) && p.eq_ignore_ascii_case(first_project)
        });
        if !same {
            return Err(ApiError::exists(
                "release",
                format!("{} of '{project_name}'", c.release.version),
            ));
        }
        let mut b = Batch::new();
        let imported = ReceivedBundle {
            state: BundleState::Imported {
                at: now(),
                by: who.to_string(),
                project: project_name.clone(),
            },
            ..rec.clone()
        };
        super::index::put_bundle(&mut b, &imported, false)?;
        return Ok((
            b,
            Imported {
                release: have,
                lifecycle,
                project_created: false,
                arrived_before: true,
            },
        ));
    }
    // Packages: not conflicting with the feed.
    let mut new_manifests = Vec::new();
    for m in manifests {
        match state.package(&m.id, &m.version) {
            Ok(have) if have.sha256 == m.sha256 => {}
            Ok(have) => {
                return Err(ApiError::Precondition(format!(
                    "package {} {} in this Space's feed has SHA-256 {}, the bundle's has {}: the same version with other content cannot be imported",
                    m.id, m.version, have.sha256, m.sha256
                )));
            }
            Err(_) => new_manifests.push(m.clone()),
        }
    }
    let me = state.name.clone();
    let mut process = c.process.clone();
    for s in &mut process.steps {
        localise(&mut s.environments, &me, &c.source_space);
    }
    let mut variables = Vec::with_capacity(c.variables.len());
    for bv in &c.variables {
        let value = match &bv.value {
            BundleValue::Plain(s) => VariableValue::Plain(s.clone()),
            BundleValue::Sealed { .. } => {
                let clear = secrets.iter().find(|s| s.id == bv.id).ok_or_else(|| {
                    ApiError::Internal(format!("value of {} not decrypted", bv.id))
                })?;
                VariableValue::Sensitive(state.master.seal(
                    &clear.value,
                    &SpaceState::seal_context(&project_name, &bv.id),
                )?)
            }
        };
        let mut scope = bv.scope.clone();
        localise_scope(&mut scope, &me, &c.source_space);
        variables.push(Variable {
            id: bv.id.clone(),
            name: bv.name.clone(),
            value,
            scope,
            description: bv.description.clone(),
        });
    }
    let release = Release {
        project: project_name.clone(),
        version: c.release.version.clone(),
        channel: c.release.channel.clone(),
        notes: c.release.notes.clone(),
        packages: c.pinned_packages.clone(),
        process: process.clone(),
        variables,
        templates: c.templates.clone(),
        created_at: c.created_at,
        created_by: format!("{} (space {})", who, c.source_space),
        origin: Some(ReleaseOrigin {
            source_space: c.source_space.clone(),
            source_project: c.project.name.clone(),
            bundle_id: c.bundle_id.clone(),
            bundle_digest: v.digest.clone(),
            signer: v.signer_keyid.clone(),
            imported_at: now(),
            imported_by: who.to_string(),
            deployments: c.deployments.clone(),
            traceparent: c.traceparent.clone(),
            first_space: c
                .origin
                .as_ref()
                .map(|o| o.space.clone())
                .unwrap_or_default(),
            first_project: c
                .origin
                .as_ref()
                .map(|o| o.project.clone())
                .unwrap_or_default(),
            route: c
                .origin
                .as_ref()
                .map(|o| o.route.clone())
                .unwrap_or_default(),
        }),
    };
    let project = Project {
        name: project_name.clone(),
        description: c.project.description.clone(),
        lifecycle: lifecycle.clone(),
        remote: Some(RemoteOrigin {
            space: first_space.to_string(),
            project: first_project.to_string(),
        }),
    };
    let mut vars = state
        .store
        .get_record::<VariableSetRecord>(&key_of(&[&project_name]))?
        .unwrap_or_else(|| VariableSetRecord {
            project: project_name.clone(),
            ..Default::default()
        });
    // The Remote Project shows the process and templates of its newest release: importing an
    // older one after it adds the release without turning the project back.
    let newest = state
        .store
        .all_records::<Release>(&storage::prefix_of(&[&project_name]))?
        .iter()
        .all(|r| {
            domain::compare::compare_versions(&r.version, &c.release.version)
                != std::cmp::Ordering::Greater
        });
    let mut b = Batch::new();
    if newest {
        for t in &c.templates {
            vars.templates
                .retain(|x| !x.name.eq_ignore_ascii_case(&t.name));
            vars.templates.push(t.clone());
        }
        b.put_record(&ProcessRecord {
            project: project_name.clone(),
            process,
        })?;
    } else {
        for t in &c.templates {
            if !vars
                .templates
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(&t.name))
            {
                vars.templates.push(t.clone());
            }
        }
    }
    b.put_record(&project)?;
    b.put_record(&vars)?;
    b.insert_record(&release)?;
    for m in &new_manifests {
        b.insert_record(m)?;
    }
    let imported = ReceivedBundle {
        state: BundleState::Imported {
            at: now(),
            by: who.to_string(),
            project: project_name.clone(),
        },
        ..rec.clone()
    };
    super::index::put_bundle(&mut b, &imported, false)?;
    Ok((
        b,
        Imported {
            release,
            lifecycle,
            project_created: existing.is_none(),
            arrived_before: false,
        },
    ))
}

/// The lifecycle for an import: the one asked for, else the Remote Project's, else the only one.
fn choose_lifecycle(
    state: &SpaceState,
    asked: &str,
    existing: Option<&Project>,
) -> ApiResult<String> {
    if !asked.trim().is_empty() {
        return Ok(state.lifecycle(asked.trim())?.name);
    }
    if let Some(p) = existing {
        return Ok(p.lifecycle.clone());
    }
    let all = state.store.all_records::<Lifecycle>("")?;
    match all.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => Err(ApiError::Precondition(
            "this Space has no lifecycle: create one first (deploy lifecycle create)".into(),
        )),
        many => Err(ApiError::Invalid(format!(
            "this Space has {} lifecycles: choose one with --lifecycle ({})",
            many.len(),
            many.iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
