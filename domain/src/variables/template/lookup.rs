//! What a name denotes while evaluating: a loop's item or a path into it, the loop helpers,
//! a variable, or a path into a variable whose value is JSON.

use std::rc::Rc;

use serde_json::Value as Json;

use super::super::VariableError;
use super::super::resolve::key;
use super::eval::{Expander, Found};

/// What a loop's name denotes: a value, or another name to look up (an indexed collection).
enum Hit {
    Found(Found, bool),
    Redirect(String, bool),
}

impl Expander<'_> {
    /// A name: a loop's item (or a path into it), a loop helper, a variable, or a path into a
    /// variable holding JSON (`Config.Database.Host`, `Servers[0]`, `Settings[eu]`; a path
    /// that finds nothing there is empty, as in Octostache; keys are case-sensitive).
    pub(super) fn lookup(&mut self, name: &str) -> Result<Option<(Found, bool)>, VariableError> {
        match self.local(name) {
            Some(Hit::Found(f, t)) => return Ok(Some((f, t))),
            Some(Hit::Redirect(other, t)) => {
                return Ok(self.var(&other)?.map(|(v, t2)| (Found::Text(v), t || t2)));
            }
            None => {}
        }
        if let Some((v, t)) = self.var(name)? {
            return Ok(Some((Found::Text(v), t)));
        }
        for (i, c) in name.char_indices().rev() {
            if (c != '.' && c != '[') || i == 0 {
                continue;
            }
            let base = &name[..i];
            if !self.vars.contains_key(&key(base)) {
                continue;
            }
            let Some((json, t)) = self.json_of(base)? else {
                continue;
            };
            let found = path(&json, &name[i..]).unwrap_or(Json::Null);
            return Ok(Some((Found::Json(found), t)));
        }
        Ok(None)
    }

    /// A loop's item, a path into it, or a loop helper.
    fn local(&self, name: &str) -> Option<Hit> {
        let top = self.locals.last()?;
        let helper = |s: &str| name.eq_ignore_ascii_case(&format!("Octopus.Template.Each.{s}"));
        let yes = |b: bool| Found::Text(Rc::from(if b { "True" } else { "False" }));
        if helper("Index") {
            return Some(Hit::Found(
                Found::Text(Rc::from(top.index.to_string())),
                false,
            ));
        }
        if helper("First") {
            return Some(Hit::Found(yes(top.index == 0), false));
        }
        if helper("Last") {
            return Some(Hit::Found(yes(top.index + 1 == top.count), false));
        }
        for l in self.locals.iter().rev() {
            if name.eq_ignore_ascii_case(&l.var) {
                let f = match &l.display {
                    Some(d) => Found::Text(Rc::from(d.as_str())),
                    None => Found::Json(l.item.clone()),
                };
                return Some(Hit::Found(f, l.tainted));
            }
            let Some(rest) = name.get(l.var.len()..) else {
                continue;
            };
            if !(name[..l.var.len()].eq_ignore_ascii_case(&l.var)
                && (rest.starts_with('.') || rest.starts_with('[')))
            {
                continue;
            }
            if let (Some(base), Json::String(index)) = (&l.collection, &l.item) {
                return Some(Hit::Redirect(format!("{base}[{index}]{rest}"), l.tainted));
            }
            let found = path(&l.item, rest).unwrap_or(Json::Null);
            return Some(Hit::Found(Found::Json(found), l.tainted));
        }
        None
    }

    /// The indexes of an indexed collection: `Octopus.Action` for variables named
    /// `Octopus.Action[A].Name`, `Octopus.Action[B].Name` gives A, B (in name order).
    pub(super) fn indexes(&self, base: &str) -> Vec<String> {
        let prefix = format!("{}[", key(base));
        let mut out: Vec<String> = Vec::new();
        for (k, v) in self.vars.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            let rest = &v.name[base.len().min(v.name.len())..];
            if let Some(end) = rest.find(']') {
                let index = rest[1..end].to_string();
                if !out.iter().any(|i| i.eq_ignore_ascii_case(&index)) {
                    out.push(index);
                }
            }
        }
        out
    }

    /// The value of `name` read as JSON, if it is a JSON object or array.
    pub(super) fn json_of(
        &mut self,
        name: &str,
    ) -> Result<Option<(Rc<Json>, bool)>, VariableError> {
        let Some((text, t)) = self.var(name)? else {
            return Ok(None);
        };
        let k = key(name);
        if let Some(j) = self.json.get(&k) {
            return Ok(j.clone().map(|j| (j, t)));
        }
        let trimmed = text.trim_start();
        let j = (trimmed.starts_with('{') || trimmed.starts_with('['))
            .then(|| serde_json::from_str::<Json>(&text).ok())
            .flatten()
            .map(Rc::new);
        self.json.insert(k, j.clone());
        Ok(j.map(|j| (j, t)))
    }
}

/// Follows `.Key`, `[0]` and `[Key]` steps from `j`; `None` where a step finds nothing.
pub(super) fn path(j: &Json, rest: &str) -> Option<Json> {
    let mut cur = j;
    let mut rest = rest;
    while !rest.is_empty() {
        let (step, next) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            (&r[..end], &r[end + 1..])
        } else {
            return None;
        };
        cur = match cur {
            Json::Array(a) => a.get(step.trim().parse::<usize>().ok()?)?,
            Json::Object(o) => o.get(step)?,
            _ => return None,
        };
        rest = next;
    }
    Some(cur.clone())
}
