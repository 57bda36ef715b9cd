//! The checks a variable passes before it is stored: its name (no control characters,
//! nothing `#{}` cannot name), its value (a sensitive one that is not a well-formed template
//! is used literally, a plain one is refused), and the whole set (no reference cycle).

use domain::model::{Variable, VariableInput, VariableValue};
use storage::records::VariableSetRecord;

use crate::limits::{Limits, check};

use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// Longest variable or template name (characters).
pub const MAX_NAME: usize = 200;

/// A variable or template name as substitution reads it, or INVALID saying why not. Names
/// reach terminals (`deploy variable list`) and templates (`#{Name}`), so control characters
/// and anything `#{}` cannot name are refused.
pub fn check_variable_name(kind: &str, name: &str) -> ApiResult<()> {
    let n = name.trim();
    if n.chars().count() > MAX_NAME || !domain::variables::is_valid_name(n) || n != name {
        return Err(ApiError::Invalid(format!(
            "{kind} name '{}' is not allowed: use letters, digits, '.', '_', '-', ':', '[', ']' and inner spaces, at most {MAX_NAME} characters",
            domain::text::clean(name, 60)
        )));
    }
    Ok(())
}

/// What the caller should know about `input`'s value: a sensitive value that is not a
/// well-formed template is used literally. A plain one is refused (escape it as `##{`).
pub(super) fn value_notes(input: &VariableInput) -> ApiResult<Vec<String>> {
    match domain::variables::value_problem(&input.value) {
        None => Ok(Vec::new()),
        Some(why) if input.sensitive => Ok(vec![format!(
            "the sensitive value of '{}' {why}: it will be used literally, never expanded",
            input.name
        )]),
        Some(why) => Err(ApiError::Invalid(format!(
            "the value of '{}' {why}: close the reference, or write ##{{ for a literal #{{",
            input.name
        ))),
    }
}

impl SpaceState {
    /// Refuses a variable set in which some environment's values reference each other in a
    /// cycle. Each environment (and no environment) is checked with a context carrying only
    /// that environment; values scoped to roles, targets, steps, channels or tenants are
    /// checked at deployment time. Reads no record (so it runs inside a transaction): `envs`
    /// are the Space's environments, read before.
    pub fn check_cycles(&self, project: &str, vars: &[Variable], envs: &[String]) -> ApiResult<()> {
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
        let mut all: Vec<Option<String>> = vec![None];
        all.extend(envs.iter().cloned().map(Some));
        for env in all {
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

/// INVALID if one value is over `limits.variable_value_bytes`.
pub(super) fn check_value_size(input: &VariableInput, limits: &Limits) -> ApiResult<()> {
    check(
        &format!("the value of '{}'", input.name),
        input.value.len(),
        limits.variable_value_bytes,
        "variable_value_bytes",
    )
}

/// INVALID if the project's values together are over `limits.variable_set_bytes` (a release
/// freezes them all into one record that `release show` answers whole).
pub(super) fn check_set_size(rec: &VariableSetRecord, limits: &Limits) -> ApiResult<()> {
    let bytes: usize = rec
        .variables
        .iter()
        .map(|v| {
            v.name.len()
                + match &v.value {
                    VariableValue::Plain(s) => s.len(),
                    VariableValue::Sensitive(c) => c.len(),
                }
        })
        .sum();
    check(
        &format!("the variables of project '{}' together", rec.project),
        bytes,
        limits.variable_set_bytes,
        "variable_set_bytes",
    )
}
