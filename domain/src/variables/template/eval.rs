//! Evaluating templates against resolved variables: the [`Expander`] memoizes every variable
//! it expands (a value is a template too), detects cycles, follows loops' bindings and JSON
//! paths, applies filters, and bounds depth, output and steps (names: `lookup.rs`; blocks:
//! `blocks.rs`).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde_json::Value as Json;

use super::super::resolve::key;
use super::super::{MAX_DEPTH, MAX_EXPANDED_LEN, ResolvedVariable, VariableError};
use super::parse::{FilterCall, Node, Piece, Subst};
use super::{MAX_STEPS, Mode, cache, filters};

/// A loop's current item.
pub(super) struct Local {
    pub(super) var: String,
    pub(super) item: Json,
    pub(super) index: usize,
    pub(super) count: usize,
    pub(super) tainted: bool,
    /// What `#{item}` prints when it is not the item itself: an object's key.
    pub(super) display: Option<String>,
    /// For a loop over an indexed collection (`Octopus.Action[A].Name`, ...): its base
    /// name; the item is the index and `item.Name` is `Base[index].Name`.
    pub(super) collection: Option<String>,
}

/// What a name denotes: text, or a part of a JSON value; and whether a secret is in it.
pub(super) enum Found {
    Text(Rc<str>),
    Json(Json),
}

