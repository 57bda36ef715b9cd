//! The target side of a promotion: bundles are added (verified, kept pending), inspected, and
//! imported, which verifies them again, checks every package against its SHA-256, and creates
//! or updates the Remote Project and its release in one atomic batch.

use std::path::PathBuf;
use std::sync::Arc;

use domain::model::{
    BundleState, Lifecycle, Project, ReceivedBundle, Release, ReleaseOrigin, RemoteOrigin, Scope,
    Variable, VariableValue,
};
use exchange::bundle::{BundleValue, VerifiedBundle};
use package_store::{
    ArchiveFormat, PackageError, PackageManifest, PackageReader, validate_archive, validate_stream,
};
use proto::odcm::v1 as odcm_pb;
use storage::records::{ProcessRecord, VariableSetRecord};
use storage::{Batch, StoreExt, key_of};

use super::{audit, bundle_error, peering, trusted_for};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, now};

fn dir(state: &SpaceState) -> PathBuf {
    state.data_dir.join("bundles")
}

/// Makes a new directory entry durable.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn file_of(state: &SpaceState, id: &str) -> PathBuf {
    dir(state).join(format!("{id}.json"))
}

/// Verifies a bundle file for this Space: signature by a Space trusted for releases, schema,
/// target, and that this Space's key opens every sensitive value. A refusal is reported to the
/// audit log when `report` (a bundle arriving or being imported, not one being listed).
fn check(state: &SpaceState, bytes: &[u8], report: bool) -> ApiResult<VerifiedBundle> {
    let p = peering(state)?;
    let refuse = |e: exchange::bundle::BundleError| {
        let msg = e.to_string();
        if !report {
            return bundle_error(e);
        }
        tracing::warn!(error = %msg, "release bundle refused");
        audit(
            state,
            odcm_pb::EventKind::BundleRefused,
            &super::claimed_sender(bytes, "/predicate/source_space"),
            "release bundle",
            &format!("{msg} (sender as the file claims it)"),
        );
        bundle_error(e)
    };
    let v = exchange::bundle::verify(bytes, &p.me, trusted_for(p, odcm_pb::TrustKind::Releases))
        .map_err(refuse)?;
    if report {
        // Arriving or importing: this Space's key must open every value.
        v.decrypt_sensitive(&p.identity.key_pem).map_err(refuse)?;
    }
    Ok(v)
}

/// Finds a received bundle by id or an unambiguous prefix (at least 6 characters).
pub fn find(state: &SpaceState, id: &str) -> ApiResult<ReceivedBundle> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 6 {
        return Err(ApiError::Invalid(
            "give at least 6 characters of the bundle id (deploy bundle list)".into(),
        ));
    }
    let all: Vec<ReceivedBundle> = state
        .store
        .all_records::<ReceivedBundle>("")?
        .into_iter()
        .filter(|b| b.id.starts_with(&id))
        .collect();
    match all.len() {
        1 => Ok(all
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found("bundle", &id))?),
        0 => Err(ApiError::not_found("bundle", id)),
        n => Err(ApiError::Invalid(format!(
            "'{id}' matches {n} bundles: give more of the id"
        ))),
    }
}

/// Reads and verifies a received bundle's file again (`report`: audit a refusal).
pub fn load(state: &SpaceState, b: &ReceivedBundle, report: bool) -> ApiResult<VerifiedBundle> {
    let path = file_of(state, &b.id);
    let bytes = std::fs::read(&path).map_err(|e| {
        ApiError::Internal(format!("cannot read bundle file {}: {e}", path.display()))
    })?;
    let v = check(state, &bytes, report)?;
    if v.digest != b.digest {
        return Err(ApiError::Internal(format!(
            "bundle file {} no longer matches the bundle that was added",
            path.display()
        )));
    }
    Ok(v)
}

/// Verifies a bundle file and keeps it pending. Adding the same bundle again changes nothing.
/// Runs on a blocking thread (it takes the write lock with `blocking_lock`).
pub fn add(state: &SpaceState, bytes: &[u8], who: &str) -> ApiResult<ReceivedBundle> {
    let v = check(state, bytes, true)?;
    let c = &v.contents;
    let _g = state.write_lock.blocking_lock();
    let path = file_of(state, &c.bundle_id);
    let write = || {
        secrets::write_private_file(&path, bytes)
            .and_then(|()| sync_dir(&dir(state)))
            .map_err(|e| {
                ApiError::Internal(format!("cannot write bundle file {}: {e}", path.display()))
            })
    };
    if let Some(old) = state.store.get_record::<ReceivedBundle>(&c.bundle_id)? {
        if old.digest != v.digest {
            return Err(ApiError::Precondition(format!(
                "another bundle with id {} was added before (digest {}, this one {}): ids must be unique; ask '{}' to promote again",
                old.id, old.digest, v.digest, c.source_space
            )));
        }
        if !path.exists() {
            write()?;
        }
        return Ok(old);
    }
    write()?;
    let rec = ReceivedBundle {
        id: c.bundle_id.clone(),
        digest: v.digest.clone(),
        source_space: c.source_space.clone(),
        project: c.project.name.clone(),
        version: c.release.version.clone(),
        created_at: c.created_at,
        added_at: now(),
        added_by: who.to_string(),
        bytes: bytes.len() as u64,
        state: BundleState::Pending,
    };
    let mut b = Batch::new();
    b.insert_record(&rec)?;
    state.commit_blocking(b)?; // durable: acknowledged promotion steps survive a crash
    tracing::info!(bundle = %rec.id, from = %rec.source_space, project = %rec.project, release = %rec.version, by = %who, "release bundle added");
    Ok(rec)
}

