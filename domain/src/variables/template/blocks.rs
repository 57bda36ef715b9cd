//! Blocks while evaluating: conditions (`#{if}`, `#{unless}`, `#{elseif}`), loops
//! (`#{each}`) and `#{calc}`.

use serde_json::Value as Json;

use super::super::VariableError;
use super::Mode;
use super::calc;
use super::eval::{Expander, Found, Local, render, truthy};
use super::parse::{Cond, Node, Operand, Piece, Subst};

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
                // A missing value in a condition counts as empty (as in Octostache).
                let Some((found, t)) = self.lookup(name.trim())? else {
                    return Ok(String::new());
                };
                Ok(self.filtered(render(&found), &s.filters, t, owner)?.0)
            }
        }
    }

    pub(super) fn cond(&mut self, c: &Cond, owner: Option<&str>) -> Result<bool, VariableError> {
        let left = self.operand(&c.left, owner)?;
        let holds = match &c.compare {
            None => truthy(&left),
            Some((eq, right)) => (left == self.operand(right, owner)?) == *eq,
        };
        Ok(holds != c.negate)
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
        let Some((found, tainted)) = self.lookup(&name)? else {
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
        };
        let items: Vec<Json> = match found {
            Found::Json(Json::Array(a)) => a,
            Found::Json(Json::Object(o)) => o
                .into_iter()
                .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
                .collect(),
            Found::Json(Json::String(s)) => list(&s),
            Found::Text(t) => {
                let trimmed = t.trim_start();
                match (trimmed.starts_with('[') || trimmed.starts_with('{'))
                    .then(|| serde_json::from_str::<Json>(&t).ok())
                    .flatten()
                {
                    Some(Json::Array(a)) => a,
                    Some(Json::Object(o)) => o
                        .into_iter()
                        .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
                        .collect(),
                    _ => list(&t),
                }
            }
            Found::Json(_) => match self.mode {
                Mode::Strict => return Err(VariableError::NotAList { name }),
                Mode::Compatible => {
                    self.warnings
                        .push(VariableError::NotAList { name }.to_string());
                    return Ok(false);
                }
            },
        };
        let count = items.len();
        let mut t = false;
        for (index, item) in items.into_iter().enumerate() {
            self.locals.push(Local {
                var: var.to_string(),
                item,
                index,
                count,
                tainted,
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

/// Comma-separated values, trimmed; an empty text is an empty list.
fn list(s: &str) -> Vec<Json> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    s.split(',')
        .map(|x| Json::String(x.trim().to_string()))
        .collect()
}
