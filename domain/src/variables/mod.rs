//! Variables: scoped resolution of candidate values and Octopus-style `#{Name}` substitution.
//!
//! The flow is:
//!
//! 1. The caller gathers every [`Candidate`] (project and library variables, decrypted, plus
//!    [`SystemValues::candidates`]).
//! 2. [`resolve`] picks, for every name, the value whose [`Scope`](crate::model::Scope) matches
//!    the [`DeployContext`] most specifically (see [`specificity`] for the exact order).
//! 3. The resulting [`Resolved`] set expands references lazily: [`Resolved::get`],
//!    [`Resolved::substitute`], [`Resolved::expand_all`].
//! 4. [`Resolved::sensitive_values`] and [`mask`] keep secrets out of logs.
//!
//! # Substitution syntax
//!
//! * `#{Name}` is replaced by the expanded value of `Name` (case-insensitive). Surrounding
//!   whitespace inside the braces is ignored. Names may contain letters, digits, `.`, `_`, `-`,
//!   `:`, `[`, `]` and spaces.
//! * `##{` is an escape producing a literal `#{` (see [`escape`]).
//! * Values are expanded recursively, and references nest: `#{Server.#{Env}}` first expands
//!   `#{Env}`, then looks up the resulting name.
//! * A `}` outside a reference and a `#` not followed by `{` are literal text.
//! * Errors are strict: an undefined name, a cycle, an unclosed `#{`, an invalid name, nesting
//!   deeper than [`MAX_DEPTH`] or output larger than [`MAX_EXPANDED_LEN`] are all
//!   [`VariableError`]s; nothing is silently left unexpanded. One exception: a sensitive
//!   value with an unterminated `#{` is used literally (a password may contain `#{`); the
//!   Space says so when the value is set ([`value_problem`]).

mod mask;
mod resolve;
mod substitute;
pub mod template;

#[cfg(test)]
#[path = "tests/proptests.rs"]
mod proptests;
#[cfg(test)]
#[path = "tests/resolve.rs"]
mod resolve_tests;
#[cfg(test)]
#[path = "tests/substitute.rs"]
mod substitute_tests;
#[cfg(test)]
#[path = "tests/template.rs"]
mod template_tests;

pub use mask::{MASK, MIN_LINE, mask, secret_forms};
pub use resolve::{Resolved, Specificity, matches, resolve, specificity};
pub use substitute::{escape, is_valid_name, value_problem};

use crate::model::Scope;

/// Maximum nesting of expansions (variables referencing variables plus `#{...#{...}}` nesting).
pub const MAX_DEPTH: usize = 64;

/// Maximum length in bytes of one expanded text; guards against exponential growth such as
/// `A = #{B}#{B}`, `B = #{C}#{C}`, ...
pub const MAX_EXPANDED_LEN: usize = 16 * 1024 * 1024;

/// One candidate value for a variable, in plaintext (the caller decrypts sensitive ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Variable name; compared case-insensitively (and ignoring surrounding whitespace).
    pub name: String,
    /// Raw value; may contain `#{...}` references.
    pub value: String,
    /// Whether the value is secret (its expansion is masked in logs).
    pub sensitive: bool,
    /// Where this value applies; an empty dimension means "any".
    pub scope: Scope,
}

impl Candidate {
    /// An unscoped, non-sensitive candidate.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Candidate {
            name: name.into(),
            value: value.into(),
            sensitive: false,
            scope: Scope::default(),
        }
    }
}

/// Where a deployment (step) runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployContext {
    /// Environment being deployed to.
    pub environment: Option<String>,
    /// Deployment target (machine) the step runs on.
    pub target: Option<String>,
    /// Roles of the target.
    pub roles: Vec<String>,
    /// Name of the step being run.
    pub step: Option<String>,
    /// Channel of the release.
    pub channel: Option<String>,
    /// Tenant being deployed for.
    pub tenant: Option<String>,
}

/// System variables the server provides (Project.Name, Release.Number, Release.Notes,
/// Environment.Name, Space.Name, Channel.Name, Deployment.Id, Machine.Name).
#[derive(Debug, Clone, Default)]
pub struct SystemValues {
    /// `Project.Name`.
    pub project: Option<String>,
    /// `Release.Number`.
    pub release_number: Option<String>,
    /// `Release.Notes`.
    pub release_notes: Option<String>,
    /// `Environment.Name`.
    pub environment: Option<String>,
    /// `Space.Name`.
    pub space: Option<String>,
    /// `Channel.Name`.
    pub channel: Option<String>,
    /// `Deployment.Id`.
    pub deployment_id: Option<String>,
    /// `Machine.Name`.
    pub machine: Option<String>,
    /// `Tenant.Name`, for a tenant deployment.
    pub tenant: Option<String>,
}

