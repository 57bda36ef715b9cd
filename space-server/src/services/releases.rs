//! Releases: a release freezes the process, variables and package versions of a project;
//! two releases can be compared side by side.

use std::sync::Arc;

use domain::compare::{Comparison, compare_releases};
use domain::model::{PinnedPackage, Release, ScriptSource, StepAction, VariableValue};
use package_store::validate_version;
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};

use super::{Listed, Page};
use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// What a user asks for when creating a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    pub project: String,
    pub version: String,
    /// Empty: the project's default channel.
    pub channel: String,
    pub notes: String,
    /// Package versions to pin; packages not named get their newest version.
    pub packages: Vec<PackageRequest>,
}

/// A package version asked for by a new release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRequest {
    pub id: String,
    pub version: String,
}

/// With an engine, releases whose lifecycle starts with an automatic phase are deployed there
/// at once.
pub struct ReleaseService {
    pub state: Arc<SpaceState>,
    pub engine: Option<Arc<Engine>>,
}

impl SpaceState {
    pub fn release(&self, project: &str, version: &str) -> ApiResult<Release> {
        let p = self.project(project)?;
        self.store
            .get_record::<Release>(&key_of(&[&p.name, version]))?
            .ok_or_else(|| ApiError::not_found("release", format!("{} {version}", p.name)))
    }
}

impl ReleaseService {
    fn build(&self, req: NewRelease, who: String) -> ApiResult<Release> {
        let NewRelease {
            project,
            version,
            channel,
            notes,
            packages,
        } = req;
        crate::limits::check(
            "the release notes",
            notes.len(),
            self.state.limits().release_notes_bytes,
            "release_notes_bytes",
        )?;
        let project = self.state.editable_project(&project, "releases")?;
        let version = version.trim().to_string();
        validate_version(&version).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let channel = if channel.trim().is_empty() {
            self.state.default_channel(&project.name)?
        } else {
            self.state.channel(&project.name, channel.trim())?
        };
        self.state
            .lifecycle(channel.lifecycle.as_deref().unwrap_or(&project.lifecycle))?;
        let process = self.state.process(&project.name)?.process;
        check_templates(&process)?;
        let vars = self.state.variable_set(&project.name)?;
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
                Some(r) => self.state.package(id, r.version.trim()).map_err(|_| {
                    ApiError::Precondition(format!(
                        "package {id} version {} is not in the feed: upload it first (deploy package upload) or pin another version",
                        r.version.trim()
                    ))
                })?,
                None => self
                    .state
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

impl ReleaseService {
    pub async fn create(&self, req: NewRelease, who: String) -> ApiResult<Release> {
        let r = self
            .state
            .commit_guarded(|| {
                let r = self.build(req.clone(), who.clone())?;
                let mut b = Batch::new();
                b.insert_record(&r)?;
                Ok((b, r))
            })
            .await
            .map_err(|e| match e {
                ApiError::Storage(StorageError::Conflict { .. }) => {
                    ApiError::exists("release", format!("{} {}", req.project, req.version.trim()))
                }
                e => e,
            })?;
        tracing::info!(project = %r.project, release = %r.version, channel = %r.channel, steps = r.process.steps.len(), variables = r.variables.len(), packages = r.packages.len(), "release created");
        if let Some(engine) = &self.engine {
            crate::automation::stage::for_new_release(engine, &r);
            engine.start_automatic_arrived(&r, "release creation");
        }
        Ok(r)
    }

    pub fn get(&self, project: &str, version: &str) -> ApiResult<Release> {
        Ok(view(self.state.release(project, version)?))
    }

    /// A page of the project's releases, newest version first within the page.
    pub fn list(&self, project: &str, page: Page) -> ApiResult<Listed<Release>> {
        let project = self.state.project(project)?;
        let (mut items, mut next) = self.state.store.list_records::<Release>(
            &prefix_of(&[&project.name]),
            page.after.as_deref(),
            page.size,
        )?;
        let n = crate::limits::page_len(items.iter().map(bytes_of));
        if n < items.len() {
            items.truncate(n);
            next = items.last().map(storage::Record::key);
        }
        let mut items: Vec<Release> = items.into_iter().map(view).collect();
        items.sort_by(|a, b| domain::compare::compare_versions(&b.version, &a.version));
        Ok(Listed { items, next })
    }

    /// What changed between two releases (sensitive values compared, never shown).
    pub fn compare(&self, project: &str, from: &str, to: &str) -> ApiResult<Comparison> {
        let a = self.state.release(project, from)?;
        let b = self.state.release(project, to)?;
        let state = self.state.clone();
        let reveal =
            move |r: &Release, v: &domain::model::Variable| state.reveal(&r.project, v).ok();
        Ok(compare_releases(&a, &b, &reveal))
    }

    /// Imported releases are not deleted one by one (delete the Remote Project instead).
    pub async fn delete(&self, project: &str, version: &str) -> ApiResult<()> {
        self.state
            .commit_guarded(|| {
                let r = self.state.release(project, version)?;
                if let Some(o) = &r.origin {
                    return Err(ApiError::Precondition(format!(
                        "release {} of '{}' was imported from space '{}' (bundle {}): releases of a Remote Project are not deleted one by one; delete the project to import its bundles anew",
                        r.version, r.project, o.source_space, o.bundle_id
                    )));
                }
                let mut b = Batch::new();
                b.delete(Release::TABLE, &key_of(&[&r.project, &r.version]));
                Ok((b, ()))
            })
            .await
    }
}

/// About how many bytes a release takes in an answer (notes, values, scripts).
fn bytes_of(r: &Release) -> usize {
    let values: usize = r
        .variables
        .iter()
        .map(|v| match &v.value {
            VariableValue::Plain(s) => s.len(),
            VariableValue::Sensitive(_) => 0,
        })
        .sum();
    let scripts: usize = r
        .process
        .steps
        .iter()
        .map(|s| match &s.action {
            StepAction::RunScript {
                source: ScriptSource::Inline(b),
                ..
            } => b.len(),
            _ => 0,
        })
        .sum();
    512 + r.notes.len() + values + scripts
}

/// A release as an answer shows it: text stored before the size limits is cut.
fn view(mut r: Release) -> Release {
    r.notes = crate::limits::shown(std::mem::take(&mut r.notes));
    for v in &mut r.variables {
        if let VariableValue::Plain(s) = &mut v.value {
            *s = crate::limits::shown(std::mem::take(s));
        }
    }
    r
}

/// Refuses a process whose inline script is not a template that parses (an unclosed
/// `#{if}`, an unknown filter): it could never deploy as meant, so it is named now, with the
/// step, line and column, rather than at deployment time.
fn check_templates(process: &domain::model::Process) -> ApiResult<()> {
    for s in &process.steps {
        if let domain::model::StepAction::RunScript {
            source: ScriptSource::Inline(body),
            ..
        } = &s.action
        {
            domain::variables::template::check(body)
                .map_err(|e| ApiError::Invalid(format!("the script of step '{}': {e}", s.name)))?;
        }
    }
    Ok(())
}
