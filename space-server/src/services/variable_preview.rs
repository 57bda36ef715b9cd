//! What variables resolve to where, before deploying: the preview of every variable and the
//! evaluation of one template in a context (environment, target and its roles, step,
//! channel, tenant, release), as the deployment engine would resolve them. Sensitive values
//! take part as `********`: nothing here reveals or hints at one (a condition or a filter
//! over a secret sees only the mask).

use domain::model::{Release, Target, Variable, VariableValue};
use domain::variables::template::{Evaluated, Mode};
use domain::variables::{Candidate, DeployContext, MASK, SystemValues, resolve};
use storage::{StoreExt, key_of};

use super::variables::VariableService;
use crate::error::{ApiError, ApiResult};

/// Where to pretend to deploy.
#[derive(Debug, Clone, Default)]
pub struct PreviewContext {
    pub project: String,
    pub environment: String,
    pub roles: Vec<String>,
    pub target: String,
    pub step: String,
    pub channel: String,
    pub tenant: String,
    pub release: String,
}

/// One variable of a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previewed {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
    pub error: Option<String>,
}

impl VariableService {
    fn resolved(&self, c: &PreviewContext) -> ApiResult<domain::variables::Resolved> {
        let project = self.state.project(&c.project)?;
        self.state.environment(&c.environment)?;
        let (vars, version, channel): (Vec<Variable>, Option<String>, String) = if c
            .release
            .trim()
            .is_empty()
        {
            if let Some(o) = &project.remote {
                return Err(ApiError::Invalid(format!(
                    "'{}' is a Remote Project from space '{}': its variables come with its releases; preview one with --release",
                    project.name, o.space
                )));
            }
            let set = self.state.variable_set(&project.name)?;
            let channel = match c.channel.trim() {
                "" => self.state.default_channel(&project.name)?.name,
                ch => self.state.channel(&project.name, ch)?.name,
            };
            // As a release created now would deploy (template defaults first).
            let now = Release {
                project: project.name.clone(),
                version: String::new(),
                channel: channel.clone(),
                notes: String::new(),
                packages: Vec::new(),
                process: Default::default(),
                variables: set.variables,
                templates: set.templates,
                created_at: domain::model::now(),
                created_by: String::new(),
                origin: None,
            };
            let vars = crate::promotion::missing::deployment_variables(&self.state, &now)?;
            (vars, None, channel)
        } else {
            let r = self.state.release(&project.name, c.release.trim())?;
            let vars = crate::promotion::missing::deployment_variables(&self.state, &r)?;
            (vars, Some(r.version), r.channel)
        };
        let target: Option<Target> = match c.target.trim() {
            "" => None,
            t => Some(
                self.state
                    .store
                    .get_record::<Target>(&key_of(&[t]))?
                    .ok_or_else(|| ApiError::not_found("target", t))?,
            ),
        };
        let roles = match (&target, c.roles.is_empty()) {
            (Some(t), true) => t.roles.clone(),
            _ => c.roles.clone(),
        };
        let mut cands: Vec<Candidate> = vars
            .iter()
            .map(|v| Candidate {
                name: v.name.clone(),
                value: match &v.value {
                    VariableValue::Plain(s) => s.clone(),
                    VariableValue::Sensitive(_) => MASK.to_string(),
                },
                sensitive: v.is_sensitive(),
                scope: v.scope.clone(),
            })
            .collect();
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        cands.extend(
            SystemValues {
                project: Some(project.name.clone()),
                release_number: version,
                release_notes: None,
                environment: Some(c.environment.clone()),
                space: Some(self.state.name.clone()),
                channel: Some(channel.clone()),
                deployment_id: None,
                machine: target.as_ref().map(|t| t.name.clone()),
                tenant: some(&c.tenant),
            }
            .candidates(),
        );
        let ctx = DeployContext {
            environment: Some(c.environment.clone()),
            target: target.map(|t| t.name),
            roles,
            step: some(&c.step),
            channel: Some(channel),
            tenant: some(&c.tenant),
        };
        Ok(resolve(&cands, &ctx))
    }

    /// Every variable as it resolves in `c`, sorted by name; one that does not evaluate there
    /// carries why.
    pub fn preview(&self, c: &PreviewContext) -> ApiResult<Vec<Previewed>> {
        let r = self.resolved(c)?;
        Ok(r.names()
            .filter_map(|n| r.raw(n))
            .map(|v| {
                let (value, error) = match r.get(&v.name) {
                    Ok(value) => (value.unwrap_or_default(), None),
                    Err(e) => (String::new(), Some(e.to_string())),
                };
                Previewed {
                    name: v.name.clone(),
                    value,
                    sensitive: v.sensitive,
                    error,
                }
            })
            .collect())
    }

    /// Evaluates `template` in `c`; `mode` None: as the variables there say.
    pub fn evaluate(
        &self,
        c: &PreviewContext,
        template: &str,
        mode: Option<Mode>,
    ) -> ApiResult<(Evaluated, Mode)> {
        crate::limits::check(
            "the template",
            template.len(),
            self.state.limits().script_bytes,
            "script_bytes",
        )?;
        let r = self.resolved(c)?;
        let mode = mode.unwrap_or_else(|| r.template_mode());
        let e = r
            .evaluate(template, mode)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        Ok((e, mode))
    }
}
