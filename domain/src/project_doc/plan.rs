//! What applying a document changes: each lifecycle, channel, step, variable and template
//! added, changed (with the fields that differ) or removed, compared by name (variables by
//! name and scope), before anything is written.

use serde::Serialize;

use super::{ProjectDoc, VariableDoc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Change,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Change => "change",
            Action::Remove => "remove",
        }
    }

    pub fn sign(self) -> char {
        match self {
            Action::Add => '+',
            Action::Change => '~',
            Action::Remove => '-',
        }
    }
}

/// One change of a plan: "~ step 'Deploy' (roles, moved from 2 to 1)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    /// project, lifecycle, channel, step, variable or template.
    pub kind: &'static str,
    pub name: String,
    /// For a change: what differs.
    pub detail: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} '{}'", self.action.sign(), self.kind, self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// The top-level fields in which `a` and `b` differ, comma-separated.
fn fields_changed<T: Serialize>(a: &T, b: &T) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return String::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.dedup();
    let mut seen = std::collections::BTreeSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.as_str()) && a.get(*k) != b.get(*k))
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A variable's name as a plan shows it: "ConnStr [env=Production]".
pub fn variable_label(v: &VariableDoc) -> String {
    if v.scope.is_empty() {
        return v.name.clone();
    }
    let dims = [
        ("env", &v.scope.environments),
        ("role", &v.scope.roles),
        ("target", &v.scope.targets),
        ("step", &v.scope.steps),
        ("channel", &v.scope.channels),
        ("tenant", &v.scope.tenants),
    ];
    let scope: Vec<String> = dims
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    format!("{} [{}]", v.name, scope.join(" "))
}

/// Adds, changes and removals between `cur` and `want`, matched by `key`; changes in
/// `want`'s order, then removals.
fn diff<T: Serialize + PartialEq>(
    kind: &'static str,
    cur: &[T],
    want: &[T],
    key: impl Fn(&T) -> String,
    label: impl Fn(&T) -> String,
    remove: bool,
    out: &mut Vec<Change>,
) {
    for (i, w) in want.iter().enumerate() {
        let k = key(w);
        let Some((j, c)) = cur.iter().enumerate().find(|(_, c)| key(c) == k) else {
            out.push(Change {
                action: Action::Add,
                kind,
                name: label(w),
                detail: String::new(),
            });
            continue;
        };
        let mut detail = if c == w {
            String::new()
        } else {
            fields_changed(c, w)
        };
        if kind == "step" && i != j {
            let moved = format!("moved from {} to {}", j + 1, i + 1);
            detail = if detail.is_empty() {
                moved
            } else {
                format!("{detail}, {moved}")
            };
        }
        if !detail.is_empty() {
            out.push(Change {
                action: Action::Change,
                kind,
                name: label(w),
                detail,
            });
        }
    }
    if remove {
        for c in cur
            .iter()
            .filter(|c| !want.iter().any(|w| key(w) == key(c)))
        {
            out.push(Change {
                action: Action::Remove,
                kind,
                name: label(c),
                detail: String::new(),
            });
        }
    }
}

/// The changes that make `current` (None: the project does not exist) and the Space's
/// `lifecycles_here` (those `wanted` names that exist) into `wanted`. Lifecycles are shared
/// by projects: they are added or changed, never removed.
pub fn plan(
    current: Option<&ProjectDoc>,
    lifecycles_here: &[super::LifecycleDoc],
    wanted: &ProjectDoc,
) -> Vec<Change> {
    let mut out = Vec::new();
    let lower = |s: &String| s.to_lowercase();
    diff(
        "lifecycle",
        lifecycles_here,
        &wanted.lifecycles,
        |l| lower(&l.name),
        |l| l.name.clone(),
        false,
        &mut out,
    );
    let Some(cur) = current else {
        out.insert(
            0,
            Change {
                action: Action::Add,
                kind: "project",
                name: wanted.project.name.clone(),
                detail: String::new(),
            },
        );
        let none = ProjectDoc {
            lifecycles: Vec::new(),
            channels: Vec::new(),
            steps: Vec::new(),
            variables: Vec::new(),
            templates: Vec::new(),
            ..wanted.clone()
        };
        return [out, parts_plan(&none, wanted)].concat();
    };
    if cur.project != wanted.project {
        out.insert(
            0,
            Change {
                action: Action::Change,
                kind: "project",
                name: wanted.project.name.clone(),
                detail: fields_changed(&cur.project, &wanted.project),
            },
        );
    }
    [out, parts_plan(cur, wanted)].concat()
}

fn parts_plan(cur: &ProjectDoc, wanted: &ProjectDoc) -> Vec<Change> {
    let mut out = Vec::new();
    let lower = |s: &String| s.to_lowercase();
    diff(
        "channel",
        &cur.channels,
        &wanted.channels,
        |c| lower(&c.name),
        |c| c.name.clone(),
        true,
        &mut out,
    );
    diff(
        "step",
        &cur.steps,
        &wanted.steps,
        |s| lower(&s.name),
        |s| s.name.clone(),
        true,
        &mut out,
    );
    let var_key = |v: &VariableDoc| {
        format!(
            "{}\n{}",
            v.name.to_lowercase(),
            serde_json::to_string(&v.scope)
                .unwrap_or_default()
                .to_lowercase()
        )
    };
    diff(
        "variable",
        &cur.variables,
        &wanted.variables,
        var_key,
        variable_label,
        true,
        &mut out,
    );
    diff(
        "template",
        &cur.templates,
        &wanted.templates,
        |t| lower(&t.name),
        |t| t.name.clone(),
        true,
        &mut out,
    );
    out
}
