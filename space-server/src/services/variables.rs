//! Project variables (sensitive ones sealed with the master key from the moment they arrive)
//! and variable templates. A Remote Project accepts only values for its templates.

use std::sync::Arc;

use domain::model::VariableInput;
use domain::model::{Project, TemplateKind, Variable, VariableTemplate, VariableValue};
use storage::records::VariableSetRecord;
use storage::{StoreExt, TxExt, key_of};

use super::variable_checks::{check_set_size, check_value_size, check_variable_name, value_notes};
use super::{Listed, Page};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, editable};

pub struct VariableService {
    pub state: Arc<SpaceState>,
}

/// What setting one value did: the value, whether it replaced one with the same name and
/// scope, and what the caller should know (a value used literally).
#[derive(Debug)]
pub struct SetOutcome {
    pub project: String,
    pub variable: Variable,
    pub replaced: bool,
    pub notes: Vec<String>,
}

impl SpaceState {
    pub fn variable_set(&self, project: &str) -> ApiResult<VariableSetRecord> {
        let p = self.project(project)?;
        Ok(self
            .store
            .get_record::<VariableSetRecord>(&key_of(&[&p.name]))?
            .unwrap_or(VariableSetRecord {
                project: p.name,
                next_id: 1,
                ..Default::default()
            }))
    }

    /// Decrypts a sensitive value of `project`; plain values are returned as they are.
    pub fn reveal(&self, project: &str, v: &Variable) -> ApiResult<String> {
        match &v.value {
            VariableValue::Plain(s) => Ok(s.clone()),
            VariableValue::Sensitive(c) => Ok(self
                .master
                .open(c, &SpaceState::seal_context(project, &v.id))?),
        }
    }
}

impl VariableService {
    fn check_scope(&self, project: &str, v: &VariableInput) -> ApiResult<()> {
        let steps: Vec<String> = (self.state.process(project)?.process.steps)
            .into_iter()
            .map(|s| s.name)
            .collect();
        self.check_scope_in(
            project,
            v,
            &|c| self.state.channel(project, c).is_ok(),
            &steps,
        )
    }