impl SystemValues {
    /// Unscoped, non-sensitive candidates named e.g. `Project.Name`, one per value that is set
    /// (unset values produce no candidate).
    ///
    /// Values are [`escape`]d, so text such as release notes containing `#{` is reproduced
    /// literally rather than expanded. Candidates of equal specificity are decided by input
    /// order (later wins), so put these first to let user variables override them, or last to
    /// make them win over unscoped user variables.
    pub fn candidates(&self) -> Vec<Candidate> {
        let fields = [
            ("Project.Name", &self.project),
            ("Release.Number", &self.release_number),
            ("Release.Notes", &self.release_notes),
            ("Environment.Name", &self.environment),
            ("Space.Name", &self.space),
            ("Channel.Name", &self.channel),
            ("Deployment.Id", &self.deployment_id),
            ("Machine.Name", &self.machine),
            ("Tenant.Name", &self.tenant),
        ];
        fields
            .into_iter()
            .filter_map(|(name, value)| value.as_deref().map(|v| Candidate::new(name, escape(v))))
            .collect()
    }
}

/// A variable after resolution and expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVariable {
    /// The name as first spelled in the input.
    pub name: String,
    /// The value (expanded, unless obtained from [`Resolved::raw`]).
    pub value: String,
    /// Whether the value is secret.
    pub sensitive: bool,
}

/// Why resolving or substituting variables failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VariableError {
    /// A `#{name}` reference to a variable that is not defined.
    #[error("variable '{name}' is not defined{}", referenced_suffix(.referenced_by))]
    Missing {
        /// The undefined name, as written (after nested expansion).
        name: String,
        /// The variable whose value contains the reference; `None` for top-level text.
        referenced_by: Option<String>,
    },
    /// Variables reference each other in a loop; `chain` starts and ends with the same name.
    #[error("variable cycle: {}", .chain.join(" -> "))]
    Cycle {
        /// The loop, e.g. `["A", "B", "A"]`.
        chain: Vec<String>,
    },
    /// A `#{` without its closing `}`.
    #[error(
        "unterminated '#{{' at byte {position}: add the closing '}}' or write '##{{' for a literal '#{{'"
    )]
    Unterminated {
        /// Byte offset of the `#{` in the text that contains it.
        position: usize,
    },
    /// A reference whose name is empty or contains characters not allowed in names.
    #[error("invalid variable name '{name}'{}: names may contain letters, digits, '.', '_', '-', ':', '[', ']' and spaces", referenced_suffix(.referenced_by))]
    InvalidName {
        /// The name as written (after nested expansion).
        name: String,
        /// The variable whose value contains the reference; `None` for top-level text.
        referenced_by: Option<String>,
    },
    /// Expansion nested deeper than [`MAX_DEPTH`].
    #[error("variable expansion nested deeper than {limit} levels{}", chain_suffix(.chain))]
    TooDeep {
        /// The limit that was hit.
        limit: usize,
        /// The variables being expanded when the limit was hit (may be empty).
        chain: Vec<String>,
    },
    /// Expanded text longer than [`MAX_EXPANDED_LEN`] bytes.
    #[error("expanded text exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
    /// A template that does not parse: an unclosed `#{if}`/`#{each}`, a stray `#{else}`, an
    /// unknown filter, a malformed condition.
    #[error("template error at line {line}, column {column}: {message}")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// A filter that cannot apply to its value (a bad pattern, text that is not base64).
    #[error("filter {filter}{}: {message}", referenced_suffix(.referenced_by))]
    Filter {
        filter: String,
        message: String,
        referenced_by: Option<String>,
    },
    /// `#{each}` over a value that is not a list (a number, a boolean).
    #[error(
        "#{{each}} over '{name}', which is not a list (comma-separated values, a JSON array or object)"
    )]
    NotAList { name: String },
    /// Evaluation took more than [`template::MAX_STEPS`] steps.
    #[error("the template takes more than {limit} steps to evaluate (loops too large?)")]
    TooManySteps { limit: usize },
    /// A syntax error ([`VariableError::Unterminated`] or a too deep `#{` nesting) inside the
    /// value of a variable; `source` positions are relative to that value.
    #[error("in the value of variable '{variable}': {source}")]
    InValue {
        /// The variable whose value is malformed.
        variable: String,
        /// The error inside that value.
        source: Box<VariableError>,
    },
}

fn referenced_suffix(by: &Option<String>) -> String {
    match by {
        Some(v) => format!(" (referenced by '{v}')"),
        None => String::new(),
    }
}

fn chain_suffix(chain: &[String]) -> String {
    if chain.is_empty() {
        String::new()
    } else {
        format!(" (via {})", chain.join(" -> "))
    }
}