/// How many of each package's chunks this Space lacks.
pub fn missing_chunks(state: &SpaceState, v: &VerifiedBundle) -> Vec<(PackageManifest, usize)> {
    v.manifests()
        .into_iter()
        .map(|m| {
            let n = state.chunks.missing(&m.chunks).len();
            (m, n)
        })
        .collect()
}

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

/// Checks a package is whole here, as a feed upload would be: every chunk present, the bytes
/// reassembling to its SHA-256, and a safe archive (no `..`, absolute paths, escaping links).
fn verify_package(state: &SpaceState, m: &PackageManifest) -> ApiResult<()> {
    let missing = state.chunks.missing(&m.chunks).len();
    if missing > 0 {
        return Err(ApiError::Precondition(format!(
            "package {} {} is missing {missing} of its {} chunks: import its transfer archive first (deploy package import ARCHIVE)",
            m.id,
            m.version,
            m.chunks.len()
        )));
    }
    let bad = |e: PackageError| {
        ApiError::Precondition(format!(
            "package {} {} cannot be imported: {e}",
            m.id, m.version
        ))
    };
    let mut r = PackageReader::new(state.chunks.clone(), m);
    if m.format == ArchiveFormat::TarGz {
        validate_stream(&mut r, m.format).map_err(bad)?;
        // The rest (if any), so the whole-file SHA-256 is checked at the end.
        std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| bad(PackageError::from_io(e)))?;
        return Ok(());
    }
    let tmp = super::packages::upload_target(state)?;
    let mut f = std::fs::File::create(&tmp.0)
        .map_err(|e| ApiError::Internal(format!("cannot write {}: {e}", tmp.0.display())))?;
    std::io::copy(&mut r, &mut f).map_err(|e| bad(PackageError::from_io(e)))?;
    drop(f);
    validate_archive(&tmp.0, m.format).map_err(bad)?;
    Ok(())
}

/// What an import did.
pub struct Imported {
    pub release: Release,
    pub lifecycle: String,
    pub project_created: bool,
}

/// Imports a pending bundle as a release of the Remote Project "<source>: <project>".
pub async fn import(
    state: &Arc<SpaceState>,
    id: &str,
    lifecycle: &str,
    who: &str,
) -> ApiResult<Imported> {
    let already = |rec: &ReceivedBundle| match &rec.state {
        BundleState::Imported { project, .. } => Err(ApiError::exists(
            "imported bundle",
            format!("{} (release {} of '{project}')", rec.id, rec.version),
        )),
        BundleState::Pending => Ok(()),
    };
    let rec = find(state, id)?;
    already(&rec)?;
    let v = load(state, &rec, true)?;
    let p = peering(state)?;
    let secrets = v
        .decrypt_sensitive(&p.identity.key_pem)
        .map_err(bundle_error)?;
    let c = &v.contents;
    // The packages are read outside the write lock (they may be large); the bundle's state is
    // checked again under it.
    let manifests = v.manifests();
    tracing::info!(bundle = %rec.id, packages = manifests.len(), "importing release bundle: checking its packages");
    {
        let state = state.clone();
        let manifests = manifests.clone();
        tokio::task::spawn_blocking(move || {
            manifests.iter().try_for_each(|m| verify_package(&state, m))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    }
    let _g = state.write_lock.lock().await;
    let rec = find(state, &rec.id)?;
    already(&rec)?;
    let project_name = format!("{}: {}", c.source_space, c.project.name);
    crate::api::check_name("project", &project_name)?;
    package_store::validate_version(&c.release.version)
        .map_err(|e| ApiError::Invalid(format!("the bundle's release version: {e}")))?;
    let existing = state
        .store
        .get_record::<Project>(&key_of(&[&project_name]))?;
    if let Some(e) = &existing
        && !e.remote.as_ref().is_some_and(|o| {
            o.space.eq_ignore_ascii_case(&c.source_space)
                && o.project.eq_ignore_ascii_case(&c.project.name)
        })
    {
        return Err(ApiError::Precondition(format!(
            "project '{project_name}' exists and is not the Remote Project of '{}' from space '{}': delete it (or move its releases elsewhere) before importing",
            c.project.name, c.source_space
        )));
    }
    let lifecycle = choose_lifecycle(state, lifecycle, existing.as_ref())?;
    if state
        .store
        .get_record::<Release>(&key_of(&[&project_name, &c.release.version]))?
        .is_some()
    {
        return Err(ApiError::exists(
            "release",
            format!("{} of '{project_name}'", c.release.version),
        ));
    }
    // Packages: not conflicting with the feed.
    let mut new_manifests = Vec::new();
    for m in &manifests {
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
        }),
    };
    let project = Project {
        name: project_name.clone(),
        description: c.project.description.clone(),
        lifecycle: lifecycle.clone(),
        remote: Some(RemoteOrigin {
            space: c.source_space.clone(),
            project: c.project.name.clone(),
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
    b.put_record(&ReceivedBundle {
        state: BundleState::Imported {
            at: now(),
            by: who.to_string(),
            project: project_name.clone(),
        },
        ..rec.clone()
    })?;
    state.commit(b).await?; // durable: acknowledged promotion steps survive a crash
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
    Ok(Imported {
        release,
        lifecycle,
        project_created: existing.is_none(),
    })
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
