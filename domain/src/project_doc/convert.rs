//! A document to and from the domain model: what a Space stores ([`ProjectParts`]) and the
//! canonical document of it ([`ProjectDoc::from_parts`]: sorted, sensitive values left out).

use super::{
    ChannelDoc, DocError, FORMAT, LifecycleDoc, PackageDoc, PhaseDoc, ProjectDoc, ProjectHead,
    ScopeDoc, ScriptDoc, StepDoc, TemplateDoc, VariableDoc,
};
use crate::model::{
    Channel, Lifecycle, Phase, PhaseRule, Process, Project, Scope, ScriptSource, Step, StepAction,
    Variable, VariableTemplate, VariableValue,
};

/// A project as a document describes it, in domain types. A variable's `value` is `None` for
/// a sensitive value the document only refers to (it stays in the Space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectParts {
    pub project: Project,
    pub lifecycles: Vec<Lifecycle>,
    pub channels: Vec<Channel>,
    pub process: Process,
    pub variables: Vec<VariableEntry>,
    pub templates: Vec<VariableTemplate>,
}

/// One variable value of a document.
#[derive(Clone, PartialEq, Eq)]
pub struct VariableEntry {
    pub name: String,
    pub value: Option<String>,
    pub sensitive: bool,
    pub scope: Scope,
    pub description: String,
}

impl std::fmt::Debug for VariableEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = match (&self.value, self.sensitive) {
            (None, _) => "(none)",
            (Some(_), true) => "***",
            (Some(v), false) => v,
        };
        f.debug_struct("VariableEntry")
            .field("name", &self.name)
            .field("value", &value)
            .field("scope", &self.scope)
            .finish()
    }
}

impl ProjectParts {
    /// What a Space holds: sensitive values become references.
    pub fn from_space(
        project: &Project,
        lifecycles: Vec<Lifecycle>,
        channels: Vec<Channel>,
        process: Process,
        variables: &[Variable],
        templates: Vec<VariableTemplate>,
    ) -> ProjectParts {
        let variables = variables
            .iter()
            .map(|v| VariableEntry {
                name: v.name.clone(),
                value: match &v.value {
                    VariableValue::Plain(s) => Some(s.clone()),
                    VariableValue::Sensitive(_) => None,
                },
                sensitive: v.is_sensitive(),
                scope: v.scope.clone(),
                description: v.description.clone(),
            })
            .collect();
        ProjectParts {
            project: Project {
                remote: None,
                ..project.clone()
            },
            lifecycles,
            channels,
            process,
            variables,
            templates,
        }
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort_by_key(|s| s.to_lowercase());
    v
}

fn scope_doc(s: &Scope) -> ScopeDoc {
    ScopeDoc {
        environments: sorted(&s.environments),
        roles: sorted(&s.roles),
        targets: sorted(&s.targets),
        steps: sorted(&s.steps),
        channels: sorted(&s.channels),
        tenants: sorted(&s.tenants),
    }
}

fn step_doc(s: &Step) -> StepDoc {
    let (package, script) = match &s.action {
        StepAction::DeployPackage {
            package_id,
            substitute_files,
            structured_files,
        } => (
            Some(PackageDoc {
                id: package_id.clone(),
                substitute_files: substitute_files.clone(),
                structured_files: structured_files.clone(),
            }),
            None,
        ),
        StepAction::RunScript { syntax, source } => {
            let (body, package, path) = match source {
                ScriptSource::Inline(b) => (Some(b.clone()), None, None),
                ScriptSource::Package { package_id, path } => {
                    (None, Some(package_id.clone()), Some(path.clone()))
                }
            };
            let syntax = syntax.as_str().to_string();
            (
                None,
                Some(ScriptDoc {
                    syntax,
                    body,
                    package,
                    path,
                }),
            )
        }
    };
    StepDoc {
        name: s.name.clone(),
        environments: s.environments.clone(),
        roles: s.roles.clone(),
        channels: s.channels.clone(),
        package,
        script,
    }
}

impl From<&Lifecycle> for LifecycleDoc {
    fn from(l: &Lifecycle) -> LifecycleDoc {
        lifecycle_doc(l)
    }
}

fn lifecycle_doc(l: &Lifecycle) -> LifecycleDoc {
    LifecycleDoc {
        name: l.name.clone(),
        description: l.description.clone(),
        phases: l
            .phases
            .iter()
            .map(|p| PhaseDoc {
                name: p.name.clone(),
                environments: p.environments.clone(),
                minimum: match p.rule {
                    PhaseRule::AtLeast(n) => Some(n),
                    _ => None,
                },
                optional: p.rule == PhaseRule::Optional,
                automatic: p.automatic,
                prestage: p.prestage,
            })
            .collect(),
    }
}

impl ProjectDoc {
    /// The canonical document of `parts`: lifecycles, channels, variables and templates sorted
    /// by name (variables then by scope), scope values sorted, steps in execution order.
    pub fn from_parts(parts: &ProjectParts) -> ProjectDoc {
        let mut lifecycles: Vec<LifecycleDoc> =
            parts.lifecycles.iter().map(lifecycle_doc).collect();
        lifecycles.sort_by_key(|l| l.name.to_lowercase());
        let mut channels: Vec<ChannelDoc> = parts
            .channels
            .iter()
            .map(|c| ChannelDoc {
                name: c.name.clone(),
                description: c.description.clone(),
                lifecycle: c.lifecycle.clone(),
                default: c.is_default,
            })
            .collect();
        channels.sort_by_key(|c| c.name.to_lowercase());
        let mut variables: Vec<VariableDoc> = parts
            .variables
            .iter()
            .map(|v| VariableDoc {
                name: v.name.clone(),
                value: if v.sensitive { None } else { v.value.clone() },
                sensitive: v.sensitive,
                scope: scope_doc(&v.scope),
                description: v.description.clone(),
            })
            .collect();
        variables.sort_by_cached_key(|v| {
            (
                v.name.to_lowercase(),
                serde_json::to_string(&v.scope).unwrap_or_default(),
            )
        });
        let mut templates: Vec<TemplateDoc> = parts
            .templates
            .iter()
            .map(|t| TemplateDoc {
                name: t.name.clone(),
                label: t.label.clone(),
                help_text: t.help_text.clone(),
                kind: t.kind.as_str().to_string(),
                mandatory: t.mandatory,
                default: t.default_value.clone(),
            })
            .collect();
        templates.sort_by_key(|t| t.name.to_lowercase());
        ProjectDoc {
            format: FORMAT.to_string(),
            project: ProjectHead {
                name: parts.project.name.clone(),
                description: parts.project.description.clone(),
                lifecycle: parts.project.lifecycle.clone(),
            },
            lifecycles,
            channels,
            steps: parts.process.steps.iter().map(step_doc).collect(),
            variables,
            templates,
        }
    }

