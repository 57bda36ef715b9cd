//! Filling the blanks: which mandatory variable-template values a release still lacks per
//! environment (and per tenant connected there), and the variables a deployment uses (for a Remote Project, the release's
//! frozen variables plus the values this Space set for its templates).

use domain::model::{Lifecycle, Release, TemplateKind, Tenant, Variable, VariableValue};
use storage::StoreExt;
use storage::key_of;
use storage::records::VariableSetRecord;

use crate::error::ApiResult;
use crate::state::SpaceState;

/// The variables a deployment of `r` resolves from. For a release of a Remote Project, the
/// project's own values for the release's templates come after the frozen ones: they are what
/// this Space customises (and may be set after the import). Values scoped to tenants are the
/// project's current ones, not the release's snapshot (as Octopus reads tenant values when a
/// deployment starts): a tenant connected after the release was made gets its values too.
pub fn deployment_variables(state: &SpaceState, r: &Release) -> ApiResult<Vec<Variable>> {
    // Template defaults first: any value set for the template wins over them.
    let mut out: Vec<Variable> = r
        .templates
        .iter()
        .filter(|t| t.kind != TemplateKind::Sensitive)
        .filter_map(|t| {
            let d = t.default_value.as_deref()?.trim();
            (!d.is_empty()).then(|| Variable {
                id: format!("default:{}", t.name),
                name: t.name.clone(),
                value: VariableValue::Plain(d.to_string()),
                scope: Default::default(),
                description: format!("default of variable template '{}'", t.name),
            })
        })
        .collect();
    out.extend(
        r.variables
            .iter()
            .filter(|v| v.scope.tenants.is_empty())
            .cloned(),
    );
    let project = state.project(&r.project)?;
    let Some(set) = state
        .store
        .get_record::<VariableSetRecord>(&key_of(&[&r.project]))?
    else {
        return Ok(out);
    };
    let remote = project.remote.is_some();
    out.extend(set.variables.into_iter().filter(|v| {
        let template = r
            .templates
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(&v.name));
        !v.scope.tenants.is_empty() || (remote && template)
    }));
    Ok(out)
}

/// Whether `v` gives every target of `env` a value in a deployment for `tenant` (None:
/// untenanted): scoped to that environment (or none), to that tenant (or none; a tenant's
/// value counts only for it), and to nothing narrower (a value for one role leaves the other
/// targets without one).
fn applies_to(v: &Variable, env: &str, tenant: Option<&str>) -> bool {
    let s = &v.scope;
    let narrower = !(s.roles.is_empty()
        && s.targets.is_empty()
        && s.steps.is_empty()
        && s.channels.is_empty());
    let tenant_ok = s.tenants.is_empty()
        || tenant.is_some_and(|t| s.tenants.iter().any(|x| x.eq_ignore_ascii_case(t)));
    !narrower
        && tenant_ok
        && (s.environments.is_empty() || s.environments.iter().any(|e| e.eq_ignore_ascii_case(env)))
}

fn has_value(v: &Variable) -> bool {
    match &v.value {
        VariableValue::Plain(s) => !s.trim().is_empty(),
        VariableValue::Sensitive(_) => true,
    }
}

/// The mandatory template values (without a default) not set for `env` (for `tenant`).
pub fn missing_for(r: &Release, vars: &[Variable], env: &str, tenant: Option<&str>) -> Vec<String> {
    r.templates
        .iter()
        .filter(|t| t.mandatory)
        .filter(|t| {
            t.default_value
                .as_deref()
                .is_none_or(|d| d.trim().is_empty())
        })
        .filter(|t| {
            !vars.iter().any(|v| {
                v.name.eq_ignore_ascii_case(&t.name) && applies_to(v, env, tenant) && has_value(v)
            })
        })
        .map(|t| t.name.clone())
        .collect()
}

/// What one environment (for one tenant, or untenanted) still lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub environment: String,
    pub tenant: Option<String>,
    pub variables: Vec<String>,
}

/// Per local environment of the release's lifecycle (in phase order), the mandatory template
/// values not set for an untenanted deployment, then for each tenant connected to the
/// project there; rows with nothing missing are left out.
pub fn missing(state: &SpaceState, r: &Release, l: &Lifecycle) -> ApiResult<Vec<Missing>> {
    let vars = deployment_variables(state, r)?;
    let tenants = state.store.all_records::<Tenant>("")?;
    let mut out = Vec::new();
    for p in &l.phases {
        for e in &p.environments {
            let Ok(env) = state.environment(e) else {
                continue; // a whole Space
            };
            if env.remote_space.is_some() {
                continue;
            }
            let serves = |t: &&Tenant| t.serves(&r.project, &env.name);
            let who = std::iter::once(None)
                .chain(tenants.iter().filter(serves).map(|t| Some(t.name.as_str())));
            for tenant in who {
                let variables = missing_for(r, &vars, &env.name, tenant);
                if !variables.is_empty() {
                    out.push(Missing {
                        environment: env.name.clone(),
                        tenant: tenant.map(str::to_string),
                        variables,
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/missing.rs"]
mod tests;
