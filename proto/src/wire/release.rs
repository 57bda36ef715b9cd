//! Conversions of variables, templates, packages and releases between `space.v1` and the
//! domain (sensitive values never leave: they are withheld on the way out).

use crate::space::v1 as pb;

use super::{WireError, opt, required, step_to_wire, timestamp};
pub use domain::model::VariableInput;
use domain::model::{PinnedPackage, Scope, TemplateKind, Variable, VariableTemplate};
use domain::package::{ArchiveFormat, ChunkRef, PackageManifest};

// ---------- variables ----------

impl From<pb::Scope> for Scope {
    fn from(m: pb::Scope) -> Self {
        let pb::Scope {
            environments,
            roles,
            targets,
            steps,
            channels,
            tenants,
        } = m;
        let clean = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Scope {
            environments: clean(environments),
            roles: clean(roles),
            targets: clean(targets),
            steps: clean(steps),
            channels: clean(channels),
            tenants: clean(tenants),
        }
    }
}

impl From<Scope> for pb::Scope {
    fn from(s: Scope) -> Self {
        let Scope {
            environments,
            roles,
            targets,
            steps,
            channels,
            tenants,
        } = s;
        pb::Scope {
            environments,
            roles,
            targets,
            steps,
            channels,
            tenants,
        }
    }
}

impl TryFrom<pb::Variable> for VariableInput {
    type Error = WireError;
    fn try_from(m: pb::Variable) -> Result<Self, WireError> {
        let pb::Variable {
            project,
            id,
            name,
            value,
            sensitive,
            scope,
            description,
        } = m;
        let name = required("name", name)?;
        if name.contains("#{") || name.contains('}') {
            return Err(WireError::Invalid {
                field: "name",
                reason: format!("'{name}' must not contain '#{{' or '}}'"),
            });
        }
        Ok(VariableInput {
            project: required("project", project)?,
            id: opt(id),
            name,
            value,
            sensitive,
            scope: scope.map(Scope::from).unwrap_or_default(),
            description,
        })
    }
}

/// Renders a stored variable; sensitive values are withheld (empty `value`, `sensitive` set).
pub fn variable_to_wire(project: &str, v: Variable) -> pb::Variable {
    let sensitive = v.is_sensitive();
    let Variable {
        id,
        name,
        value,
        scope,
        description,
    } = v;
    pb::Variable {
        project: project.to_string(),
        id,
        name,
        value: match value {
            domain::model::VariableValue::Plain(s) => s,
            domain::model::VariableValue::Sensitive(_) => String::new(),
        },
        sensitive,
        scope: Some(scope.into()),
        description,
    }
}

impl TryFrom<pb::VariableTemplate> for VariableTemplate {
    type Error = WireError;
    fn try_from(m: pb::VariableTemplate) -> Result<Self, WireError> {
        let pb::VariableTemplate {
            project: _,
            name,
            label,
            help_text,
            kind,
            mandatory,
            default_value,
        } = m;
        let kind: TemplateKind = kind.parse().map_err(|reason| WireError::Invalid {
            field: "kind",
            reason,
        })?;
        Ok(VariableTemplate {
            name: required("name", name)?,
            label,
            help_text,
            kind,
            mandatory,
            default_value: opt(default_value),
        })
    }
}

pub fn template_to_wire(project: &str, t: VariableTemplate) -> pb::VariableTemplate {
    let VariableTemplate {
        name,
        label,
        help_text,
        kind,
        mandatory,
        default_value,
    } = t;
    pb::VariableTemplate {
        project: project.to_string(),
        name,
        label,
        help_text,
        kind: kind.as_str().into(),
        mandatory,
        default_value: default_value.unwrap_or_default(),
    }
}

// ---------- packages ----------

impl From<PackageManifest> for pb::PackageManifest {
    fn from(m: PackageManifest) -> Self {
        let PackageManifest {
            id,
            version,
            size,
            sha256,
            format,
            chunks,
            uploaded_at,
        } = m;
        pb::PackageManifest {
            id,
            version,
            size,
            sha256,
            format: format.extension().into(),
            chunk_count: chunks.len() as u64,
            chunks: chunks
                .into_iter()
                .map(|c| pb::ChunkRef {
                    hash: c.hash.to_vec(),
                    length: c.length,
                })
                .collect(),
            uploaded_at: Some(timestamp(uploaded_at)),
            new_bytes_stored: 0,
        }
    }
}

