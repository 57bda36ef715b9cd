//! `space.v1.Projects` and `space.v1.Channels`.

use std::sync::Arc;

use domain::model::{Channel, Project, Release};
use proto::space::v1 as pb;
use proto::space::v1::channels_server::Channels;
use proto::space::v1::projects_server::Projects;
use storage::records::{ProcessRecord, VariableSetRecord};
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};

use super::{Resp, check_name, ok, page, token};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct ProjectsApi(pub Arc<SpaceState>);

pub const DEFAULT_CHANNEL: &str = "Default";

impl SpaceState {
    pub fn channel(&self, project: &str, name: &str) -> ApiResult<Channel> {
        self.store
            .get_record::<Channel>(&key_of(&[project, name]))?
            .ok_or_else(|| ApiError::not_found("channel", format!("{project}/{name}")))
    }

    pub fn default_channel(&self, project: &str) -> ApiResult<Channel> {
        self.store
            .all_records::<Channel>(&prefix_of(&[project]))?
            .into_iter()
            .find(|c| c.is_default)
            .ok_or_else(|| ApiError::not_found("default channel of project", project))
    }
}

#[tonic::async_trait]
impl Projects for ProjectsApi {
    async fn create(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        let p = Project::try_from(req.into_inner()).map_err(ApiError::from)?;
        check_name("project", &p.name)?;
        let _g = self.0.write_lock.lock().await;
        let lifecycle = self.0.lifecycle(&p.lifecycle)?;
        let p = Project {
            lifecycle: lifecycle.name,
            ..p
        };
        let mut b = Batch::new();
        b.insert_record(&p).map_err(ApiError::from)?;
        b.insert_record(&Channel {
            project: p.name.clone(),
            name: DEFAULT_CHANNEL.into(),
            description: "Created with the project".into(),
            lifecycle: None,
            is_default: true,
        })
        .map_err(ApiError::from)?;
        b.insert_record(&ProcessRecord {
            project: p.name.clone(),
            process: Default::default(),
        })
        .map_err(ApiError::from)?;
        b.insert_record(&VariableSetRecord {
            project: p.name.clone(),
            next_id: 1,
            ..Default::default()
        })
        .map_err(ApiError::from)?;
        self.0.commit(b).map_err(|e| match e {
            StorageError::Conflict { .. } => ApiError::exists("project", &p.name),
            e => e.into(),
        })?;
        tracing::info!(project = %p.name, lifecycle = %p.lifecycle, "project created");
        ok(p.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Project> {
        ok(self.0.project(&req.into_inner().name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::PageRequest>) -> Resp<pb::ListProjectsResponse> {
        let (size, after) = page(Some(req.into_inner()))?;
        let (ps, next) = self
            .0
            .store
            .list_records::<Project>("", after.as_deref(), size)
            .map_err(ApiError::from)?;
        ok(pb::ListProjectsResponse {
            projects: ps.into_iter().map(Into::into).collect(),
            next_page_token: token(next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        let p = Project::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        let old = self.0.project(&p.name)?;
        let lifecycle = self.0.lifecycle(&p.lifecycle)?;
        let p = Project {
            name: old.name,
            lifecycle: lifecycle.name,
            remote: old.remote,
            ..p
        };
        let mut b = Batch::new();
        b.put_record(&p).map_err(ApiError::from)?;
        self.0.commit(b).map_err(ApiError::from)?;
        ok(p.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let name = req.into_inner().name;
        let _g = self.0.write_lock.lock().await;
        let p = self.0.project(&name)?;
        let prefix = prefix_of(&[&p.name]);
        let mut b = Batch::new();
        b.delete(Project::TABLE, &key_of(&[&p.name]));
        b.delete(ProcessRecord::TABLE, &key_of(&[&p.name]));
        b.delete(VariableSetRecord::TABLE, &key_of(&[&p.name]));
        for table in [Channel::TABLE, Release::TABLE] {
            for (k, _) in self
                .0
                .store
                .scan(table, &prefix, None, usize::MAX)
                .map_err(ApiError::from)?
            {
                b.delete(table, &k);
            }
        }
        // The bundles imported into a Remote Project become pending again: they can be
        // imported anew.
        if p.remote.is_some() {
            for mut rb in self
                .0
                .store
                .all_records::<domain::model::ReceivedBundle>("")
                .map_err(ApiError::from)?
            {
                if matches!(&rb.state, domain::model::BundleState::Imported { project, .. } if project.eq_ignore_ascii_case(&p.name))
                {
                    rb.state = domain::model::BundleState::Pending;
                    b.put_record(&rb).map_err(ApiError::from)?;
                }
            }
        }
        self.0.commit(b).map_err(ApiError::from)?;
        tracing::info!(project = %p.name, "project deleted with its channels, process, variables and releases");
        ok(pb::Empty {})
    }
}

pub struct ChannelsApi(pub Arc<SpaceState>);

impl ChannelsApi {
    fn check(&self, c: &Channel) -> ApiResult<Channel> {
        check_name("channel", &c.name)?;
        let p = self.0.editable_project(&c.project, "channels")?;
        let lifecycle = match &c.lifecycle {
            Some(l) => Some(self.0.lifecycle(l)?.name),
            None => None,
        };
        Ok(Channel {
            project: p.name,
            lifecycle,
            ..c.clone()
        })
    }

    /// When `c` becomes the default channel, the previous default stops being one.
    fn demote_others(&self, c: &Channel, b: &mut Batch) -> ApiResult<()> {
        if !c.is_default {
            return Ok(());
        }
        for mut other in self
            .0
            .store
            .all_records::<Channel>(&prefix_of(&[&c.project]))?
        {
            if other.is_default && !other.name.eq_ignore_ascii_case(&c.name) {
                other.is_default = false;
                b.put_record(&other)?;
            }
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Channels for ChannelsApi {
    async fn create(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        let c = Channel::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        let c = self.check(&c)?;
        let mut b = Batch::new();
        self.demote_others(&c, &mut b)?;
        b.insert_record(&c).map_err(ApiError::from)?;
        self.0.commit(b).map_err(|e| match e {
            StorageError::Conflict { .. } => {
                ApiError::exists("channel", format!("{}/{}", c.project, c.name))
            }
            e => e.into(),
        })?;
        ok(c.into())
    }

    async fn get(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Channel> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        ok(self.0.channel(&project, &name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::ListChannelsResponse> {
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let p_rec = self.0.project(&project)?;
        let (size, after) = page(p)?;
        let (cs, next) = self
            .0
            .store
            .list_records::<Channel>(&prefix_of(&[&p_rec.name]), after.as_deref(), size)
            .map_err(ApiError::from)?;
        ok(pb::ListChannelsResponse {
            channels: cs.into_iter().map(Into::into).collect(),
            next_page_token: token(next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        let c = Channel::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        let old = self.0.channel(&c.project, &c.name)?;
        if old.is_default && !c.is_default {
            return Err(ApiError::Precondition(format!(
                "channel '{}' is the default of project '{}': make another channel the default instead",
                old.name, old.project
            ))
            .into());
        }
        let c = self.check(&Channel {
            name: old.name,
            ..c
        })?;
        let mut b = Batch::new();
        self.demote_others(&c, &mut b)?;
        b.put_record(&c).map_err(ApiError::from)?;
        self.0.commit(b).map_err(ApiError::from)?;
        ok(c.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        let c = self.0.channel(&project, &name)?;
        if c.is_default {
            return Err(ApiError::Precondition(format!(
                "channel '{}' is the default of project '{}' and cannot be deleted",
                c.name, c.project
            ))
            .into());
        }
        let mut b = Batch::new();
        b.delete(Channel::TABLE, &key_of(&[&c.project, &c.name]));
        self.0.commit(b).map_err(ApiError::from)?;
        ok(pb::Empty {})
    }
}
