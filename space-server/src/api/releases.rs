//! `space.v1.Releases`: converts and calls [`ReleaseService`].

use proto::space::v1 as pb;
use proto::space::v1::releases_server::Releases;
use proto::wire::release_to_wire;

use super::{Resp, ok, page, token};
use crate::auth::caller;
use crate::permits::Viewer;
use crate::services::releases::{NewRelease, PackageRequest, ReleaseService};

pub struct ReleasesApi {
    pub service: ReleaseService,
}

#[tonic::async_trait]
impl Releases for ReleasesApi {
    async fn create(&self, req: tonic::Request<pb::CreateReleaseRequest>) -> Resp<pb::Release> {
        crate::permits::may(
            &self.service.state,
            &req,
            domain::access::Permission::CreateRelease,
            &req.get_ref().project,
        )?;
        let who = caller(&req).name;
        let pb::CreateReleaseRequest {
            project,
            version,
            channel,
            notes,
            packages,
        } = req.into_inner();
        let packages = packages
            .into_iter()
            .map(|p| {
                let pb::PackageRef { id, version } = p;
                PackageRequest { id, version }
            })
            .collect();
        let new = NewRelease {
            project,
            version,
            channel,
            notes,
            packages,
        };
        ok(release_to_wire(self.service.create(new, who).await?))
    }

    async fn get(&self, req: tonic::Request<pb::ReleaseRef>) -> Resp<pb::Release> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::ReleaseRef { project, version } = req.into_inner();
        ok(release_to_wire(self.service.get(&project, &version)?))
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::ListReleasesResponse> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let l = self.service.list(&project, page(p)?)?;
        ok(pb::ListReleasesResponse {
            releases: l.items.into_iter().map(release_to_wire).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn compare(&self, req: tonic::Request<pb::CompareRequest>) -> Resp<pb::CompareResponse> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::CompareRequest {
            project,
            from_version,
            to_version,
        } = req.into_inner();
        let c = self.service.compare(&project, &from_version, &to_version)?;
        ok(proto::wire::comparison_to_wire(c))
    }

    async fn delete(&self, req: tonic::Request<pb::ReleaseRef>) -> Resp<pb::Empty> {
        crate::permits::may(
            &self.service.state,
            &req,
            domain::access::Permission::CreateRelease,
            &req.get_ref().project,
        )?;
        let pb::ReleaseRef { project, version } = req.into_inner();
        self.service.delete(&project, &version).await?;
        ok(pb::Empty {})
    }
}
