//! `space.v1.Access`: converts and calls [`AccessService`] with the caller.

use proto::space::v1 as pb;
use proto::space::v1::access_server::Access;
use storage::records::{ApiKeyRecord, UserRecord};

use super::{Resp, ok};
use crate::auth::caller;
use crate::services::access::{AccessService, NewKey};
use crate::services::teams::permissions;
use domain::access::{Grant, Need, Permission, Role, Team};

pub struct AccessApi {
    pub service: AccessService,
}

fn ts(t: Option<i64>) -> Option<prost_types::Timestamp> {
    t.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 })
}

fn user_wire(u: UserRecord) -> pb::User {
    let UserRecord {
        name,
        service,
        admin,
        created_at,
        password,
    } = u;
    pb::User {
        name,
        service,
        admin,
        created_at: ts(Some(created_at)),
        has_password: password.is_some(),
    }
}

pub fn key_wire(k: &ApiKeyRecord) -> pb::ApiKeyInfo {
    let uses = k.registration.as_ref().and_then(|g| g.uses_left);
    pb::ApiKeyInfo {
        id: k.id().to_string(),
        name: k.name.clone(),
        user: k.user_name().to_string(),
        created_at: ts(Some(k.created_at)),
        expires_at: ts(k.expires_at),
        revoked_at: ts(k.revoked_at),
        last_used: ts(k.last_used),
        registration: k.registration.is_some(),
        uses_left: uses.unwrap_or(0),
        limited: uses.is_some(),
    }
}

fn created(n: NewKey) -> pb::CreatedApiKey {
    pb::CreatedApiKey {
        info: Some(key_wire(&n.record)),
        key: n.key,
    }
}

fn team_wire(t: Team) -> pb::Team {
    let Team {
        name,
        members,
        grants,
    } = t;
    pb::Team {
        name,
        members,
        grants: grants
            .into_iter()
            .map(|g| {
                let Grant {
                    role,
                    projects,
                    environments,
                    tenants,
                } = g;
                pb::Grant {
                    role,
                    projects,
                    environments,
                    tenants,
                }
            })
            .collect(),
    }
}

fn team_domain(t: pb::Team) -> Team {
    let pb::Team {
        name,
        members,
        grants,
    } = t;
    Team {
        name,
        members,
        grants: grants
            .into_iter()
            .map(|g| {
                let pb::Grant {
                    role,
                    projects,
                    environments,
                    tenants,
                } = g;
                Grant {
                    role,
                    projects,
                    environments,
                    tenants,
                }
            })
            .collect(),
    }
}

fn role_wire(r: Role, builtin: bool) -> pb::Role {
    pb::Role {
        name: r.name,
        permissions: r
            .permissions
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        builtin,
    }
}

#[tonic::async_trait]
impl Access for AccessApi {
    async fn set_team(&self, req: tonic::Request<pb::Team>) -> Resp<pb::Team> {
        let who = caller(&req);
        let t = team_domain(req.into_inner());
        ok(team_wire(self.service.set_team(&who, t).await?))
    }

    async fn list_teams(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::ListTeamsResponse> {
        self.service
            .require(&caller(&req), &Need::anywhere(Permission::View))?;
        ok(pb::ListTeamsResponse {
            teams: self.service.teams()?.into_iter().map(team_wire).collect(),
        })
    }

    async fn delete_team(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let who = caller(&req);
        let pb::ByName { name } = req.into_inner();
        self.service.delete_team(&who, &name).await?;
        ok(pb::Empty {})
    }

    async fn set_role(&self, req: tonic::Request<pb::Role>) -> Resp<pb::Role> {
        let who = caller(&req);
        let pb::Role {
            name,
            permissions: names,
            builtin: _,
        } = req.into_inner();
        let r = Role {
            name,
            permissions: permissions(&names)?,
        };
        ok(role_wire(self.service.set_role(&who, r).await?, false))
    }

    async fn list_roles(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::ListRolesResponse> {
        self.service
            .require(&caller(&req), &Need::anywhere(Permission::View))?;
        let builtin = domain::access::builtin_roles().len();
        ok(pb::ListRolesResponse {
            roles: self
                .service
                .roles()?
                .into_iter()
                .enumerate()
                .map(|(i, r)| role_wire(r, i < builtin))
                .collect(),
        })
    }

    async fn delete_role(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let who = caller(&req);
        let pb::ByName { name } = req.into_inner();
        self.service.delete_role(&who, &name).await?;
        ok(pb::Empty {})
    }

    async fn create_user(&self, req: tonic::Request<pb::User>) -> Resp<pb::User> {
        let who = caller(&req);
        let pb::User {
            name,
            service,
            admin,
            created_at: _,
            has_password: _,
        } = req.into_inner();
        let u = UserRecord {
            name,
            service,
            admin,
            created_at: 0,
            password: None,
        };
        ok(user_wire(self.service.create_user(&who, u).await?))
    }

    async fn list_users(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::ListUsersResponse> {
        let users = self.service.users(&caller(&req))?;
        ok(pb::ListUsersResponse {
            users: users.into_iter().map(user_wire).collect(),
        })
    }

    async fn set_password(&self, req: tonic::Request<pb::SetPasswordRequest>) -> Resp<pb::Empty> {
        let who = caller(&req);
        let pb::SetPasswordRequest { user, password } = req.into_inner();
        self.service.set_password(&who, &user, &password).await?;
        ok(pb::Empty {})
    }

    async fn delete_user(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let who = caller(&req);
        let pb::ByName { name } = req.into_inner();
        self.service.delete_user(&who, &name).await?;
        ok(pb::Empty {})
    }

    async fn create_api_key(
        &self,
        req: tonic::Request<pb::CreateApiKeyRequest>,
    ) -> Resp<pb::CreatedApiKey> {
        let who = caller(&req);
        let pb::CreateApiKeyRequest {
            user,
            name,
            expires_in_seconds,
        } = req.into_inner();
        let n = self
            .service
            .create_key(&who, &user, &name, expires_in_seconds)
            .await?;
        ok(created(n))
    }

    async fn list_api_keys(
        &self,
        req: tonic::Request<pb::ListApiKeysRequest>,
    ) -> Resp<pb::ListApiKeysResponse> {
        let who = caller(&req);
        let pb::ListApiKeysRequest { user } = req.into_inner();
        let keys = self.service.keys(&who, &user)?;
        ok(pb::ListApiKeysResponse {
            keys: keys.iter().map(key_wire).collect(),
        })
    }

    async fn revoke_api_key(&self, req: tonic::Request<pb::ApiKeyRef>) -> Resp<pb::ApiKeyInfo> {
        let who = caller(&req);
        let pb::ApiKeyRef { id } = req.into_inner();
        ok(key_wire(&self.service.revoke(&who, &id).await?))
    }

    async fn create_registration_token(
        &self,
        req: tonic::Request<pb::CreateRegistrationTokenRequest>,
    ) -> Resp<pb::CreatedApiKey> {
        let who = caller(&req);
        let pb::CreateRegistrationTokenRequest {
            uses,
            expires_in_seconds,
            name,
        } = req.into_inner();
        let n = self
            .service
            .create_registration_token(&who, &name, uses, expires_in_seconds)
            .await?;
        ok(created(n))
    }
}
