//! Tenants: the customers or sites a project deploys to, owned by the Space where their
//! deployments happen (they never travel in bundles), connected to projects and to this
//! Space's own environments.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// A project a tenant is connected to, and in which environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantProject {
    pub project: String,
    pub environments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub projects: Vec<TenantProject>,
    pub created_at: Timestamp,
}

impl Tenant {
    /// Whether the tenant is connected to `project` in `environment`.
    pub fn serves(&self, project: &str, environment: &str) -> bool {
        self.projects.iter().any(|p| {
            p.project.eq_ignore_ascii_case(project)
                && p.environments
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(environment))
        })
    }
}