pub(super) fn render(f: &Found) -> String {
    match f {
        Found::Text(t) => t.to_string(),
        Found::Json(Json::String(s)) => s.clone(),
        Found::Json(Json::Null) => String::new(),
        Found::Json(Json::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
        Found::Json(j) => j.to_string(),
    }
}

/// Octostache's truthiness: exactly "" or "0", or "no"/"false" in any case and spacing, are
/// false.
pub(super) fn truthy(s: &str) -> bool {
    let t = s.trim();
    !(s.is_empty() || s == "0" || t.eq_ignore_ascii_case("false") || t.eq_ignore_ascii_case("no"))
}

/// A name a reference may use: letters, digits and `. _ - : / ~ ( ) @` and spaces, with
/// anything but brackets inside `[...]` (`Octopus.Step[Deploy (Web)/API].Status`).
pub(super) fn is_reference_name(name: &str) -> bool {
    let mut depth = 0usize;
    !name.is_empty()
        && name.chars().all(|c| match c {
            '[' => {
                depth += 1;
                depth == 1
            }
            ']' => {
                let ok = depth == 1;
                depth = depth.saturating_sub(1);
                ok
            }
            c if c.is_control() => false,
            _ if depth > 0 => true,
            c => c.is_alphanumeric() || "._-:/~()@ ".contains(c),
        })
        && depth == 0
}

/// Expands references against a set of resolved variables. One expander serves one public
/// call: it memoizes every variable it expands, so shared references are expanded once.
pub(crate) struct Expander<'v> {
    pub(super) vars: &'v BTreeMap<String, ResolvedVariable>,
    pub(super) mode: Mode,
    /// Lookup key -> fully expanded value and whether a secret is in it.
    pub(super) memo: HashMap<String, (Rc<str>, bool)>,
    /// Lookup key -> the value read as JSON (None: it is not JSON).
    pub(super) json: HashMap<String, Option<Rc<Json>>>,
    /// Variables being expanded, outermost first: (key, display name).
    pub(super) stack: Vec<(String, &'v str)>,
    /// Active nesting: variables being expanded plus `#{...#{...}}` bodies being expanded.
    pub(super) depth: usize,
    pub(super) locals: Vec<Local>,
    pub(super) steps: usize,
    pub(crate) warnings: Vec<String>,
    pub(crate) derived: Vec<String>,
}

impl<'v> Expander<'v> {
    pub(crate) fn new(vars: &'v BTreeMap<String, ResolvedVariable>, mode: Mode) -> Self {
        Expander {
            vars,
            mode,
            memo: HashMap::new(),
            json: HashMap::new(),
            stack: Vec::new(),
            depth: 0,
            locals: Vec::new(),
            steps: 0,
            warnings: Vec::new(),
            derived: Vec::new(),
        }
    }

    /// Clears the in-progress state after an error, keeping the memo of completed expansions.
    pub(crate) fn reset(&mut self) {
        self.stack.clear();
        self.depth = 0;
        self.locals.clear();
    }

    /// Evaluates top-level `text`. In compatible mode a text that does not parse is returned
    /// unchanged (with a warning).
    pub(crate) fn substitute(&mut self, text: &str) -> Result<String, VariableError> {
        if !text.contains("#{") {
            return Ok(text.to_string());
        }
        let parsed = cache::parsed(text);
        let nodes = match (&*parsed, self.mode) {
            (Ok(n), _) => n,
            (Err(e), Mode::Compatible) => {
                self.warnings
                    .push(format!("{e}: the text was left as it is"));
                return Ok(text.to_string());
            }
            (Err(e), Mode::Strict) => return Err(e.clone()),
        };
        let mut out = String::with_capacity(text.len());
        self.nodes(nodes, None, &mut out)?;
        Ok(out)
    }

    /// The expanded value of variable `name`, or `None` if it is not defined.
    pub(crate) fn expand_var(&mut self, name: &str) -> Result<Option<Rc<str>>, VariableError> {
        Ok(self.var(name)?.map(|(v, _)| v))
    }

    pub(super) fn var(&mut self, name: &str) -> Result<Option<(Rc<str>, bool)>, VariableError> {
        let k = key(name);
        if let Some(v) = self.memo.get(&k) {
            return Ok(Some(v.clone()));
        }
        let Some(var) = self.vars.get(&k) else {
            return Ok(None);
        };
        if let Some(i) = self.stack.iter().position(|(s, _)| *s == k) {
            let mut chain: Vec<String> =
                self.stack[i..].iter().map(|(_, n)| n.to_string()).collect();
            chain.push(var.name.clone());
            return Err(VariableError::Cycle { chain });
        }
        if self.depth >= MAX_DEPTH {
            let mut chain: Vec<String> = self.stack.iter().map(|(_, n)| n.to_string()).collect();
            chain.push(var.name.clone());
            return Err(VariableError::TooDeep {
                limit: MAX_DEPTH,
                chain,
            });
        }
        let mut tainted = var.sensitive;
        let value: Rc<str> = if var.value.contains("#{") {
            let parsed = cache::parsed(&var.value);
            match (&*parsed, self.mode) {
                (Ok(nodes), _) => {
                    let mut out = String::with_capacity(var.value.len());
                    self.stack.push((k.clone(), var.name.as_str()));
                    self.depth += 1;
                    // A value is evaluated outside any loop: it cannot see a loop's item.
                    let locals = std::mem::take(&mut self.locals);
                    let result = self.nodes(nodes, Some(&var.name), &mut out);
                    self.locals = locals;
                    self.depth -= 1;
                    self.stack.pop();
                    tainted |= result?;
                    Rc::from(out)
                }
                // A sensitive value that is not a well-formed template (an unterminated `#{`
                // in a password) is used literally: it was accepted so at set time.
                (Err(_), _) if var.sensitive => Rc::from(var.value.as_str()),
                (Err(e), Mode::Compatible) => {
                    self.warnings.push(format!(
                        "in the value of variable '{}': {e}: used as it is",
                        var.name
                    ));
                    Rc::from(var.value.as_str())
                }
                (Err(e), Mode::Strict) => {
                    return Err(VariableError::InValue {
                        variable: var.name.clone(),
                        source: Box::new(e.clone()),
                    });
                }
            }
        } else {
            Rc::from(var.value.as_str())
        };
        self.memo.insert(k, (value.clone(), tainted));
        Ok(Some((value, tainted)))
    }

    fn step(&mut self, out: &str) -> Result<(), VariableError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(VariableError::TooManySteps { limit: MAX_STEPS });
        }
        if out.len() > MAX_EXPANDED_LEN {
            return Err(VariableError::TooLarge {
                limit: MAX_EXPANDED_LEN,
            });
        }
        Ok(())
    }

    /// Appends the evaluation of `nodes` to `out`; `owner` is the variable whose value they
    /// come from (for error messages). Returns whether a secret went into `out`.
    pub(super) fn nodes(
        &mut self,
        nodes: &[Node],
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        let mut tainted = false;
        for node in nodes {
            self.step(out)?;
            tainted |= match node {
                Node::Text(t) => {
                    out.push_str(t);
                    false
                }
                Node::Subst(s) => self.subst(s, owner, out)?,
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mut chosen = otherwise;
                    for (c, body) in branches {
                        if self.cond(c, owner)? {
                            chosen = body;
                            break;
                        }
                    }
                    self.nodes(chosen, owner, out)?
                }
                Node::Each { var, source, body } => self.each(var, source, body, owner, out)?,
                Node::Calc { expr, raw } => self.calc(expr, raw, owner, out)?,
            };
            self.step(out)?;
        }
        Ok(tainted)
    }

    /// The text of pieces (a name or an argument), nested references expanded.
    pub(super) fn pieces(
        &mut self,
        pieces: &[Piece],
        owner: Option<&str>,
    ) -> Result<(String, bool), VariableError> {
        if let [Piece::Lit(t)] = pieces {
            return Ok((t.clone(), false));
        }
        if self.depth >= MAX_DEPTH {
            return Err(VariableError::TooDeep {
                limit: MAX_DEPTH,
                chain: self.stack.iter().map(|(_, n)| n.to_string()).collect(),
            });
        }
        let mut s = String::new();
        let mut tainted = false;
        self.depth += 1;
        let mut result = Ok(());
        for p in pieces {
            match p {
                Piece::Lit(t) => s.push_str(t),
                Piece::Sub(sub) => match self.subst(sub, owner, &mut s) {
                    Ok(t) => tainted |= t,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                },
            }
        }
        self.depth -= 1;
        result.map(|()| (s, tainted))
    }

    fn missing(
        &mut self,
        s: &Subst,
        name: &str,
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        match self.mode {
            Mode::Strict => Err(VariableError::Missing {
                name: name.to_string(),
                referenced_by: owner.map(str::to_string),
            }),
            Mode::Compatible => {
                // Echoed rebuilt, as Octostache does: `#{ Missing|ToUpper }` -> `#{Missing | ToUpper}`.
                let echo = s.rebuilt();
                self.warnings.push(format!(
                    "variable '{name}' is not defined: '{echo}' was left as it is"
                ));
                out.push_str(&echo);
                Ok(false)
            }
        }
    }

    /// `#{Name | filters}`.
    fn subst(
        &mut self,
        s: &Subst,
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        let (name, t0) = self.pieces(&s.name, owner)?;
        let name = name.trim();
        if name.is_empty() && !s.filters.is_empty() {
            // `#{ | NowDate}`: filters over nothing.
            let (text, t) = self.filtered(String::new(), &s.filters, t0, owner)?;
            out.push_str(&text);
            return Ok(t);
        }
        if !is_reference_name(name) {
            if self.mode == Mode::Compatible {
                self.warnings
                    .push(format!("'{}' is not a variable name: left as it is", s.raw));
                out.push_str(&s.raw);
                return Ok(false);
            }
            return Err(VariableError::InvalidName {
                name: name.to_string(),
                referenced_by: owner.map(str::to_string),
            });
        }
        let Some((found, t1)) = self.lookup(name)? else {
            return self.missing(s, name, owner, out);
        };
        let tainted = t0 || t1;
        if s.filters.is_empty() {
            match found {
                Found::Text(t) => out.push_str(&t),
                f => out.push_str(&render(&f)),
            }
            return Ok(tainted);
        }
        match self.filtered(render(&found), &s.filters, tainted, owner) {
            Ok((text, t)) => {
                out.push_str(&text);
                Ok(t)
            }
            Err(e) if self.mode == Mode::Compatible => {
                let echo = s.rebuilt();
                self.warnings
                    .push(format!("{e}: '{echo}' was left as it is"));
                out.push_str(&echo);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Applies `filters` in order; a filtered secret is a secret too.
    pub(super) fn filtered(
        &mut self,
        mut text: String,
        filters: &[FilterCall],
        mut tainted: bool,
        owner: Option<&str>,
    ) -> Result<(String, bool), VariableError> {
        for f in filters {
            let mut args = Vec::with_capacity(f.args.len());
            for a in &f.args {
                let (v, t) = self.pieces(a, owner)?;
                tainted |= t;
                args.push(v);
            }
            text =
                filters::apply(&f.name, &text, &args).map_err(|message| VariableError::Filter {
                    filter: f.name.clone(),
                    message,
                    referenced_by: owner.map(str::to_string),
                })?;
            if text.len() > MAX_EXPANDED_LEN {
                return Err(VariableError::TooLarge {
                    limit: MAX_EXPANDED_LEN,
                });
            }
        }
        if tainted && !text.is_empty() {
            self.derived.push(text.clone());
        }
        Ok((text, tainted))
    }
}
