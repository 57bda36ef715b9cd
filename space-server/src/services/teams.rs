//! Teams (members and the roles granted to them, scoped to projects and environments) and
//! custom roles; and the one permission check every front end asks ([`AccessService::require`]).
//! Teams and roles are read once and kept ([`AccessService::policy`]) until the record every
//! change to them bumps says they changed (also when another process changed them).

use std::sync::Arc;

use domain::access::{Need, Permission, Policy, Role, Team, builtin_roles};
use runtime::auth::Caller;
use storage::{Batch, Record, StoreExt, key_of};

use super::access::AccessService;
use super::check_name;
use crate::error::{ApiError, ApiResult};

/// The record every change to teams and roles bumps.
const POLICY_REVISION: (&str, &str) = ("meta", "access-policy");

/// Marks the policy changed in the batch that changes it.
fn bump(b: &mut Batch) {
    b.put(POLICY_REVISION.0, POLICY_REVISION.1, Vec::new());
}

impl AccessService {
    /// Teams and roles, read again only when they changed.
    pub fn policy(&self) -> ApiResult<Arc<Policy>> {
        let (table, key) = POLICY_REVISION;
        let revision = self
            .state
            .store
            .get_versioned(table, key)?
            .map(|v| v.revision);
        let held = match self.state.policy.lock() {
            Ok(held) => held.as_ref().filter(|(rev, _)| *rev == revision).cloned(),
            Err(_) => None,
        };
        if let Some((_, p)) = held {
            return Ok(p);
        }
        let p = Arc::new(Policy {
            teams: self.teams()?,
            roles: self.roles()?,
        });
        if let Ok(mut held) = self.state.policy.lock() {
            *held = Some((revision, p.clone()));
        }
        Ok(p)
    }

    /// Built-in roles, then custom ones.
    pub fn roles(&self) -> ApiResult<Vec<Role>> {
        let mut all = builtin_roles();
        all.extend(self.state.store.all_records::<Role>("")?);
        Ok(all)
    }

    pub fn teams(&self) -> ApiResult<Vec<Team>> {
        Ok(self.state.store.all_records::<Team>("")?)
    }