    /// The domain types this document describes; refuses a document whose parts do not fit
    /// (a phase both optional and with a minimum, a step with no action or two, a plain
    /// variable without a value, an unknown script syntax or template kind).
    pub fn into_parts(self) -> Result<ProjectParts, DocError> {
        let ProjectDoc {
            format: _,
            project,
            lifecycles,
            channels,
            steps,
            variables,
            templates,
        } = self;
        let name = project.name.clone();
        Ok(ProjectParts {
            project: Project {
                name: project.name,
                description: project.description,
                lifecycle: project.lifecycle,
                remote: None,
            },
            lifecycles: lifecycles
                .into_iter()
                .map(lifecycle_part)
                .collect::<Result<_, _>>()?,
            channels: channels
                .into_iter()
                .map(|c| Channel {
                    project: name.clone(),
                    name: c.name,
                    description: c.description,
                    lifecycle: c.lifecycle,
                    is_default: c.default,
                })
                .collect(),
            process: Process {
                steps: steps.into_iter().map(step_part).collect::<Result<_, _>>()?,
            },
            variables: variables
                .into_iter()
                .map(variable_part)
                .collect::<Result<_, _>>()?,
            templates: templates
                .into_iter()
                .map(template_part)
                .collect::<Result<_, _>>()?,
        })
    }
}

fn lifecycle_part(l: LifecycleDoc) -> Result<Lifecycle, DocError> {
    let phases = l
        .phases
        .into_iter()
        .map(|p| {
            let rule = match (p.optional, p.minimum) {
                (true, Some(_)) => {
                    return Err(DocError(format!(
                        "phase '{}' of lifecycle '{}' is optional and has a minimum: give one of them",
                        p.name, l.name
                    )));
                }
                (true, None) => PhaseRule::Optional,
                (false, None) => PhaseRule::All,
                (false, Some(0)) => {
                    return Err(DocError(format!(
                        "phase '{}' of lifecycle '{}' has minimum 0: leave it out for all environments, or say optional: true",
                        p.name, l.name
                    )));
                }
                (false, Some(n)) => PhaseRule::AtLeast(n),
            };
            Ok(Phase {
                name: p.name,
                environments: p.environments,
                rule,
                automatic: p.automatic,
                prestage: p.prestage,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Lifecycle {
        name: l.name,
        description: l.description,
        phases,
    })
}

fn step_part(s: StepDoc) -> Result<Step, DocError> {
    let action = match (s.package, s.script) {
        (Some(p), None) => StepAction::DeployPackage {
            package_id: p.id,
            substitute_files: p.substitute_files,
            structured_files: p.structured_files,
        },
        (None, Some(x)) => {
            let syntax = x
                .syntax
                .parse()
                .map_err(|e| DocError(format!("step '{}': {e}", s.name)))?;
            let source = match (x.body, x.package, x.path) {
                (Some(b), None, None) => ScriptSource::Inline(b),
                (None, Some(package_id), Some(path)) => ScriptSource::Package { package_id, path },
                _ => {
                    return Err(DocError(format!(
                        "the script of step '{}' needs either body, or package and path",
                        s.name
                    )));
                }
            };
            StepAction::RunScript { syntax, source }
        }
        _ => {
            return Err(DocError(format!(
                "step '{}' needs exactly one of package and script",
                s.name
            )));
        }
    };
    Ok(Step {
        name: s.name,
        environments: s.environments,
        roles: s.roles,
        channels: s.channels,
        action,
    })
}

fn variable_part(v: VariableDoc) -> Result<VariableEntry, DocError> {
    if v.value.is_none() && !v.sensitive {
        return Err(DocError(format!(
            "variable '{}' has no value: write value: for a plain one, or sensitive: true for one whose value stays in the Space",
            v.name
        )));
    }
    let s = v.scope;
    Ok(VariableEntry {
        name: v.name,
        value: v.value,
        sensitive: v.sensitive,
        scope: Scope {
            environments: s.environments,
            roles: s.roles,
            targets: s.targets,
            steps: s.steps,
            channels: s.channels,
            tenants: s.tenants,
        },
        description: v.description,
    })
}

fn template_part(t: TemplateDoc) -> Result<VariableTemplate, DocError> {
    Ok(VariableTemplate {
        kind: t
            .kind
            .parse()
            .map_err(|e| DocError(format!("template '{}': {e}", t.name)))?,
        name: t.name,
        label: t.label,
        help_text: t.help_text,
        mandatory: t.mandatory,
        default_value: t.default,
    })
}
