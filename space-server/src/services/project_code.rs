//! Project configuration as code: export a project as a document (`domain::project_doc`),
//! and apply one: plan what changes, then write the project, its channels, process,
//! variables, templates and the lifecycles it names in one commit, or nothing on any error.

use std::sync::Arc;

use domain::model::{Channel, Lifecycle, Project};
use domain::project_doc::{Change, LifecycleDoc, ProjectDoc, ProjectParts, plan};
use storage::records::{ProcessRecord, VariableSetRecord};
use storage::{Batch, Record, StoreExt, key_of, prefix_of};

use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, editable};

#[path = "project_code_checks.rs"]
mod checks;

pub struct ProjectCodeService {
    pub state: Arc<SpaceState>,
}

/// What applying a document did (or, on a dry run, would do).
#[derive(Debug)]
pub struct ApplyOutcome {
    pub project: String,
    pub changes: Vec<Change>,
    /// False on a dry run and when nothing differed.
    pub applied: bool,
    /// What the caller should do next (sensitive values this Space has no value for).
    pub notes: Vec<String>,
}

impl ProjectCodeService {
    /// The project as a document: sensitive values as references, ids left out.
    pub fn export(&self, name: &str) -> ApiResult<ProjectDoc> {
        let p = self.state.project(name)?;
        if let Some(o) = &p.remote {
            return Err(ApiError::Precondition(format!(
                "project '{}' is a Remote Project imported from space '{}': export it there",
                p.name, o.space
            )));
        }
        let channels = self
            .state
            .store
            .all_records::<Channel>(&prefix_of(&[&p.name]))?;
        let mut names = vec![p.lifecycle.clone()];
        names.extend(channels.iter().filter_map(|c| c.lifecycle.clone()));
        let mut lifecycles: Vec<Lifecycle> = Vec::new();
        for n in names {
            if !lifecycles.iter().any(|l| l.name.eq_ignore_ascii_case(&n)) {
                lifecycles.push(self.state.lifecycle(&n)?);
            }
        }
        let process = self.state.process(&p.name)?.process;
        let vars = self.state.variable_set(&p.name)?;
        Ok(ProjectDoc::from_parts(&ProjectParts::from_space(
            &p,
            lifecycles,
            channels,
            process,
            &vars.variables,
            vars.templates,
        )))
    }

    /// Makes the project match the document `text` (creating it if needed), all or nothing;
    /// with `dry_run`, only says what would change. `allowed` decides whether the caller may
    /// make the changes planned (`dry_run`: whether they may read the project), each time the
    /// plan is made, so what is checked is what commits.
    pub async fn apply(
        &self,
        text: &str,
        dry_run: bool,
        allowed: &(dyn Fn(&ApplyOutcome, bool) -> ApiResult<()> + Sync),
    ) -> ApiResult<ApplyOutcome> {
        let parts = ProjectDoc::parse(text)
            .and_then(ProjectDoc::into_parts)
            .map_err(|e| ApiError::Invalid(e.0))?;
        let (_, first) = self.plan(&parts)?;
        allowed(&first, dry_run)?;
        if dry_run || first.changes.is_empty() {
            return Ok(first);
        }
        let mut out = self
            .state
            .commit_guarded(|| {
                let (b, out) = self.plan(&parts)?;
                allowed(&out, false)?;
                Ok((b, out))
            })
            .await?;
        out.applied = true;
        tracing::info!(project = %out.project, changes = out.changes.len(), "project applied from a file");
        Ok(out)
    }

    /// The batch that makes the Space match `parts`, and what it changes.
    fn plan(&self, parts: &ProjectParts) -> ApiResult<(Batch, ApplyOutcome)> {
        let existing = match self.state.project(&parts.project.name) {
            Ok(p) => Some(editable(p, "configuration")?),
            Err(ApiError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        // The name keeps the case the Space knows it by.
        let name = existing
            .as_ref()
            .map_or(parts.project.name.clone(), |p| p.name.clone());
        let parts = named(parts, &name);
        self.check(&parts)?;
        // Revisions first, then the records: a change in between fails the commit.
        let mut b = Batch::new();
        self.expect_unchanged::<ProcessRecord>(&mut b, &name)?;
        self.expect_unchanged::<VariableSetRecord>(&mut b, &name)?;
        let current = existing
            .as_ref()
            .map(|p| self.export(&p.name))
            .transpose()?;
        let here: Vec<Lifecycle> = parts
            .lifecycles
            .iter()
            .filter_map(|l| self.state.lifecycle(&l.name).ok())
            .collect();
        let here_docs: Vec<LifecycleDoc> = here.iter().map(LifecycleDoc::from).collect();
        let wanted = ProjectDoc::from_parts(&parts);
        let mut changes = plan(current.as_ref(), &here_docs, &wanted);
        let old_vars = match existing {
            Some(_) => self.state.variable_set(&name)?,
            None => VariableSetRecord {
                project: name.clone(),
                next_id: 1,
                ..Default::default()
            },
        };
        let (vars, given, notes) = self.variable_set(&parts, &old_vars)?;
        changes.extend(given);
        for l in &parts.lifecycles {
            let same = here.iter().any(|h| h == l);
            if !same {
                b.put_record(l)?;
            }
        }
        b.put_record(&parts.project)?;
        let old_channels = self
            .state
            .store
            .all_records::<Channel>(&prefix_of(&[&name]))?;
        for c in old_channels.iter().filter(|o| {
            !parts
                .channels
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&o.name))
        }) {
            b.delete(Channel::TABLE, &key_of(&[&c.project, &c.name]));
        }
        for c in &parts.channels {
            let stored = old_channels
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(&c.name));
            if let Some(o) = stored.filter(|o| o.name != c.name) {
                b.delete(Channel::TABLE, &key_of(&[&o.project, &o.name]));
            }
            b.put_record(c)?;
        }
        let process = ProcessRecord {
            project: name.clone(),
            process: parts.process.clone(),
        };
        self.check_process_size(&process)?;
        b.put_record(&process)?;
        b.put_record(&vars)?;
        let out = ApplyOutcome {
            project: name,
            changes,
            applied: false,
            notes,
        };
        Ok((b, out))
    }

    /// The commit fails if the record changed since it was read (a step added, a value set
    /// meanwhile, by services that commit without the configuration guard).
    fn expect_unchanged<R: Record>(&self, b: &mut Batch, project: &str) -> ApiResult<()> {
        let key = key_of(&[project]);
        let seen = self.state.store.get_versioned(R::TABLE, &key)?;
        b.require_revision(R::TABLE, &key, seen.map(|v| v.revision));
        Ok(())
    }
}

/// `parts` with the project's name (as the Space knows it) on the project and its channels.
fn named(parts: &ProjectParts, name: &str) -> ProjectParts {
    let mut parts = parts.clone();
    parts.project = Project {
        name: name.to_string(),
        ..parts.project
    };
    for c in &mut parts.channels {
        c.project = name.to_string();
    }
    parts
}
