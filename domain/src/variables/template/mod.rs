//! Octostache templates, as Octopus users write them (behaviour checked against
//! Octostache's fixtures): `#{Name}` with filters (`#{Url | ToLower}`, arguments quoted or
//! bare, `\"` too), indexers and JSON paths (`#{Settings[#{Region}]}`,
//! `#{Config.Database.Host}` where Config holds JSON: keys case-sensitive, a path that finds
//! nothing is empty, booleans print `True`/`False`), conditionals (`#{if A == "x"}...
//! #{elseif B}...#{else}...#{/if}`, `#{unless A}`; `if`/`unless`/`each`/`calc` in any case),
//! loops (`#{each s in Servers}` over comma-separated values split on every comma untrimmed,
//! JSON arrays, JSON objects (the item shows its key, with `.Key`/`.Value`) and indexed
//! collections (`#{each a in Octopus.Action}` over `Octopus.Action[A].Name`, ...: the item is
//! the index, `a.Name` is `Octopus.Action[A].Name`), with `Octopus.Template.Each.Index/First/
//! Last`) and `#{calc {A} * 2}`.
//!
//! Two modes ([`Mode`]). **Strict** (the default for deployments): a missing variable, an
//! unknown filter or one given the wrong arguments, a loop over something that is not a list
//! or a syntax error fails the step with a message naming it (and its line and column), so a
//! configuration file never ships with `#{Missing}` in it. **Compatible**
//! (`Deploy.Template.Mode = compatible`, or Octopus'
//! `Octopus.Action.Package.IgnoreVariableReplacementErrors = True`): as Octostache, such a
//! token is echoed back rebuilt (`#{ Missing|ToUpper }` becomes `#{Missing | ToUpper}`), a
//! template that does not parse is left unchanged (Octostache would still replace the tokens
//! outside the broken part), and each case becomes a warning in the deployment log. In both
//! modes a missing value inside a condition counts as empty, and truthiness is Octostache's:
//! exactly "" or "0", or "no"/"false" in any case and spacing, are false; comparisons are
//! exact (case-sensitive). Variable values are templates too and are evaluated once per
//! call, outside any loop (a value cannot see a loop's item). A filter applied to a
//! sensitive value yields a secret too ([`Evaluated::derived_secrets`]): it is masked like
//! the value. Replace and Match use Rust's regex engine with .NET's replacement syntax: no
//! look-around or backreferences in patterns.
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
        Ok(nodes) => match unknown_filter(nodes) {
            None => Ok(()),
            Some((name, raw)) => Err(parse::syntax(
                text,
                text.find(&raw).unwrap_or(0),
                format!("unknown filter '{name}' in {raw}"),
            )),
        },
        Err(e) => Err(e.clone()),
    }
}

/// The first filter no evaluation knows, with the token naming it (Octostache echoes such a
/// token; a check says so before anything runs).
fn unknown_filter(nodes: &[parse::Node]) -> Option<(String, String)> {
    use parse::{Node, Operand, Piece, Subst};
    fn pieces(p: &[Piece], raw: &str) -> Option<(String, String)> {
        p.iter().find_map(|p| match p {
            Piece::Sub(s) => subst(s, raw),
            Piece::Lit(_) => None,
        })
    }
    fn subst(s: &Subst, raw: &str) -> Option<(String, String)> {
        let raw = if s.raw.is_empty() { raw } else { &s.raw };
        s.filters
            .iter()
            .find(|f| !filters::known(&f.name))
            .map(|f| (f.name.clone(), raw.to_string()))
            .or_else(|| pieces(&s.name, raw))
            .or_else(|| {
                s.filters
                    .iter()
                    .flat_map(|f| &f.args)
                    .find_map(|a| pieces(a, raw))
            })
    }
    nodes.iter().find_map(|n| match n {
        Node::Text(_) => None,
        Node::Subst(s) => subst(s, ""),
        Node::Calc { expr, raw } => pieces(expr, raw),
        Node::Each { source, body, .. } => subst(source, "").or_else(|| unknown_filter(body)),
        Node::If {
            branches,
            otherwise,
        } => branches
            .iter()
            .find_map(|(c, body)| {
                [Some(&c.left), c.compare.as_ref().map(|(_, r)| r)]
                    .into_iter()
                    .flatten()
                    .find_map(|o| match o {
                        Operand::Var(s) => subst(s, ""),
                        Operand::Lit(_) => None,
                    })
                    .or_else(|| unknown_filter(body))
            })
            .or_else(|| unknown_filter(otherwise)),
    })
}