    /// What `caller` may do, one line per permission and grant.
    pub fn grants_of(&self, caller: &Caller) -> ApiResult<Vec<String>> {
        if caller.admin {
            return Ok(vec!["everything (admin)".into()]);
        }
        let roles = self.roles()?;
        let mut out = Vec::new();
        for t in self
            .teams()?
            .iter()
            .filter(|t| t.members.contains(&caller.name))
        {
            for g in &t.grants {
                let Some(r) = roles.iter().find(|r| r.name.eq_ignore_ascii_case(&g.role)) else {
                    continue;
                };
                let mut scope = String::new();
                if !g.environments.is_empty() {
                    scope.push_str(&format!(" in {}", g.environments.join(", ")));
                }
                if !g.projects.is_empty() {
                    scope.push_str(&format!(" of {}", g.projects.join(", ")));
                }
                if !g.tenants.is_empty() {
                    scope.push_str(&format!(" for tenants {}", g.tenants.join(", ")));
                }
                for p in &r.permissions {
                    out.push(format!(
                        "{}{scope} (team {}, role {})",
                        p.as_str(),
                        t.name,
                        r.name
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Refuses `need` unless `caller` may do it (an admin may do everything), naming what is
    /// missing; the one check of the Space API.
    pub fn require(&self, caller: &Caller, need: &Need) -> ApiResult<()> {
        if self.may(caller, need)? {
            return Ok(());
        }
        Err(ApiError::PermissionDenied(format!(
            "'{}' may not {}: that needs a team granting one of the roles {} there",
            caller.name,
            need.describe(),
            self.policy()?.roles_with(need.permission).join(", ")
        )))
    }

    /// Whether `caller` may do `need`.
    pub fn may(&self, caller: &Caller, need: &Need) -> ApiResult<bool> {
        Ok(caller.admin || self.policy()?.permits(&caller.name, need))
    }

    pub async fn set_team(&self, caller: &Caller, t: Team) -> ApiResult<Team> {
        self.admin_only(caller)?;
        check_name("team", &t.name)?;
        let users = self.all_users()?;
        for m in &t.members {
            if !users.iter().any(|u| &u.name == m) {
                return Err(ApiError::Invalid(format!(
                    "'{m}' is not a user of this Space (deploy user create '{m}')"
                )));
            }
        }
        let roles = self.roles()?;
        for g in &t.grants {
            if !roles.iter().any(|r| r.name.eq_ignore_ascii_case(&g.role)) {
                return Err(ApiError::Invalid(format!(
                    "there is no role '{}' (deploy role list)",
                    g.role
                )));
            }
            for e in &g.environments {
                self.state.environment(e)?;
            }
            for p in &g.projects {
                self.state.project(p)?;
            }
            for t in &g.tenants {
                self.state.tenant(t)?;
            }
        }
        let mut b = Batch::new();
        b.put_record(&t)?;
        bump(&mut b);
        self.state.commit(b).await?;
        tracing::info!(team = %t.name, members = t.members.len(), grants = t.grants.len(), by = %caller.name, "team set");
        Ok(t)
    }

    pub async fn delete_team(&self, caller: &Caller, name: &str) -> ApiResult<()> {
        self.admin_only(caller)?;
        if self
            .state
            .store
            .get_record::<Team>(&key_of(&[name]))?
            .is_none()
        {
            return Err(ApiError::not_found("team", name));
        }
        let mut b = Batch::new();
        b.delete(Team::TABLE, &key_of(&[name]));
        bump(&mut b);
        self.state.commit(b).await?;
        Ok(())
    }

    pub async fn set_role(&self, caller: &Caller, r: Role) -> ApiResult<Role> {
        self.admin_only(caller)?;
        check_name("role", &r.name)?;
        if builtin_roles()
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&r.name))
        {
            return Err(ApiError::Invalid(format!(
                "'{}' is a built-in role: give a custom role another name",
                r.name
            )));
        }
        if r.permissions.is_empty() {
            return Err(ApiError::Invalid(format!(
                "role '{}' needs at least one permission",
                r.name
            )));
        }
        let mut b = Batch::new();
        b.put_record(&r)?;
        bump(&mut b);
        self.state.commit(b).await?;
        Ok(r)
    }

    /// Refused while a team grants it.
    pub async fn delete_role(&self, caller: &Caller, name: &str) -> ApiResult<()> {
        self.admin_only(caller)?;
        if self
            .state
            .store
            .get_record::<Role>(&key_of(&[name]))?
            .is_none()
        {
            return Err(ApiError::not_found("custom role", name));
        }
        let users: Vec<String> = self
            .teams()?
            .into_iter()
            .filter(|t| t.grants.iter().any(|g| g.role.eq_ignore_ascii_case(name)))
            .map(|t| t.name)
            .collect();
        if !users.is_empty() {
            return Err(ApiError::Precondition(format!(
                "role '{name}' is granted by team(s) {}: change them first",
                users.join(", ")
            )));
        }
        let mut b = Batch::new();
        b.delete(Role::TABLE, &key_of(&[name]));
        bump(&mut b);
        self.state.commit(b).await?;
        Ok(())
    }
}

/// Parses permission names, refusing unknown ones with the list of known ones.
pub fn permissions(names: &[String]) -> ApiResult<Vec<Permission>> {
    names
        .iter()
        .map(|n| {
            Permission::parse(n).ok_or_else(|| {
                ApiError::Invalid(format!(
                    "unknown permission '{n}': use {}",
                    Permission::ALL.map(|p| p.as_str()).join(", ")
                ))
            })
        })
        .collect()
}
