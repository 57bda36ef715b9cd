//! Scope matching and specificity: choosing one value per variable name for a deployment context.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::template::eval::Expander;
use super::template::{Evaluated, MODE_VARIABLE, Mode, OCTOPUS_IGNORE_ERRORS};
use super::{Candidate, DeployContext, ResolvedVariable, VariableError};
use crate::model::Scope;

/// Case-insensitive string equality without allocating.
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// The lookup key of a variable name: trimmed and lower-cased.
pub(crate) fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether a single-valued dimension matches: unscoped, or the context's value is listed.
fn dim_matches(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|l| eq_ci(l, v)))
}

/// Whether `scope` applies in `ctx`.
///
/// Every non-empty dimension must match: the context's value is in the list
/// (case-insensitive), or for roles, the context's roles intersect the list. A dimension that
/// is scoped but absent from the context (e.g. scoped to a target while no target is set)
/// does not match.
pub fn matches(scope: &Scope, ctx: &DeployContext) -> bool {
    dim_matches(&scope.environments, ctx.environment.as_deref())
        && dim_matches(&scope.targets, ctx.target.as_deref())
        && dim_matches(&scope.steps, ctx.step.as_deref())
        && dim_matches(&scope.channels, ctx.channel.as_deref())
        && dim_matches(&scope.tenants, ctx.tenant.as_deref())
        && (scope.roles.is_empty()
            || scope
                .roles
                .iter()
                .any(|r| ctx.roles.iter().any(|c| eq_ci(r, c))))
}

/// How specific a scope is; greater is more specific.
///
/// Ordered first by the number of scoped dimensions, then by a bitmask in which the
/// dimensions rank step > target > role > tenant > environment > channel. The unscoped value
/// (`dimensions == 0`) is the least specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Specificity {
    /// Number of non-empty scope dimensions (0..=6).
    pub dimensions: u32,
    /// Ranked bitmask of the non-empty dimensions (step = 32 ... channel = 1).
    pub rank: u32,
}

/// The [`Specificity`] of a scope.
pub fn specificity(scope: &Scope) -> Specificity {
    let ranked = [
        (&scope.steps, 1 << 5),
        (&scope.targets, 1 << 4),
        (&scope.roles, 1 << 3),
        (&scope.tenants, 1 << 2),
        (&scope.environments, 1 << 1),
        (&scope.channels, 1),
    ];
    ranked
        .into_iter()
        .filter(|(list, _)| !list.is_empty())
        .fold(Specificity::default(), |s, (_, bit)| Specificity {
            dimensions: s.dimensions + 1,
            rank: s.rank | bit,
        })
}

/// Picks, for every variable name (case-insensitive), the value whose scope matches `ctx`
/// most specifically.
///
/// Candidates whose scope does not [`matches`] are ignored. Among the rest, the greatest
/// [`specificity`] wins; if two are equally specific, the later one in `candidates` wins.
/// The returned name is the first spelling of that name seen anywhere in `candidates`
/// (matching or not), so it does not depend on the context.
pub fn resolve(candidates: &[Candidate], ctx: &DeployContext) -> Resolved {
    /// Per name: its first spelling and the best matching candidate so far.
    struct Slot<'c> {
        name: &'c str,
        best: Option<(Specificity, &'c Candidate)>,
    }
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    for c in candidates {
        let slot = slots.entry(key(&c.name)).or_insert(Slot {
            name: &c.name,
            best: None,
        });
        if !matches(&c.scope, ctx) {
            continue;
        }
        let spec = specificity(&c.scope);
        if slot.best.is_none_or(|(s, _)| spec >= s) {
            slot.best = Some((spec, c));
        }
    }
    let vars = slots
        .into_iter()
        .filter_map(|(k, slot)| {
            let (_, c) = slot.best?;
            Some((
                k,
                ResolvedVariable {
                    name: slot.name.to_string(),
                    value: c.value.clone(),
                    sensitive: c.sensitive,
                },
            ))
        })
        .collect();
    Resolved { vars }
}

/// The variables chosen for one context, with their raw (unexpanded) values.
///
/// Expansion happens on demand; every call memoizes the expansions it performs, so each
/// variable is expanded at most once per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Lookup key (see [`key`]) -> variable with its raw value.
    vars: BTreeMap<String, ResolvedVariable>,
}

