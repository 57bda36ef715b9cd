//! Teams (members and the roles granted to them, scoped to projects and environments) and
//! custom roles; and the one permission check every front end asks ([`AccessService::require`]).

use domain::access::{Need, Permission, Role, Team, builtin_roles, permits};
use runtime::auth::Caller;
use storage::{Batch, Record, StoreExt, key_of};

use super::access::AccessService;
use super::check_name;
use crate::error::{ApiError, ApiResult};

impl AccessService {
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
        if caller.admin || permits(&caller.name, &self.teams()?, &self.roles()?, need) {
            return Ok(());
        }
        let roles: Vec<String> = self
            .roles()?
            .into_iter()
            .filter(|r| r.permissions.contains(&need.permission))
            .map(|r| r.name)
            .collect();
        Err(ApiError::PermissionDenied(format!(
            "'{}' may not {}: that needs a team granting one of the roles {} there",
            caller.name,
            need.describe(),
            roles.join(", ")
        )))
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
        }
        let mut b = Batch::new();
        b.put_record(&t)?;
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
