//! Who may do what: permissions, the built-in roles (the one table the permission matrix in
//! `docs/permissions.md` and its test are generated from), custom roles, and teams that grant
//! roles scoped to projects, environments and tenants. [`permits`] is the rule, once.

use serde::{Deserialize, Serialize};

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Read projects, releases, deployments, environments, targets, packages, bundles.
    View,
    /// Create projects; change a project's settings, channels and process.
    EditProject,
    /// Set a project's variables and templates.
    EditVariables,
    /// Create and delete releases.
    CreateRelease,
    /// Deploy, schedule, cancel; promote to other Spaces; import drop results.
    Deploy,
    /// Environments, lifecycles and deployment targets.
    ManageEnvironments,
    /// Add and import Release Bundles, transfer archives and receipts; auto-import rules.
    ImportBundles,
    /// Upload and delete packages.
    PushPackages,
    /// Users, teams, roles, API keys, the audit trail.
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::View,
        Permission::EditProject,
        Permission::EditVariables,
        Permission::CreateRelease,
        Permission::Deploy,
        Permission::ManageEnvironments,
        Permission::ImportBundles,
        Permission::PushPackages,
        Permission::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::EditProject => "edit-project",
            Permission::EditVariables => "edit-variables",
            Permission::CreateRelease => "create-release",
            Permission::Deploy => "deploy",
            Permission::ManageEnvironments => "manage-environments",
            Permission::ImportBundles => "import-bundles",
            Permission::PushPackages => "push-packages",
            Permission::Admin => "admin",
        }
    }

    /// What it allows, as the permission matrix says.
    pub fn allows(self) -> &'static str {
        match self {
            Permission::View => {
                "read projects, releases, deployments, environments, targets, packages, bundles"
            }
            Permission::EditProject => {
                "create projects; change settings, channels, process; apply project files"
            }
            Permission::EditVariables => "set variables and variable templates",
            Permission::CreateRelease => "create and delete releases",
            Permission::Deploy => {
                "deploy, schedule, cancel; promote to other Spaces; import drop results"
            }
            Permission::ManageEnvironments => "environments, lifecycles, deployment targets",
            Permission::ImportBundles => {
                "add and import bundles, transfer archives, receipts; auto-import rules"
            }
            Permission::PushPackages => "upload and delete packages",
            Permission::Admin => {
                "users, teams, roles, API keys, registration tokens, the audit trail"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// The built-in roles: the source of truth of the permission matrix.
pub fn builtin_roles() -> Vec<Role> {
    use Permission::*;
    let role = |name: &str, p: &[Permission]| Role {
        name: name.into(),
        permissions: p.to_vec(),
    };
    vec![
        role("viewer", &[View]),
        role(
            "project-contributor",
            &[View, EditProject, EditVariables, PushPackages],
        ),
        role("release-creator", &[View, CreateRelease, PushPackages]),
        role("deployer", &[View, Deploy]),
        role("variable-editor", &[View, EditVariables]),
        role("environment-manager", &[View, ManageEnvironments]),
        role("bundle-importer", &[View, ImportBundles]),
        role("space-admin", &Permission::ALL),
    ]
}

/// A role granted to a team, where it applies: empty lists mean everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: String,
    pub projects: Vec<String>,
    pub environments: Vec<String>,
    pub tenants: Vec<String>,
}

/// Users and the roles they are granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
    pub grants: Vec<Grant>,
}

/// Which tenant an operation is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TenantNeed {
    /// The question is not about tenants (a project setting, "may they deploy at all").
    #[default]
    Any,
    /// An untenanted deployment or value: grants limited to tenants do not cover it.
    Untenanted,
    /// This tenant's deployment or value.
    Tenant(String),
}

/// What one call needs: a permission, and where (None: the check is not scoped there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub permission: Permission,
    pub project: Option<String>,
    pub environment: Option<String>,
    pub tenant: TenantNeed,
}

impl Need {
    pub fn anywhere(permission: Permission) -> Self {
        Need {
            permission,
            project: None,
            environment: None,
            tenant: TenantNeed::Any,
        }
    }

    /// `permission` in every project (a rule for projects not made yet): only a grant not
    /// limited to some projects covers it.
    pub fn every_project(permission: Permission) -> Self {
        Need {
            project: Some(String::new()),
            ..Need::anywhere(permission)
        }
    }

