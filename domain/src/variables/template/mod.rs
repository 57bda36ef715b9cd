//! Octostache templates: `#{Name}` with filters (`#{Url | ToLower}`), indexers and JSON
//! paths (`#{Settings[#{Region}]}`, `#{Config.Database.Host}` where Config holds JSON),
//! conditionals (`#{if A == "x"}...#{elseif B}...#{else}...#{/if}`, `#{unless A}`), loops
//! (`#{each s in Servers}#{s}#{/each}` over comma-separated values, JSON arrays and objects,
//! with `Octopus.Template.Each.Index/First/Last`) and `#{calc A * 2}`.
//!
//! Two modes ([`Mode`]). **Strict** (the default for deployments): a missing variable, an
//! unknown filter, a loop over something that is not a list or a syntax error fails the
//! step with a message naming it (and its line and column), so a configuration file never
//! ships with `#{Missing}` in it. **Compatible** (`Deploy.Template.Mode = compatible`, or
//! Octopus' `Octopus.Action.Package.IgnoreVariableReplacementErrors = True`): as Octostache,
//! a missing token is echoed back as written, a template that does not parse is left
//! unchanged, and each case becomes a warning in the deployment log. In both modes a missing
//! value inside a condition counts as empty, and truthiness is Octostache's: empty, `0`,
//! `false` and `no` (any case, trimmed) are false, everything else true; comparisons are
//! exact (case-sensitive). Variable values are templates too and are evaluated once per
//! call, outside any loop (a value cannot see a loop's item). A filter applied to a
//! sensitive value yields a secret too ([`Evaluated::derived_secrets`]): it is masked like
//! the value.
//!
//! Limits: nesting [`MAX_DEPTH`](super::MAX_DEPTH), output
//! [`MAX_EXPANDED_LEN`](super::MAX_EXPANDED_LEN) bytes, [`MAX_STEPS`] evaluation steps (so
//! nested loops cannot run away), regular expressions of at most 1 KiB. Parsed templates are
//! cached ([`cache`]), so the same file or value is parsed once per process.

mod blocks;
pub(crate) mod cache;
mod calc;
pub(crate) mod eval;
mod filters;
mod format;
mod lookup;
pub(crate) mod parse;
mod token;

/// Most nodes one evaluation may visit.
pub const MAX_STEPS: usize = 5_000_000;

/// The variable choosing the mode, and Octopus' equivalent.
pub const MODE_VARIABLE: &str = "Deploy.Template.Mode";
pub const OCTOPUS_IGNORE_ERRORS: &str = "Octopus.Action.Package.IgnoreVariableReplacementErrors";

/// How missing values and template errors are handled; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Strict,
    Compatible,
}

/// A template evaluated: the text, what the deployment log should warn about (compatible
/// mode), and the values derived from secrets by filters (to mask).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Evaluated {
    pub text: String,
    pub warnings: Vec<String>,
    pub derived_secrets: Vec<String>,
}

impl std::fmt::Debug for Evaluated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluated")
            .field("text", &self.text)
            .field("warnings", &self.warnings)
            .field("derived_secrets", &self.derived_secrets.len())
            .finish()
    }
}

/// Whether `text` parses as a template; the error names the line and column. For checks at
/// release creation (inline scripts), before anything runs.
pub fn check(text: &str) -> Result<(), super::VariableError> {
    if !text.contains("#{") {
        return Ok(());
    }
    match &*cache::parsed(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}