impl TryFrom<pb::PackageManifest> for PackageManifest {
    type Error = WireError;
    fn try_from(m: pb::PackageManifest) -> Result<Self, WireError> {
        let pb::PackageManifest {
            id,
            version,
            size,
            sha256,
            format,
            chunks,
            uploaded_at,
            new_bytes_stored: _,
            chunk_count: _,
        } = m;
        let format: ArchiveFormat = format.parse().map_err(|_| WireError::Invalid {
            field: "format",
            reason: format!("unknown archive format '{format}'"),
        })?;
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(WireError::Invalid {
                field: "sha256",
                reason: "expected 64 hex characters".into(),
            });
        }
        let chunks = chunks
            .into_iter()
            .map(|c| {
                let pb::ChunkRef { hash, length } = c;
                let hash: [u8; 32] = hash.try_into().map_err(|_| WireError::Invalid {
                    field: "chunks.hash",
                    reason: "expected 32 bytes".into(),
                })?;
                Ok(ChunkRef { hash, length })
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        let (id, version) = (required("id", id)?, required("version", version)?);
        domain::package::validate_id(&id).map_err(|e| WireError::Invalid {
            field: "id",
            reason: e.to_string(),
        })?;
        domain::package::validate_version(&version).map_err(|e| WireError::Invalid {
            field: "version",
            reason: e.to_string(),
        })?;
        Ok(PackageManifest {
            id,
            version,
            size,
            sha256,
            format,
            chunks,
            uploaded_at: uploaded_at.map(|t| t.seconds).unwrap_or(0),
        })
    }
}

impl From<PinnedPackage> for pb::PinnedPackage {
    fn from(p: PinnedPackage) -> Self {
        let PinnedPackage {
            step,
            id,
            version,
            sha256,
        } = p;
        pb::PinnedPackage {
            step,
            id,
            version,
            sha256,
        }
    }
}

/// Renders a release with its frozen snapshots (sensitive values withheld).
pub fn release_to_wire(r: domain::model::Release) -> pb::Release {
    let domain::model::Release {
        project,
        version,
        channel,
        notes,
        packages,
        process,
        variables,
        templates,
        created_at,
        created_by,
        origin,
    } = r;
    pb::Release {
        origin: origin.map(origin_to_wire),
        process: process
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| step_to_wire(&project, i as u32 + 1, s))
            .collect(),
        variables: variables
            .into_iter()
            .map(|v| variable_to_wire(&project, v))
            .collect(),
        templates: templates
            .into_iter()
            .map(|t| template_to_wire(&project, t))
            .collect(),
        packages: packages.into_iter().map(Into::into).collect(),
        project,
        version,
        channel,
        notes,
        created_at: Some(timestamp(created_at)),
        created_by,
    }
}

fn origin_to_wire(o: domain::model::ReleaseOrigin) -> pb::ReleaseOrigin {
    let domain::model::ReleaseOrigin {
        source_space,
        source_project,
        bundle_id,
        bundle_digest,
        signer,
        imported_at,
        imported_by,
        deployments,
        traceparent,
        first_space,
        first_project,
        route,
    } = o;
    pb::ReleaseOrigin {
        first_space,
        first_project,
        route: route.into_iter().map(hop_to_wire).collect(),
        source_space,
        source_project,
        bundle_id,
        bundle_digest,
        signer,
        imported_at: Some(timestamp(imported_at)),
        imported_by,
        deployments: deployments.into_iter().map(earlier_to_wire).collect(),
        traceparent,
    }
}

fn hop_to_wire(h: domain::model::RouteHop) -> pb::RouteHop {
    let domain::model::RouteHop {
        space,
        project,
        bundle_id,
        bundle_digest,
    } = h;
    pb::RouteHop {
        space,
        project,
        bundle_id,
        bundle_digest,
    }
}

/// A deployment done in an earlier Space, as bundles report it.
pub fn earlier_to_wire(d: domain::model::DeploymentSummary) -> pb::EarlierDeployment {
    let domain::model::DeploymentSummary {
        space,
        environment,
        state,
        finished_at,
    } = d;
    pb::EarlierDeployment {
        space,
        environment,
        state: state.as_str().to_string(),
        finished_at: finished_at.map(timestamp),
    }
}

/// A comparison of two releases.
pub fn comparison_to_wire(c: domain::compare::Comparison) -> pb::CompareResponse {
    let conv = |v: Vec<domain::compare::Change>| -> Vec<pb::Change> {
        v.into_iter()
            .map(|c| {
                let domain::compare::Change {
                    kind,
                    subject,
                    from,
                    to,
                } = c;
                pb::Change {
                    kind: kind.as_str().into(),
                    subject,
                    from,
                    to,
                }
            })
            .collect()
    };
    let domain::compare::Comparison {
        steps,
        variables,
        packages,
    } = c;
    pb::CompareResponse {
        steps: conv(steps),
        variables: conv(variables),
        packages: conv(packages),
    }
}
