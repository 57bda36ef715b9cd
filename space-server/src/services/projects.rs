//! Projects (with their default channel, empty process and variable set) and channels.

use std::sync::Arc;

use domain::model::{BundleState, Channel, Project, ReceivedBundle, Release};
use storage::records::{ProcessRecord, VariableSetRecord};
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};

use super::{Listed, Page, check_name};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

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

pub struct ProjectService {
    pub state: Arc<SpaceState>,
}

impl ProjectService {
    /// Creates the project with its default channel, an empty process and variable set.
    pub async fn create(&self, p: Project) -> ApiResult<Project> {
        check_name("project", &p.name)?;
        let p = self
            .state
            .commit_guarded(|| self.create_plan(&p))
            .await
            .map_err(|e| match e {
                ApiError::Storage(StorageError::Conflict { .. }) => {
                    ApiError::exists("project", &p.name)
                }
                e => e,
            })?;
        tracing::info!(project = %p.name, lifecycle = %p.lifecycle, "project created");
        Ok(p)
    }

    fn create_plan(&self, p: &Project) -> ApiResult<(Batch, Project)> {
        let lifecycle = self.state.lifecycle(&p.lifecycle)?;
        let p = Project {
            lifecycle: lifecycle.name,
            ..p.clone()
        };
        let mut b = Batch::new();
        b.insert_record(&p)?;
        b.insert_record(&Channel {
            project: p.name.clone(),
            name: DEFAULT_CHANNEL.into(),
            description: "Created with the project".into(),
            lifecycle: None,
            is_default: true,
        })?;
        b.insert_record(&ProcessRecord {
            project: p.name.clone(),
            process: Default::default(),
        })?;
        b.insert_record(&VariableSetRecord {
            project: p.name.clone(),
            next_id: 1,
            ..Default::default()
        })?;
        Ok((b, p))
    }

    pub fn get(&self, name: &str) -> ApiResult<Project> {
        self.state.project(name)
    }

    pub fn list(&self, page: Page) -> ApiResult<Listed<Project>> {
        let (items, next) =
            self.state
                .store
                .list_records::<Project>("", page.after.as_deref(), page.size)?;
        Ok(Listed { items, next })
    }

    /// Changes description and lifecycle; the name and a Remote Project's origin stay.
    pub async fn update(&self, p: Project) -> ApiResult<Project> {
        self.state
            .commit_guarded(|| {
                let old = self.state.project(&p.name)?;
                let lifecycle = self.state.lifecycle(&p.lifecycle)?;
                let p = Project {
                    name: old.name,
                    lifecycle: lifecycle.name,
                    remote: old.remote,
                    ..p.clone()
                };
                let mut b = Batch::new();
                b.put_record(&p)?;
                Ok((b, p))
            })
            .await
    }

    /// Deletes the project with its channels, process, variables and releases; the bundles
    /// imported into a Remote Project become pending again (they can be imported anew).
    pub async fn delete(&self, name: &str) -> ApiResult<()> {
        let p = self.state.commit_guarded(|| self.delete_plan(name)).await?;
        tracing::info!(project = %p.name, "project deleted with its channels, process, variables and releases");
        Ok(())
    }

    fn delete_plan(&self, name: &str) -> ApiResult<(Batch, Project)> {
        let p = self.state.project(name)?;
        let prefix = prefix_of(&[&p.name]);
        let mut b = Batch::new();
        b.delete(Project::TABLE, &key_of(&[&p.name]));
        b.delete(ProcessRecord::TABLE, &key_of(&[&p.name]));
        b.delete(VariableSetRecord::TABLE, &key_of(&[&p.name]));
        for table in [Channel::TABLE, Release::TABLE] {
            for (k, _) in self.state.store.scan(table, &prefix, None, usize::MAX)? {
                b.delete(table, &k);
            }
        }
        if p.remote.is_some() {
            for mut rb in self.state.store.all_records::<ReceivedBundle>("")? {
                if matches!(&rb.state, BundleState::Imported { project, .. } if project.eq_ignore_ascii_case(&p.name))
                {
                    rb.state = BundleState::Pending;
                    crate::promotion::index::put_bundle(&mut b, &rb, false)?;
                }
            }
        }
        Ok((b, p))
    }
}

pub struct ChannelService {
    pub state: Arc<SpaceState>,
}

impl ChannelService {
    fn check(&self, c: &Channel) -> ApiResult<Channel> {
        check_name("channel", &c.name)?;
        let p = self.state.editable_project(&c.project, "channels")?;
        let lifecycle = match &c.lifecycle {
            Some(l) => Some(self.state.lifecycle(l)?.name),
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
            .state
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

    pub async fn create(&self, c: Channel) -> ApiResult<Channel> {
        self.state
            .commit_guarded(|| {
                let c = self.check(&c)?;
                let mut b = Batch::new();
                self.demote_others(&c, &mut b)?;
                b.insert_record(&c)?;
                Ok((b, c))
            })
            .await
            .map_err(|e| match e {
                ApiError::Storage(StorageError::Conflict { .. }) => {
                    ApiError::exists("channel", format!("{}/{}", c.project, c.name))
                }
                e => e,
            })
    }

    pub fn get(&self, project: &str, name: &str) -> ApiResult<Channel> {
        self.state.channel(project, name)
    }

    pub fn list(&self, project: &str, page: Page) -> ApiResult<Listed<Channel>> {
        let p = self.state.project(project)?;
        let (items, next) = self.state.store.list_records::<Channel>(
            &prefix_of(&[&p.name]),
            page.after.as_deref(),
            page.size,
        )?;
        Ok(Listed { items, next })
    }

    /// The default channel stays the default until another one becomes it.
    pub async fn update(&self, c: Channel) -> ApiResult<Channel> {
        self.state.commit_guarded(|| self.update_plan(&c)).await
    }

    fn update_plan(&self, c: &Channel) -> ApiResult<(Batch, Channel)> {
        let old = self.state.channel(&c.project, &c.name)?;
        if old.is_default && !c.is_default {
            return Err(ApiError::Precondition(format!(
                "channel '{}' is the default of project '{}': make another channel the default instead",
                old.name, old.project
            )));
        }
        let c = self.check(&Channel {
            name: old.name,
            ..c.clone()
        })?;
        let mut b = Batch::new();
        self.demote_others(&c, &mut b)?;
        b.put_record(&c)?;
        Ok((b, c))
    }

    pub async fn delete(&self, project: &str, name: &str) -> ApiResult<()> {
        self.state
            .commit_guarded(|| {
                let c = self.state.channel(project, name)?;
                if c.is_default {
                    return Err(ApiError::Precondition(format!(
                        "channel '{}' is the default of project '{}' and cannot be deleted",
                        c.name, c.project
                    )));
                }
                let mut b = Batch::new();
                b.delete(Channel::TABLE, &key_of(&[&c.project, &c.name]));
                Ok((b, ()))
            })
            .await
    }
}
