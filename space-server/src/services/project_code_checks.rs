//! The rules a project document passes before it is applied (the same rules as the services
//! that change one part at a time, with the project's channels and steps taken from the
//! document), and its variable set as the Space stores it.

use std::collections::HashSet;

use domain::model::{TemplateKind, Variable, VariableInput, VariableValue};
use domain::project_doc::{Action, Change, ProjectParts};
use storage::StoreExt;
use storage::records::{ProcessRecord, VariableSetRecord};

use super::ProjectCodeService;
use crate::error::{ApiError, ApiResult};
use crate::services::check_name;
use crate::services::lifecycles::LifecycleService;
use crate::services::process::ProcessService;
use crate::services::variable_checks::{
    check_set_size, check_value_size, check_variable_name, value_notes,
};
use crate::services::variables::VariableService;
use crate::state::SpaceState;

/// Refuses the second of two names equal but for case.
fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> ApiResult<()> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n.to_lowercase()) {
            return Err(ApiError::Invalid(format!(
                "the file names {kind} '{n}' twice"
            )));
        }
    }
    Ok(())
}

fn input(project: &str, name: &str, value: &str, sensitive: bool) -> VariableInput {
    VariableInput {
        project: project.to_string(),
        id: None,
        name: name.to_string(),
        value: value.to_string(),
        sensitive,
        scope: Default::default(),
        description: String::new(),
    }
}

