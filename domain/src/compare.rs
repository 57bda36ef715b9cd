//! Release comparison: the process steps, variable values and packages of two releases side by
//! side. Sensitive values are compared by the caller-supplied plaintext but never rendered.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Release, Step, Variable, VariableValue};
use crate::variables::MASK;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
    Unchanged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
            ChangeKind::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub subject: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub steps: Vec<Change>,
    pub variables: Vec<Change>,
    pub packages: Vec<Change>,
}

/// One line describing a step (its action and scoping), for side-by-side display.
pub fn describe_step(s: &Step) -> String {
    use crate::model::{ScriptSource, StepAction};
    let action = match &s.action {
        StepAction::DeployPackage {
            package_id,
            substitute_files,
            structured_files,
        } => {
            let mut d = format!("deploy package {package_id}");
            if !substitute_files.is_empty() {
                d.push_str(&format!(" substitute=[{}]", substitute_files.join(",")));
            }
            if !structured_files.is_empty() {
                d.push_str(&format!(" structured=[{}]", structured_files.join(",")));
            }
            d
        }
        StepAction::RunScript { syntax, source } => match source {
            ScriptSource::Inline(body) => format!("{} script: {}", syntax.as_str(), body.trim()),
            ScriptSource::Package { package_id, path } => {
                format!(
                    "{} script {path} from package {package_id}",
                    syntax.as_str()
                )
            }
        },
    };
    let mut scope = Vec::new();
    if !s.environments.is_empty() {
        scope.push(format!("env={}", s.environments.join(",")));
    }
    if !s.roles.is_empty() {
        scope.push(format!("role={}", s.roles.join(",")));
    }
    if !s.channels.is_empty() {
        scope.push(format!("channel={}", s.channels.join(",")));
    }
    if scope.is_empty() {
        action
    } else {
        format!("{action} [{}]", scope.join(" "))
    }
}

fn change(kind: ChangeKind, subject: String, from: String, to: String) -> Change {
    Change {
        kind,
        subject,
        from,
        to,
    }
}

/// Side-by-side diff of two keyed lists of renderable values.
fn diff(
    from: BTreeMap<String, (String, String)>,
    to: BTreeMap<String, (String, String)>,
) -> Vec<Change> {
    // values are (comparison key, display)
    let mut out = Vec::new();
    for (subject, (cmp_a, shown_a)) in &from {
        match to.get(subject) {
            None => out.push(change(
                ChangeKind::Removed,
                subject.clone(),
                shown_a.clone(),
                String::new(),
            )),
            Some((cmp_b, shown_b)) => {
                let kind = if cmp_a == cmp_b {
                    ChangeKind::Unchanged
                } else {
                    ChangeKind::Changed
                };
                out.push(change(
                    kind,
                    subject.clone(),
                    shown_a.clone(),
                    shown_b.clone(),
                ));
            }
        }
    }
    for (subject, (_, shown_b)) in to {
        if !from.contains_key(&subject) {
            out.push(change(ChangeKind::Added, subject, String::new(), shown_b));
        }
    }
    out
}

/// Compares release `a` (from) with release `b` (to). `reveal` returns the plaintext of a
/// sensitive variable (used only for equality) or `None` if it cannot be read.
pub fn compare_releases(
    a: &Release,
    b: &Release,
    reveal: &dyn Fn(&Release, &Variable) -> Option<String>,
) -> Comparison {
    let steps = |r: &Release| -> BTreeMap<String, (String, String)> {
        r.process
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = format!("#{} {}", i + 1, describe_step(s));
                (s.name.clone(), (d.clone(), d))
            })
            .collect()
    };
    // Several values under one name and scope (kept by releases made before duplicates were
    // refused) are compared as a whole: every value that is there, in a stable order.
    let vars = |r: &Release| -> BTreeMap<String, (String, String)> {
        let mut by_subject: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for v in &r.variables {
            let subject = format!("{} {}", v.name, v.scope);
            let pair = match &v.value {
                VariableValue::Plain(s) => (format!("plain:{s}"), s.clone()),
                VariableValue::Sensitive(_) => (
                    format!(
                        "sensitive:{}",
                        reveal(r, v).unwrap_or_else(|| format!("unreadable:{}", v.id))
                    ),
                    MASK.to_string(),
                ),
            };
            by_subject.entry(subject).or_default().push(pair);
        }
        by_subject
            .into_iter()
            .map(|(subject, mut values)| {
                values.sort();
                let cmp = values
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join("\u{1f}");
                let shown = values
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                (subject, (cmp, shown))
            })
            .collect()
    };
    let pkgs = |r: &Release| -> BTreeMap<String, (String, String)> {
        r.packages
            .iter()
            .map(|p| {
                let shown = format!("{} ({})", p.version, &p.sha256[..p.sha256.len().min(12)]);
                (
                    format!("{} (step {})", p.id, p.step),
                    (p.sha256.clone(), shown),
                )
            })
            .collect()
    };
    Comparison {
        steps: diff(steps(a), steps(b)),
        variables: diff(vars(a), vars(b)),
        packages: diff(pkgs(a), pkgs(b)),
    }
}

/// Orders versions like 1.2.10 > 1.2.9, with a pre-release (1.0.0-beta) before its release.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let split = |v: &str| -> (Vec<String>, Option<String>) {
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (v, None),
        };
        (core.split('.').map(str::to_string).collect(), pre)
    };
    let part = |x: &str, y: &str| -> Ordering {
        match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        }
    };
    let (ca, pa) = split(a);
    let (cb, pb) = split(b);
    for i in 0..ca.len().max(cb.len()) {
        let x = ca.get(i).map(String::as_str).unwrap_or("0");
        let y = cb.get(i).map(String::as_str).unwrap_or("0");
        let o = part(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let xs: Vec<&str> = x.split('.').collect();
            let ys: Vec<&str> = y.split('.').collect();
            for i in 0..xs.len().max(ys.len()) {
                match (xs.get(i), ys.get(i)) {
                    (Some(p), Some(q)) => {
                        let o = part(p, q);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    (Some(_), None) => return Ordering::Greater,
                    (None, Some(_)) => return Ordering::Less,
                    (None, None) => break,
                }
            }
            Ordering::Equal
        }
    }
}

#[cfg(test)]
#[path = "tests/compare.rs"]
mod tests;