impl Resolved {
    /// The fully expanded value of `name` (case-insensitive), or `None` if it is not defined.
    pub fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Expander::new(&self.vars, Mode::Strict)
            .expand_var(name)
            .map(|v| v.map(|v| v.to_string()))
    }

    /// Evaluates the template `text` strictly (see [`super::template`]).
    pub fn substitute(&self, text: &str) -> Result<String, VariableError> {
        Expander::new(&self.vars, Mode::Strict).substitute(text)
    }

    /// Evaluates the template `text` in `mode`, with the warnings of compatible mode and the
    /// secrets filters derived.
    pub fn evaluate(&self, text: &str, mode: Mode) -> Result<Evaluated, VariableError> {
        let mut e = Expander::new(&self.vars, mode);
        let text = e.substitute(text)?;
        let mut derived = std::mem::take(&mut e.derived);
        derived.sort();
        derived.dedup();
        Ok(Evaluated {
            text,
            warnings: std::mem::take(&mut e.warnings),
            derived_secrets: derived,
        })
    }

    /// The template mode these variables ask for: `Deploy.Template.Mode = compatible`, or
    /// `Octopus.Action.Package.IgnoreVariableReplacementErrors = True`; else strict.
    pub fn template_mode(&self) -> Mode {
        let is = |name: &str, want: &str| {
            self.raw(name)
                .is_some_and(|v| v.value.trim().eq_ignore_ascii_case(want))
        };
        if is(MODE_VARIABLE, "compatible") || is(OCTOPUS_IGNORE_ERRORS, "true") {
            Mode::Compatible
        } else {
            Mode::Strict
        }
    }

    /// Every variable with its expanded value, sorted by name (case-insensitive).
    ///
    /// Fails on the first variable that cannot be expanded.
    pub fn expand_all(&self) -> Result<Vec<ResolvedVariable>, VariableError> {
        let mut expander = Expander::new(&self.vars, Mode::Strict);
        self.vars
            .values()
            .map(|v| {
                let value = expander
                    .expand_var(&v.name)?
                    .map(|x| x.to_string())
                    .unwrap_or_default();
                Ok(ResolvedVariable {
                    name: v.name.clone(),
                    value,
                    sensitive: v.sensitive,
                })
            })
            .collect()
    }

    /// The expanded values of sensitive variables (non-empty, deduplicated, sorted), for log
    /// masking.
    ///
    /// A sensitive variable whose expansion fails contributes its raw value instead, so a
    /// secret is never left unmasked because of an unrelated error.
    pub fn sensitive_values(&self) -> Vec<String> {
        let mut expander = Expander::new(&self.vars, Mode::Strict);
        let mut out: Vec<String> = self
            .vars
            .values()
            .filter(|v| v.sensitive)
            .map(|v| match expander.expand_var(&v.name) {
                Ok(Some(x)) => x.to_string(),
                _ => {
                    expander.reset();
                    v.value.clone()
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Adds or overrides one value after resolution (e.g. output variables, `Machine.Name`).
    ///
    /// The candidate's scope is ignored: the value applies unconditionally. When the name is
    /// already defined, its first spelling is kept and value and sensitivity are replaced.
    /// Use [`escape`](super::escape) on the value if it must not be expanded.
    pub fn insert(&mut self, c: Candidate) {
        match self.vars.entry(key(&c.name)) {
            Entry::Occupied(mut e) => {
                let v = e.get_mut();
                v.value = c.value;
                v.sensitive = c.sensitive;
            }
            Entry::Vacant(e) => {
                e.insert(ResolvedVariable {
                    name: c.name,
                    value: c.value,
                    sensitive: c.sensitive,
                });
            }
        }
    }

    /// The variable `name` (case-insensitive) with its raw, unexpanded value.
    pub fn raw(&self, name: &str) -> Option<&ResolvedVariable> {
        self.vars.get(&key(name))
    }

    /// Whether `name` (case-insensitive) is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(&key(name))
    }

    /// The defined names (first spellings), sorted case-insensitively.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.values().map(|v| v.name.as_str())
    }

    /// Number of defined variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether no variable is defined.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}
