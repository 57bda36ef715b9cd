//! `space.v1.Variables`: project variables (sensitive ones sealed with the master key) and
//! variable templates.

use std::sync::Arc;

use domain::model::{TemplateKind, Variable, VariableTemplate, VariableValue};
use proto::space::v1 as pb;
use proto::space::v1::variables_server::Variables;
use proto::wire::{VariableInput, template_to_wire, variable_to_wire};
use storage::records::VariableSetRecord;
use storage::{Batch, StoreExt, key_of};

use super::{Resp, ok, page};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct VariablesApi(pub Arc<SpaceState>);

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

impl SpaceState {
    /// Refuses a variable set in which some environment's values reference each other in a
    /// cycle. Each environment (and no environment) is checked with a context carrying only
    /// that environment; values scoped to roles, targets, steps, channels or tenants are
    /// checked at deployment time.
    pub fn check_cycles(&self, project: &str, vars: &[Variable]) -> ApiResult<()> {
        use domain::variables::{Candidate, DeployContext, VariableError, resolve};
        let candidates = vars
            .iter()
            .map(|v| {
                Ok(Candidate {
                    name: v.name.clone(),
                    value: self.reveal(project, v)?,
                    sensitive: v.is_sensitive(),
                    scope: v.scope.clone(),
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let mut envs: Vec<Option<String>> = vec![None];
        envs.extend(
            self.store
                .all_records::<domain::model::Environment>("")?
                .into_iter()
                .map(|e| Some(e.name)),
        );
        for env in envs {
            let ctx = DeployContext {
                environment: env.clone(),
                ..Default::default()
            };
            let resolved = resolve(&candidates, &ctx);
            for name in resolved.names() {
                if let Err(VariableError::Cycle { chain }) = resolved.get(name) {
                    return Err(ApiError::Invalid(format!(
                        "variables of project '{project}' would reference each other in a cycle{}: {}; nothing was changed",
                        env.map(|e| format!(" in environment '{e}'"))
                            .unwrap_or_default(),
                        chain.join(" -> ")
                    )));
                }
            }
        }
        Ok(())
    }
}

impl VariablesApi {
    fn check_scope(&self, project: &str, v: &VariableInput) -> ApiResult<()> {
        for e in &v.scope.environments {
            self.0.environment(e).map_err(|_| {
                ApiError::Invalid(format!(
                    "variable '{}' is scoped to environment '{e}', which does not exist",
                    v.name
                ))
            })?;
        }
        for c in &v.scope.channels {
            self.0.channel(project, c).map_err(|_| {
                ApiError::Invalid(format!(
                    "variable '{}' is scoped to channel '{c}', which project '{project}' does not have",
                    v.name
                ))
            })?;
        }
        let steps = self.0.process(project)?.process.steps;
        for s in &v.scope.steps {
            if !steps.iter().any(|x| x.name.eq_ignore_ascii_case(s)) {
                return Err(ApiError::Invalid(format!(
                    "variable '{}' is scoped to step '{s}', which project '{project}' does not have",
                    v.name
                )));
            }
        }
        Ok(())
    }

    /// Adds or replaces one value in `rec` (in memory; the caller checks cycles and saves).
    fn apply(&self, rec: &mut VariableSetRecord, input: VariableInput) -> ApiResult<Variable> {
        let project = rec.project.clone();
        if let Some(o) = self.0.project(&project)?.remote
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
        self.check_scope(&project, &input)?;
        // A value for a sensitive template is sensitive, however it was sent.
        let mut input = input;
        if rec
            .templates
            .iter()
            .any(|t| t.kind == TemplateKind::Sensitive && t.name.eq_ignore_ascii_case(&input.name))
        {
            input.sensitive = true;
        }
        let id = match &input.id {
            Some(id) => {
                if !rec.variables.iter().any(|v| &v.id == id) {
                    return Err(ApiError::not_found("variable", format!("{project}/{id}")));
                }
                id.clone()
            }
            None => {
                let id = format!("v-{}", rec.next_id);
                rec.next_id += 1;
                id
            }
        };
        let value = if input.sensitive {
            VariableValue::Sensitive(
                self.0
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
        Ok(var)
    }

    async fn save(&self, rec: &VariableSetRecord) -> ApiResult<()> {
        let mut b = Batch::new();
        b.put_record(rec)?;
        self.0.commit(b).await?;
        Ok(())
    }
}

#[tonic::async_trait]
impl Variables for VariablesApi {
    async fn set(&self, req: tonic::Request<pb::Variable>) -> Resp<pb::Variable> {
        let input = VariableInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        let mut rec = self.0.variable_set(&input.project)?;
        let project = rec.project.clone();
        let var = self.apply(&mut rec, input)?;
        self.0.check_cycles(&project, &rec.variables)?;
        self.save(&rec).await?;
        tracing::info!(project = %project, variable = %var.name, id = %var.id, sensitive = var.is_sensitive(), scope = %var.scope, "variable set");
        ok(variable_to_wire(&project, var))
    }

    async fn set_many(&self, req: tonic::Request<pb::VariableBatch>) -> Resp<pb::VariableList> {
        let pb::VariableBatch { project, variables } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        let mut rec = self.0.variable_set(&project)?;
        let project = rec.project.clone();
        let mut out = Vec::with_capacity(variables.len());
        for m in variables {
            let input = VariableInput::try_from(pb::Variable {
                project: project.clone(),
                ..m
            })
            .map_err(ApiError::from)?;
            out.push(self.apply(&mut rec, input)?);
        }
        self.0.check_cycles(&project, &rec.variables)?;
        self.save(&rec).await?;
        let sensitive = out.iter().filter(|v| v.is_sensitive()).count();
        tracing::info!(project = %project, count = out.len(), sensitive, "variables set");
        ok(pb::VariableList {
            variables: out
                .into_iter()
                .map(|v| variable_to_wire(&project, v))
                .collect(),
            next_page_token: String::new(),
        })
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::VariableList> {
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let rec = self.0.variable_set(&project)?;
        let crate::services::Page { size, after } = page(p)?;
        let start = match after {
            Some(a) => a.parse::<usize>().map_err(|_| {
                ApiError::Invalid("page_token is not a token this server issued".into())
            })?,
            None => 0,
        };
        let total = rec.variables.len();
        let end = (start + size).min(total);
        let project = rec.project.clone();
        ok(pb::VariableList {
            variables: rec
                .variables
                .into_iter()
                .skip(start)
                .take(size)
                .map(|v| variable_to_wire(&project, v))
                .collect(),
            next_page_token: if end < total {
                super::token(Some(end.to_string()))
            } else {
                String::new()
            },
        })
    }

    async fn delete(&self, req: tonic::Request<pb::VariableId>) -> Resp<pb::Empty> {
        let pb::VariableId { project, id } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        let mut rec = self.0.variable_set(&project)?;
        let before = rec.variables.len();
        rec.variables.retain(|v| v.id != id);
        if rec.variables.len() == before {
            return Err(ApiError::not_found("variable", format!("{}/{id}", rec.project)).into());
        }
        self.save(&rec).await?;
        ok(pb::Empty {})
    }

    async fn set_template(
        &self,
        req: tonic::Request<pb::VariableTemplate>,
    ) -> Resp<pb::VariableTemplate> {
        let m = req.into_inner();
        let project = m.project.clone();
        let t = VariableTemplate::try_from(m).map_err(ApiError::from)?;
        if t.kind == TemplateKind::Sensitive && t.default_value.is_some() {
            return Err(ApiError::Invalid(format!(
                "variable template '{}' is sensitive: it cannot have a default (it would be stored and shown in the clear); set its values with deploy variable set --sensitive",
                t.name
            ))
            .into());
        }
        let _g = self.0.write_lock.lock().await;
        self.0.editable_project(&project, "variable templates")?;
        let mut rec = self.0.variable_set(&project)?;
        match rec
            .templates
            .iter_mut()
            .find(|x| x.name.eq_ignore_ascii_case(&t.name))
        {
            Some(slot) => *slot = t.clone(),
            None => rec.templates.push(t.clone()),
        }
        self.save(&rec).await?;
        ok(template_to_wire(&rec.project, t))
    }

    async fn list_templates(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::TemplateList> {
        let rec = self.0.variable_set(&req.into_inner().name)?;
        let project = rec.project.clone();
        ok(pb::TemplateList {
            templates: rec
                .templates
                .into_iter()
                .map(|t| template_to_wire(&project, t))
                .collect(),
        })
    }

    async fn delete_template(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        self.0.editable_project(&project, "variable templates")?;
        let mut rec = self.0.variable_set(&project)?;
        let before = rec.templates.len();
        rec.templates
            .retain(|t| !t.name.eq_ignore_ascii_case(&name));
        if rec.templates.len() == before {
            return Err(ApiError::not_found(
                "variable template",
                format!("{}/{name}", rec.project),
            )
            .into());
        }
        self.save(&rec).await?;
        ok(pb::Empty {})
    }
}
