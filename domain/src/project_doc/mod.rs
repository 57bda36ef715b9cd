//! Project configuration as code: a project's process, variables (sensitive ones as
//! references, never values), templates, channels and the lifecycles they use, as one
//! versioned, readable, diff-friendly document (YAML or JSON). [`ProjectDoc::render`] is
//! canonical (sorted, empty fields left out), so rendering what [`ProjectDoc::parse`] read and a
//! Space stored again gives the same bytes. `convert` maps to and from the domain model, `plan`
//! says what applying a document would change.

mod convert;
mod plan;

pub use convert::{ProjectParts, VariableEntry};
pub use plan::{Action, Change, plan, variable_label};

use serde::{Deserialize, Serialize};

/// The `format` line of the current document version.
pub const FORMAT: &str = "deploy-project/v1";

/// Largest document a Space reads (bytes).
pub const MAX_BYTES: usize = 3 << 20;

/// A document that cannot be read or used, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocError(pub String);

impl crate::error::ServiceError for DocError {
    fn code(&self) -> crate::error::ErrorCode {
        crate::error::ErrorCode::Invalid
    }
}

/// Text form of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    Yaml,
    Json,
}

fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectDoc {
    pub format: String,
    pub project: ProjectHead,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycles: Vec<LifecycleDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelDoc>,
    /// In execution order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<VariableDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectHead {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub lifecycle: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub phases: Vec<PhaseDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseDoc {
    pub name: String,
    pub environments: Vec<String>,
    /// How many environments must be reached first; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub automatic: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub prestage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Absent: the project's lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// A package step (exactly one of `package` and `script`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageDoc {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structured_files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptDoc {
    pub syntax: String,
    /// An inline script (or `package` and `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDoc {
    pub name: String,
    /// Absent for a sensitive value: it stays in the Space and never leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "ScopeDoc::is_empty")]
    pub scope: ScopeDoc,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDoc {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
}

impl ScopeDoc {
    pub fn is_empty(&self) -> bool {
        [
            &self.environments,
            &self.roles,
            &self.targets,
            &self.steps,
            &self.channels,
            &self.tenants,
        ]
        .iter()
        .all(|v| v.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help_text: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mandatory: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl ProjectDoc {
    /// The document as text: YAML, or JSON indented by two spaces; ends with a newline.
    pub fn render(&self, format: DocFormat) -> String {
        let text = match format {
            DocFormat::Yaml => serde_yaml::to_string(self).map_err(|e| e.to_string()),
            DocFormat::Json => serde_json::to_string_pretty(self).map_err(|e| e.to_string()),
        };
        // Plain data with string keys: neither serializer can fail on it.
        let mut text = text.unwrap_or_else(|e| format!("# cannot render: {e}\n"));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    /// Reads a document (JSON when it starts with `{`, else YAML) of this version.
    pub fn parse(text: &str) -> Result<ProjectDoc, DocError> {
        if text.len() > MAX_BYTES {
            return Err(DocError(format!(
                "the project file is {} bytes; at most {MAX_BYTES} are read",
                text.len()
            )));
        }
        let doc: ProjectDoc = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| DocError(format!("not a project file (JSON): {e}")))?
        } else {
            serde_yaml::from_str(text)
                .map_err(|e| DocError(format!("not a project file (YAML): {e}")))?
        };
        if doc.format != FORMAT {
            return Err(DocError(format!(
                "the file's format is '{}': this Space reads '{FORMAT}'",
                crate::text::clean(&doc.format, 60)
            )));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests;
