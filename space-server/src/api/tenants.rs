//! `space.v1.Tenants`: converts and calls [`TenantService`].

use domain::model::{Tenant, TenantProject};
use proto::space::v1 as pb;
use proto::space::v1::tenants_server::Tenants;

use super::{Resp, ok};
use crate::error::ApiError;
use crate::permits::Viewer;
use crate::services::tenants::TenantService;

pub struct TenantsApi {
    pub service: TenantService,
}

fn wire(t: Tenant) -> pb::Tenant {
    let Tenant {
        name,
        description,
        tags,
        projects,
        created_at: _,
    } = t;
    pb::Tenant {
        name,
        description,
        tags,
        projects: projects
            .into_iter()
            .map(|p| pb::TenantProject {
                project: p.project,
                environments: p.environments,
            })
            .collect(),
    }
}

fn domain(t: pb::Tenant) -> Tenant {
    let pb::Tenant {
        name,
        description,
        tags,
        projects,
    } = t;
    Tenant {
        name,
        description,
        tags,
        projects: projects
            .into_iter()
            .map(|p| {
                let pb::TenantProject {
                    project,
                    environments,
                } = p;
                TenantProject {
                    project,
                    environments,
                }
            })
            .collect(),
        created_at: 0,
    }
}

#[tonic::async_trait]
impl Tenants for TenantsApi {
    async fn create(&self, req: tonic::Request<pb::Tenant>) -> Resp<pb::Tenant> {
        ok(wire(self.service.create(domain(req.into_inner())).await?))
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Tenant> {
        let t = self.service.get(&req.get_ref().name)?;
        if !Viewer::of(&self.service.state, &req)?.sees_tenant(&t.name) {
            return Err(ApiError::not_found("tenant", &t.name).into());
        }
        ok(wire(t))
    }

    async fn list(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::ListTenantsResponse> {
        let viewer = Viewer::of(&self.service.state, &req)?;
        ok(pb::ListTenantsResponse {
            tenants: self
                .service
                .list()?
                .into_iter()
                .filter(|t| viewer.sees_tenant(&t.name))
                .map(wire)
                .collect(),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Tenant>) -> Resp<pb::Tenant> {
        ok(wire(self.service.update(domain(req.into_inner())).await?))
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }
}