impl ProjectCodeService {
    /// Every rule but the variables' (checked as the set is built).
    pub(super) fn check(&self, parts: &ProjectParts) -> ApiResult<()> {
        let p = &parts.project;
        check_name("project", &p.name)?;
        let lifecycles = LifecycleService {
            state: self.state.clone(),
        };
        unique(
            "lifecycle",
            parts.lifecycles.iter().map(|l| l.name.as_str()),
        )?;
        for l in &parts.lifecycles {
            lifecycles.validate(l)?;
        }
        let known = |l: &str| {
            parts
                .lifecycles
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(l))
                || self.state.lifecycle(l).is_ok()
        };
        if !known(&p.lifecycle) {
            return Err(ApiError::Invalid(format!(
                "project '{}' uses lifecycle '{}', which is neither in the file nor in this Space",
                p.name, p.lifecycle
            )));
        }
        unique("channel", parts.channels.iter().map(|c| c.name.as_str()))?;
        for c in &parts.channels {
            check_name("channel", &c.name)?;
            if let Some(l) = c.lifecycle.as_deref().filter(|l| !known(l)) {
                return Err(ApiError::Invalid(format!(
                    "channel '{}' uses lifecycle '{l}', which is neither in the file nor in this Space",
                    c.name
                )));
            }
        }
        if parts.channels.iter().filter(|c| c.is_default).count() != 1 {
            return Err(ApiError::Invalid(format!(
                "project '{}' needs exactly one channel with default: true",
                p.name
            )));
        }
        let has_channel = |c: &str| {
            parts
                .channels
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(c))
        };
        let process = ProcessService {
            state: self.state.clone(),
        };
        let steps = &parts.process.steps;
        unique("step", steps.iter().map(|s| s.name.as_str()))?;
        for s in steps {
            process.check_step(&p.name, s, &has_channel)?;
        }
        unique("template", parts.templates.iter().map(|t| t.name.as_str()))?;
        for t in &parts.templates {
            check_variable_name("variable template", &t.name)?;
            if t.kind == TemplateKind::Sensitive && t.default_value.is_some() {
                return Err(ApiError::Invalid(format!(
                    "variable template '{}' is sensitive: it cannot have a default (it would be stored in the clear)",
                    t.name
                )));
            }
        }
        Ok(())
    }

    pub(super) fn check_process_size(&self, rec: &ProcessRecord) -> ApiResult<()> {
        crate::limits::check(
            &format!("the deployment process of '{}'", rec.project),
            storage::encode(rec)?.len(),
            self.state.limits().process_bytes,
            "process_bytes",
        )
    }

    /// The variable set the document describes: a value with the same name and scope as one
    /// stored keeps its id (a sensitive reference keeps the sealed value); a sensitive value
    /// the Space has none for is left out and named in the notes. Also the changes a plan
    /// cannot see (sensitive values given in the file).
    pub(super) fn variable_set(
        &self,
        parts: &ProjectParts,
        old: &VariableSetRecord,
    ) -> ApiResult<(VariableSetRecord, Vec<Change>, Vec<String>)> {
        let project = parts.project.name.as_str();
        let limits = self.state.limits();
        let svc = VariableService {
            state: self.state.clone(),
        };
        let has_channel = |c: &str| {
            parts
                .channels
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(c))
        };
        let steps: Vec<String> = parts.process.steps.iter().map(|s| s.name.clone()).collect();
        let mut rec = VariableSetRecord {
            project: project.to_string(),
            variables: Vec::new(),
            templates: parts.templates.clone(),
            next_id: old.next_id.max(1),
        };
        let (mut changes, mut notes) = (Vec::new(), Vec::new());
        for (i, e) in parts.variables.iter().enumerate() {
            check_variable_name("variable", &e.name)?;
            let mut inp = input(
                project,
                &e.name,
                e.value.as_deref().unwrap_or(""),
                e.sensitive,
            );
            inp.scope = e.scope.clone();
            check_value_size(&inp, &limits)?;
            notes.extend(value_notes(&inp)?);
            svc.check_scope_in(project, &inp, &has_channel, &steps)?;
            if let Some(o) = parts.variables[..i]
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(&e.name) && o.scope.same_as(&e.scope))
            {
                return Err(ApiError::Invalid(format!(
                    "the file gives '{}' twice with scope {}: one value per name and scope",
                    o.name, o.scope
                )));
            }
            let twin = old
                .variables
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(&e.name) && v.scope.same_as(&e.scope));
            let label = format!("{}{}", e.name, scope_suffix(&e.scope));
            let kept = twin.filter(|t| t.is_sensitive() && e.sensitive && e.value.is_none());
            let id = match twin {
                Some(t) => t.id.clone(),
                None => {
                    let id = format!("v-{}", rec.next_id);
                    rec.next_id += 1;
                    id
                }
            };
            let value = match (&e.value, kept) {
                (_, Some(t)) => t.value.clone(),
                (Some(v), None) if e.sensitive => {
                    if twin.is_some() {
                        changes.push(Change {
                            action: Action::Change,
                            kind: "variable",
                            name: label.clone(),
                            detail: "sensitive value given".into(),
                        });
                    }
                    VariableValue::Sensitive(
                        self.state
                            .master
                            .seal(v, &SpaceState::seal_context(project, &id))
                            .map_err(ApiError::from)?,
                    )
                }
                (Some(v), None) => VariableValue::Plain(v.clone()),
                (None, None) => {
                    notes.push(format!(
                        "'{label}' is sensitive and this Space has no value for it: set one with deploy variable set --project '{project}' '{}' --sensitive{}",
                        e.name,
                        scope_flags(&e.scope)
                    ));
                    continue;
                }
            };
            rec.variables.push(Variable {
                id,
                name: e.name.clone(),
                value,
                scope: e.scope.clone(),
                description: e.description.clone(),
            });
        }
        check_set_size(&rec, &limits)?;
        let envs: Vec<String> = self
            .state
            .store
            .all_records::<domain::model::Environment>("")
            .map_err(ApiError::from)?
            .into_iter()
            .map(|e| e.name)
            .collect();
        self.state.check_cycles(project, &rec.variables, &envs)?;
        Ok((rec, changes, notes))
    }
}

/// " [env=Production]" for a scoped value, as plans show it.
fn scope_suffix(s: &domain::model::Scope) -> String {
    if s.is_unscoped() {
        String::new()
    } else {
        format!(" [{s}]")
    }
}

/// The `variable set` flags of a scope: " --env Production --role web".
fn scope_flags(s: &domain::model::Scope) -> String {
    let dims = [
        ("--env", &s.environments),
        ("--role", &s.roles),
        ("--target", &s.targets),
        ("--step", &s.steps),
        ("--channel", &s.channels),
        ("--tenant", &s.tenants),
    ];
    dims.iter()
        .flat_map(|(flag, v)| v.iter().map(move |x| format!(" {flag} '{x}'")))
        .collect()
}