    /// The scope rules of one value, with the project's channels and steps given (a project
    /// being applied from a file has them in the file).
    pub(crate) fn check_scope_in(
        &self,
        project: &str,
        v: &VariableInput,
        has_channel: &dyn Fn(&str) -> bool,
        steps: &[String],
    ) -> ApiResult<()> {
        for e in &v.scope.environments {
            self.state.environment(e).map_err(|_| {
                ApiError::Invalid(format!(
                    "variable '{}' is scoped to environment '{e}', which does not exist",
                    v.name
                ))
            })?;
        }
        for t in &v.scope.tenants {
            self.state.tenant(t).map_err(|_| {
                ApiError::Invalid(format!(
                    "variable '{}' is scoped to tenant '{t}', which does not exist (deploy tenant create '{t}')",
                    v.name
                ))
            })?;
        }
        for c in &v.scope.channels {
            if !has_channel(c) {
                return Err(ApiError::Invalid(format!(
                    "variable '{}' is scoped to channel '{c}', which project '{project}' does not have",
                    v.name
                )));
            }
        }
        for s in &v.scope.steps {
            if !steps.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                return Err(ApiError::Invalid(format!(
                    "variable '{}' is scoped to step '{s}', which project '{project}' does not have",
                    v.name
                )));
            }
        }
        Ok(())
    }

    /// Adds or replaces one value in `rec` (in memory; the caller checks cycles and saves).
    /// Reads no record: it runs inside the transaction of [`VariableService::change`] (scopes
    /// are checked before, with [`VariableService::check_scope`]).
    fn apply(
        &self,
        p: &Project,
        rec: &mut VariableSetRecord,
        input: VariableInput,
    ) -> ApiResult<(Variable, bool)> {
        let project = rec.project.clone();
        if let Some(o) = &p.remote
            && !rec
                .templates
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(&input.name))
        {
            return Err(ApiError::Precondition(format!(
                "'{}' is not a variable template of Remote Project '{project}': the variables of its releases come from space '{}' and are read-only here; only template values can be set ({})",
                input.name,
                o.space,
                rec.templates
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // A value for a sensitive template is sensitive, however it was sent.
        let mut input = input;
        if rec
            .templates
            .iter()
            .any(|t| t.kind == TemplateKind::Sensitive && t.name.eq_ignore_ascii_case(&input.name))
        {
            input.sensitive = true;
        }
        // One value per name and scope: setting it again replaces it; giving another value
        // the same name and scope is refused.
        let twin = rec
            .variables
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(&input.name) && v.scope.same_as(&input.scope))
            .map(|v| v.id.clone());
        let (id, replaced) = match (&input.id, twin) {
            (Some(id), _) if !rec.variables.iter().any(|v| &v.id == id) => {
                return Err(ApiError::not_found("variable", format!("{project}/{id}")));
            }
            (Some(id), Some(twin)) if *id != twin => {
                return Err(ApiError::Precondition(format!(
                    "'{}' already has a value with scope {} ({twin}): set that one (--id {twin}) or delete it first",
                    input.name, input.scope
                )));
            }
            (Some(id), _) => (id.clone(), true),
            (None, Some(twin)) => (twin, true),
            (None, None) => {
                let id = format!("v-{}", rec.next_id);
                rec.next_id += 1;
                (id, false)
            }
        };
        let value = if input.sensitive {
            VariableValue::Sensitive(
                self.state
                    .master
                    .seal(&input.value, &SpaceState::seal_context(&project, &id))
                    .map_err(ApiError::from)?,
            )
        } else {
            VariableValue::Plain(input.value)
        };
        let var = Variable {
            id: id.clone(),
            name: input.name,
            value,
            scope: input.scope,
            description: input.description,
        };
        match rec.variables.iter_mut().find(|v| v.id == id) {
            Some(slot) => *slot = var.clone(),
            None => rec.variables.push(var.clone()),
        }
        Ok((var, replaced))
    }

    fn environment_names(&self) -> ApiResult<Vec<String>> {
        Ok(self
            .state
            .store
            .all_records::<domain::model::Environment>("")?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    /// Changes the project's variable set in one transaction (no write lock). With `what`,
    /// refused for a Remote Project (whose `what` comes from its bundles). `f` must read
    /// nothing but what it is given: a plain store read inside a transaction waits forever.
    async fn change<T: Send + 'static>(
        &self,
        project: &str,
        what: Option<&'static str>,
        mut f: impl FnMut(&VariableService, &Project, &mut VariableSetRecord) -> ApiResult<T>
        + Send
        + 'static,
    ) -> ApiResult<(String, T)> {
        let name = project.to_string();
        let svc = VariableService {
            state: self.state.clone(),
        };
        self.state
            .transaction(move |tx| {
                let mut p: Project = tx
                    .get_record(&key_of(&[&name]))?
                    .ok_or_else(|| ApiError::not_found("project", &name))?;
                if let Some(what) = what {
                    p = editable(p, what)?;
                }
                let mut rec = tx
                    .get_record::<VariableSetRecord>(&key_of(&[&p.name]))?
                    .unwrap_or(VariableSetRecord {
                        project: p.name.clone(),
                        next_id: 1,
                        ..Default::default()
                    });
                let out = f(&svc, &p, &mut rec)?;
                tx.put_record(&rec)?;
                Ok((p.name, out))
            })
            .await
    }
}

impl VariableService {
    /// Sets one value: the one with `input.id`, else the one with the same name and scope,
    /// else a new one. Refused if it would make a cycle.
    pub async fn set(&self, input: VariableInput) -> ApiResult<SetOutcome> {
        let project = input.project.clone();
        check_variable_name("variable", &input.name)?;
        let limits = self.state.limits();
        check_value_size(&input, &limits)?;
        let notes = value_notes(&input)?;
        self.check_scope(&self.state.project(&project)?.name, &input)?;
        let envs = self.environment_names()?;
        let (project, (variable, replaced)) = self
            .change(&project, None, move |svc, p, rec| {
                let out = svc.apply(p, rec, input.clone())?;
                check_set_size(rec, &limits)?;
                svc.state
                    .check_cycles(&rec.project, &rec.variables, &envs)?;
                Ok(out)
            })
            .await?;
        tracing::info!(project = %project, variable = %variable.name, id = %variable.id, sensitive = variable.is_sensitive(), scope = %variable.scope, replaced, "variable set");
        Ok(SetOutcome {
            project,
            variable,
            replaced,
            notes,
        })
    }

    /// Sets many values at once: all or nothing.
    pub async fn set_many(
        &self,
        project: &str,
        inputs: Vec<VariableInput>,
    ) -> ApiResult<(String, Vec<Variable>)> {
        let name = self.state.project(project)?.name;
        let limits = self.state.limits();
        for (i, input) in inputs.iter().enumerate() {
            check_variable_name("variable", &input.name)?;
            check_value_size(input, &limits)?;
            value_notes(input)?;
            self.check_scope(&name, input)?;
            if let Some(other) = inputs[..i]
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(&input.name) && o.scope.same_as(&input.scope))
            {
                return Err(ApiError::Invalid(format!(
                    "'{}' is given twice with scope {}: one value per name and scope",
                    other.name, other.scope
                )));
            }
        }
        let envs = self.environment_names()?;
        let (project, out) = self
            .change(project, None, move |svc, p, rec| {
                let mut out = Vec::with_capacity(inputs.len());
                for input in &inputs {
                    out.push(svc.apply(p, rec, input.clone())?.0);
                }
                check_set_size(rec, &limits)?;
                svc.state
                    .check_cycles(&rec.project, &rec.variables, &envs)?;
                Ok(out)
            })
            .await?;
        let sensitive = out.iter().filter(|v| v.is_sensitive()).count();
        tracing::info!(project = %project, count = out.len(), sensitive, "variables set");
        Ok((project, out))
    }

    /// A page of the project's variables in the order they were set (the continuation key
    /// is a position).
    pub fn list(&self, project: &str, page: Page) -> ApiResult<(String, Listed<Variable>)> {
        let rec = self.state.variable_set(project)?;
        let start = match page.after {
            Some(a) => a.parse::<usize>().map_err(|_| {
                ApiError::Invalid("page_token is not a token this server issued".into())
            })?,
            None => 0,
        };
        let total = rec.variables.len();
        let mut items: Vec<Variable> = rec
            .variables
            .into_iter()
            .skip(start)
            .take(page.size)
            .collect();
        items.truncate(crate::limits::page_len(items.iter().map(|v| {
            256 + match &v.value {
                VariableValue::Plain(s) => s.len(),
                VariableValue::Sensitive(_) => 0,
            }
        })));
        for v in &mut items {
            if let VariableValue::Plain(s) = &mut v.value {
                *s = crate::limits::shown(std::mem::take(s));
            }
        }
        let end = start + items.len();
        let next = (end < total).then(|| end.to_string());
        Ok((rec.project, Listed { items, next }))
    }

    pub async fn delete(&self, project: &str, id: &str) -> ApiResult<()> {
        let id = id.to_string();
        self.change(project, None, move |_, _, rec| {
            let before = rec.variables.len();
            rec.variables.retain(|v| v.id != id);
            if rec.variables.len() == before {
                return Err(ApiError::not_found(
                    "variable",
                    format!("{}/{id}", rec.project),
                ));
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Adds or replaces a template; a sensitive one cannot have a default.
    pub async fn set_template(
        &self,
        project: &str,
        t: VariableTemplate,
    ) -> ApiResult<(String, VariableTemplate)> {
        check_variable_name("variable template", &t.name)?;
        if t.kind == TemplateKind::Sensitive && t.default_value.is_some() {
            return Err(ApiError::Invalid(format!(
                "variable template '{}' is sensitive: it cannot have a default (it would be stored and shown in the clear); set its values with deploy variable set --sensitive",
                t.name
            )));
        }
        let stored = t.clone();
        let (project, ()) = self
            .change(project, Some("variable templates"), move |_, _, rec| {
                match rec
                    .templates
                    .iter_mut()
                    .find(|x| x.name.eq_ignore_ascii_case(&stored.name))
                {
                    Some(slot) => *slot = stored.clone(),
                    None => rec.templates.push(stored.clone()),
                }
                Ok(())
            })
            .await?;
        Ok((project, t))
    }

    pub fn list_templates(&self, project: &str) -> ApiResult<(String, Vec<VariableTemplate>)> {
        let rec = self.state.variable_set(project)?;
        Ok((rec.project, rec.templates))
    }

    pub async fn delete_template(&self, project: &str, name: &str) -> ApiResult<()> {
        let name = name.to_string();
        self.change(project, Some("variable templates"), move |_, _, rec| {
            let before = rec.templates.len();
            rec.templates
                .retain(|t| !t.name.eq_ignore_ascii_case(&name));
            if rec.templates.len() == before {
                return Err(ApiError::not_found(
                    "variable template",
                    format!("{}/{name}", rec.project),
                ));
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }
}