    /// `permission` in `project`.
    pub fn in_project(permission: Permission, project: &str) -> Self {
        Need {
            project: Some(project.to_string()),
            ..Need::anywhere(permission)
        }
    }

    /// `permission` in `environment` of `project`, for `tenant` (None: untenanted).
    pub fn at(
        permission: Permission,
        project: &str,
        environment: &str,
        tenant: Option<&str>,
    ) -> Self {
        Need {
            permission,
            project: Some(project.to_string()),
            environment: Some(environment.to_string()),
            tenant: match tenant {
                Some(t) => TenantNeed::Tenant(t.to_string()),
                None => TenantNeed::Untenanted,
            },
        }
    }

    /// "deploy in environment 'Production' of project 'Web' for tenant 'Acme'"-like text.
    pub fn describe(&self) -> String {
        let mut s = self.permission.as_str().to_string();
        if let Some(e) = &self.environment {
            s.push_str(&format!(" in environment '{e}'"));
        }
        match self.project.as_deref() {
            Some("") => s.push_str(" in every project"),
            Some(p) => s.push_str(&format!(" of project '{p}'")),
            None => {}
        }
        match &self.tenant {
            TenantNeed::Any => {}
            TenantNeed::Untenanted => s.push_str(" (untenanted)"),
            TenantNeed::Tenant(t) => s.push_str(&format!(" for tenant '{t}'")),
        }
        s
    }
}

fn covers(list: &[String], what: &Option<String>) -> bool {
    match what {
        None => true,
        Some(w) => list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(w)),
    }
}

/// A grant limited to tenants covers only their deployments and values; an unlimited one
/// covers every tenant and the untenanted ones.
fn covers_tenant(list: &[String], what: &TenantNeed) -> bool {
    match what {
        TenantNeed::Any => true,
        TenantNeed::Untenanted => list.is_empty(),
        TenantNeed::Tenant(t) => list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(t)),
    }
}

/// Whether `user` may do `need`: some team of theirs grants a role holding the permission,
/// scoped to the project, environment and tenant asked about (a grant limited to some
/// projects, environments or tenants applies only there; an unscoped question is answered by
/// any grant).
pub fn permits(user: &str, teams: &[Team], roles: &[Role], need: &Need) -> bool {
    teams
        .iter()
        .filter(|t| t.members.iter().any(|m| m == user))
        .flat_map(|t| &t.grants)
        .any(|g| {
            roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(&g.role))
                .is_some_and(|r| r.permissions.contains(&need.permission))
                && covers(&g.projects, &need.project)
                && covers(&g.environments, &need.environment)
                && covers_tenant(&g.tenants, &need.tenant)
        })
}

/// A Space's teams and roles (built-in and custom), read together: what [`permits`] asks.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub teams: Vec<Team>,
    pub roles: Vec<Role>,
}

impl Policy {
    pub fn permits(&self, user: &str, need: &Need) -> bool {
        permits(user, &self.teams, &self.roles, need)
    }

    /// The roles holding `permission`, by name (for refusal messages).
    pub fn roles_with(&self, permission: Permission) -> Vec<String> {
        self.roles
            .iter()
            .filter(|r| r.permissions.contains(&permission))
            .map(|r| r.name.clone())
            .collect()
    }
}

/// The permission matrix as markdown: built-in role x permission (docs/permissions.md).
pub fn matrix_markdown() -> String {
    let roles = builtin_roles();
    let mut s = String::from(
        "# Permissions\n\nGenerated from `domain::access::builtin_roles` (the test \
         `the_permission_matrix_document_is_generated_from_the_roles` keeps it so). A team \
         grants roles to its members, each limited to some projects, environments and \
         tenants or not; a user may do what some grant of a team of theirs allows there. \
         Reads follow the same grants: lists leave out what the caller may not view, and a \
         read of it is refused. A grant limited to tenants covers only those tenants' \
         deployments and values (not untenanted ones); a value scoped to no environment is \
         every environment's, so changing it needs edit-variables in all of them.\n\n| permission | allows |",
    );
    for r in &roles {
        s.push_str(&format!(" {} |", r.name));
    }
    s.push_str("\n|---|---|");
    for _ in &roles {
        s.push_str("---|");
    }
    s.push('\n');
    for p in Permission::ALL {
        s.push_str(&format!("| {} | {} |", p.as_str(), p.allows()));
        for r in &roles {
            s.push_str(if r.permissions.contains(&p) {
                " yes |"
            } else {
                " - |"
            });
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests;
