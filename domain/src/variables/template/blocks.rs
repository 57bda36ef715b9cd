//! Blocks while evaluating: conditions (`#{if}`, `#{unless}`, `#{elseif}`), loops
//! (`#{each}`) and `#{calc}`.

use serde_json::Value as Json;

use super::super::VariableError;
use super::Mode;
use super::calc;
use super::eval::{Expander, Found, Local, render, truthy};
use super::parse::{Cond, Node, Operand, Piece, Subst};

/// A loop item, and what `#{item}` shows when not the item itself (an object entry's key).
type Item = (Json, Option<String>);

impl Expander<'_> {
    pub(super) fn operand(
        &mut self,
        o: &Operand,
        owner: Option<&str>,
    ) -> Result<String, VariableError> {
        match o {
            Operand::Lit(s) => Ok(s.clone()),
            Operand::Var(s) => {
                let (name, _) = self.pieces(&s.name, owner)?;
                // A missing value in a condition counts as empty (as in Octostache); an
                // unknown filter is still one (`template::check` says so too).
                let Some((found, t)) = self.lookup(name.trim())? else {
                    if let Some(f) = s.filters.iter().find(|f| !super::filters::known(&f.name)) {
                        return Err(VariableError::Filter {
                            filter: f.name.clone(),
                            message: format!("unknown filter '{}'", f.name),
                            referenced_by: owner.map(str::to_string),
                        });
                    }
                    return Ok(String::new());
                };
                Ok(self.filtered(render(&found), &s.filters, t, owner)?.0)
            }
        }
    }

    /// Whether a condition holds; in compatible mode one that cannot be evaluated (an
    /// unknown filter) does not hold, with a warning.
    pub(super) fn cond(&mut self, c: &Cond, owner: Option<&str>) -> Result<bool, VariableError> {
        let holds = (|| {
            let left = self.operand(&c.left, owner)?;
            Ok(match &c.compare {
                None => truthy(&left),
                Some((eq, right)) => (left == self.operand(right, owner)?) == *eq,
            })
        })();
        match holds {
            Ok(h) => Ok(h != c.negate),
            Err(e) if self.mode == Mode::Compatible => {
                self.warnings
                    .push(format!("{e}: the condition is taken as false"));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn each(
        &mut self,
        var: &str,
        source: &Subst,
        body: &[Node],
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        let (name, _) = self.pieces(&source.name, owner)?;
        let name = name.trim().to_string();
        match self.lookup(&name)? {
            Some((found, tainted)) => {
                let items = self.items(found, &name)?;
                self.iterate(var, items, None, tainted, body, owner, out)
            }
            None => {
                let indexes = self.indexes(&name);
                if indexes.is_empty() {
                    return match self.mode {
                        Mode::Strict => Err(VariableError::Missing {
                            name,
                            referenced_by: owner.map(str::to_string),
                        }),
                        Mode::Compatible => {
                            self.warnings.push(format!(
                                "#{{each}} over '{name}', which is not defined: nothing was written"
                            ));
                            Ok(false)
                        }
                    };
                }
                let items = indexes
                    .into_iter()
                    .map(|i| (Json::String(i), None))
                    .collect();
                self.iterate(var, items, Some(name), false, body, owner, out)
            }
        }
    }

    /// The items a loop goes over: a JSON array's elements, a JSON object's entries (shown
    /// as their key, with `.Key` and `.Value`), or comma-separated values (not trimmed, as in
    /// Octostache); a scalar is one item in compatible mode.
    fn items(&mut self, found: Found, name: &str) -> Result<Vec<Item>, VariableError> {
        let entries = |o: serde_json::Map<String, Json>| {
            o.into_iter()
                .map(|(k, v)| (serde_json::json!({"Key": k, "Value": v}), Some(k)))
                .collect()
        };
        Ok(match found {
            Found::Json(Json::Array(a)) => a.into_iter().map(|j| (j, None)).collect(),
            Found::Json(Json::Object(o)) => entries(o),
            Found::Json(Json::String(s)) => list(&s),
            Found::Text(t) => {
                let trimmed = t.trim_start();
                match (trimmed.starts_with('[') || trimmed.starts_with('{'))
                    .then(|| serde_json::from_str::<Json>(&t).ok())
                    .flatten()
                {
                    Some(Json::Array(a)) => a.into_iter().map(|j| (j, None)).collect(),
                    Some(Json::Object(o)) => entries(o),
                    _ => list(&t),
                }
            }
            Found::Json(scalar) => match self.mode {
                Mode::Strict => {
                    return Err(VariableError::NotAList {
                        name: name.to_string(),
                    });
                }
                Mode::Compatible => vec![(scalar, None)],
            },
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn iterate(
        &mut self,
        var: &str,
        items: Vec<Item>,
        collection: Option<String>,
        tainted: bool,
        body: &[Node],
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        let count = items.len();
        let mut t = false;
        for (index, (item, display)) in items.into_iter().enumerate() {
            self.locals.push(Local {
                var: var.to_string(),
                item,
                index,
                count,
                tainted,
                display,
                collection: collection.clone(),
            });
            let r = self.nodes(body, owner, out);
            self.locals.pop();
            t |= r?;
        }
        Ok(t)
    }

    pub(super) fn calc(
        &mut self,
        expr: &[Piece],
        raw: &str,
        owner: Option<&str>,
        out: &mut String,
    ) -> Result<bool, VariableError> {
        let (text, mut tainted) = self.pieces(expr, owner)?;
        let mut lookup = |n: &str| -> Result<Option<String>, String> {
            match self.lookup(n) {
                Ok(Some((f, t))) => {
                    tainted |= t;
                    Ok(Some(render(&f)))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        };
        match calc::evaluate(&text, &mut lookup) {
            Ok(v) => {
                out.push_str(&v);
                Ok(tainted)
            }
            Err(message) if self.mode == Mode::Compatible => {
                self.warnings
                    .push(format!("calc: {message}: '{raw}' was left as it is"));
                out.push_str(raw);
                Ok(false)
            }
            Err(message) => Err(VariableError::Filter {
                filter: "calc".into(),
                message,
                referenced_by: owner.map(str::to_string),
            }),
        }
    }
}

/// Comma-separated values as Octostache splits them: on every `,`, untrimmed, empty items
/// kept (an empty value is one empty item).
fn list(s: &str) -> Vec<Item> {
    s.split(',')
        .map(|x| (Json::String(x.to_string()), None))
        .collect()
}
