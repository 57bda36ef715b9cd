//! `space.v1.Releases`: releases freeze the process, variables and package versions of a
//! project; two releases can be compared side by side.

use std::sync::Arc;

use domain::compare::compare_releases;
use domain::model::{PinnedPackage, Release};
use package_store::validate_version;
use proto::space::v1 as pb;
use proto::space::v1::releases_server::Releases;
use proto::wire::release_to_wire;
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};

use super::{Resp, ok, page, token};
use crate::auth::caller;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// The releases service; with an engine, releases whose lifecycle starts with an automatic
/// phase are deployed there at once.
pub struct ReleasesApi(
    pub Arc<SpaceState>,
    pub Option<Arc<crate::deployments::Engine>>,
);

impl SpaceState {
    pub fn release(&self, project: &str, version: &str) -> ApiResult<Release> {
        let p = self.project(project)?;
        self.store
            .get_record::<Release>(&key_of(&[&p.name, version]))?
            .ok_or_else(|| ApiError::not_found("release", format!("{} {version}", p.name)))
    }
}

impl ReleasesApi {
    fn build(&self, req: pb::CreateReleaseRequest, who: String) -> ApiResult<Release> {
        let pb::CreateReleaseRequest {
            project,
            version,
            channel,
            notes,
            packages,
        } = req;
        let project = self.0.editable_project(&project, "releases")?;
        let version = version.trim().to_string();
        validate_version(&version).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let channel = if channel.trim().is_empty() {
            self.0.default_channel(&project.name)?
        } else {
            self.0.channel(&project.name, channel.trim())?
        };
        self.0
            .lifecycle(channel.lifecycle.as_deref().unwrap_or(&project.lifecycle))?;
        let process = self.0.process(&project.name)?.process;
        let vars = self.0.variable_set(&project.name)?;
        for r in &packages {
            if !process.steps.iter().any(|s| {
                s.action
                    .package_id()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&r.id))
            }) {
                return Err(ApiError::Invalid(format!(
                    "package {} is not used by any step of project '{}'",
                    r.id, project.name
                )));
            }
        }
        let mut pinned = Vec::new();
        for step in &process.steps {
            let Some(id) = step.action.package_id() else {
                continue;
            };
            let requested = packages.iter().find(|r| r.id.eq_ignore_ascii_case(id));
            let manifest = match requested {
                Some(r) => self.0.package(id, r.version.trim()).map_err(|_| {
                    ApiError::Precondition(format!(
                        "package {id} version {} is not in the feed: upload it first (deploy package upload) or pin another version",
                        r.version.trim()
                    ))
                })?,
                None => self
                    .0
                    .package_versions(id)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        ApiError::Precondition(format!(
                            "step '{}' deploys package {id}, which has no version in the feed: upload one first (deploy package upload)",
                            step.name
                        ))
                    })?,
            };
            pinned.push(PinnedPackage {
                step: step.name.clone(),
                id: manifest.id,
                version: manifest.version,
                sha256: manifest.sha256,
            });
        }
        Ok(Release {
            project: project.name,
            version,
            channel: channel.name,
            notes,
            packages: pinned,
            process,
            variables: vars.variables,
            templates: vars.templates,
            created_at: crate::state::now(),
            created_by: who,
            origin: None,
        })
    }
}

#[tonic::async_trait]
impl Releases for ReleasesApi {
    async fn create(&self, req: tonic::Request<pb::CreateReleaseRequest>) -> Resp<pb::Release> {
        let who = caller(&req).name;
        let _g = self.0.write_lock.lock().await;
        let r = self.build(req.into_inner(), who)?;
        let mut b = Batch::new();
        b.insert_record(&r).map_err(ApiError::from)?;
        self.0.commit(b).await.map_err(|e| match e {
            StorageError::Conflict { .. } => {
                ApiError::exists("release", format!("{} {}", r.project, r.version))
            }
            e => e.into(),
        })?;
        tracing::info!(project = %r.project, release = %r.version, channel = %r.channel, steps = r.process.steps.len(), variables = r.variables.len(), packages = r.packages.len(), "release created");
        drop(_g);
        if let Some(engine) = &self.1 {
            engine.start_automatic(&r, "release creation");
        }
        ok(release_to_wire(r))
    }

    async fn get(&self, req: tonic::Request<pb::ReleaseRef>) -> Resp<pb::Release> {
        let pb::ReleaseRef { project, version } = req.into_inner();
        ok(release_to_wire(self.0.release(&project, &version)?))
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::ListReleasesResponse> {
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let project = self.0.project(&project)?;
        let crate::services::Page { size, after } = page(p)?;
        let (mut rs, next) = self
            .0
            .store
            .list_records::<Release>(&prefix_of(&[&project.name]), after.as_deref(), size)
            .map_err(ApiError::from)?;
        rs.sort_by(|a, b| domain::compare::compare_versions(&b.version, &a.version));
        ok(pb::ListReleasesResponse {
            releases: rs.into_iter().map(release_to_wire).collect(),
            next_page_token: token(next),
        })
    }

    async fn compare(&self, req: tonic::Request<pb::CompareRequest>) -> Resp<pb::CompareResponse> {
        let pb::CompareRequest {
            project,
            from_version,
            to_version,
        } = req.into_inner();
        let a = self.0.release(&project, &from_version)?;
        let b = self.0.release(&project, &to_version)?;
        let state = self.0.clone();
        let reveal =
            move |r: &Release, v: &domain::model::Variable| state.reveal(&r.project, v).ok();
        let c = compare_releases(&a, &b, &reveal);
        let conv = |v: Vec<domain::compare::Change>| -> Vec<pb::Change> {
            v.into_iter()
                .map(|c| pb::Change {
                    kind: c.kind.as_str().into(),
                    subject: c.subject,
                    from: c.from,
                    to: c.to,
                })
                .collect()
        };
        ok(pb::CompareResponse {
            steps: conv(c.steps),
            variables: conv(c.variables),
            packages: conv(c.packages),
        })
    }

    async fn delete(&self, req: tonic::Request<pb::ReleaseRef>) -> Resp<pb::Empty> {
        let pb::ReleaseRef { project, version } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        let r = self.0.release(&project, &version)?;
        if let Some(o) = &r.origin {
            return Err(ApiError::Precondition(format!(
                "release {} of '{}' was imported from space '{}' (bundle {}): releases of a Remote Project are not deleted one by one; delete the project to import its bundles anew",
                r.version, r.project, o.source_space, o.bundle_id
            ))
            .into());
        }
        let mut b = Batch::new();
        b.delete(Release::TABLE, &key_of(&[&r.project, &r.version]));
        self.0.commit(b).await.map_err(ApiError::from)?;
        ok(pb::Empty {})
    }
}
