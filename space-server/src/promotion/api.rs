//! `space.v1.Promotion`: the gRPC edge of promotion by file. Files travel as streams of pieces;
//! everything else is in the sibling modules.

use domain::error::ErrorCode;
use runtime::status::refuse;

use proto::space::v1 as pb;
use proto::space::v1::promotion_server::Promotion;
use proto::wire::timestamp;
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;

use super::api_wire::{Out, PIECE, bundle_detail, bundle_summary, missing_wire, send_bytes};
use super::service::{ImportOutcome, PromotionService, Sent};
use super::{bundles, packages, receipts};
use crate::api::{Resp, ok};
use crate::auth::caller;
use crate::error::ApiError;
use crate::permits::{self, Viewer};
use domain::access::Permission;

/// The promotion service, and the largest transfer archive accepted (bytes; 4x the package
/// limit).
pub struct PromotionApi {
    pub service: PromotionService,
    /// The largest transfer archive accepted, in bytes.
    pub max_archive: u64,
}

/// The Remote Project a received bundle's release goes into.
fn bundle_project(
    state: &crate::state::SpaceState,
    rec: &domain::model::ReceivedBundle,
) -> Result<String, ApiError> {
    Ok(super::import::local_project(
        &bundles::load(state, rec, false)?.contents,
    ))
}

impl PromotionApi {
    /// The caller may promote `project` to `to_space` (`permits::require_promote`).
    pub(super) fn may_promote<T>(
        &self,
        req: &tonic::Request<T>,
        project: &str,
        to_space: &str,
    ) -> Result<(), ApiError> {
        let caller = crate::auth::caller(req);
        permits::require_promote(&self.service.engine.state, &caller, project, to_space)
    }

    /// The caller may import (or fetch the packages of) bundle `id`: import-bundles in the
    /// Remote Project it goes into.
    fn may_import<T>(&self, req: &tonic::Request<T>, id: &str) -> Result<(), ApiError> {
        let state = &self.service.engine.state;
        let project = bundle_project(state, &bundles::find(state, id)?)?;
        permits::may(state, req, Permission::ImportBundles, &project)
    }
}

#[tonic::async_trait]
impl Promotion for PromotionApi {
    type PromoteStream = Out<pb::PromoteResponse>;
    type InventoryStream = Out<pb::FileData>;
    type ExportPackagesStream = Out<pb::ExportPackagesResponse>;
    type ExportReceiptsStream = Out<pb::ExportReceiptsResponse>;

    async fn promote(&self, req: tonic::Request<pb::PromoteRequest>) -> Resp<Self::PromoteStream> {
        let r = req.get_ref();
        self.may_promote(&req, &r.project, &r.to_space)?;
        let who = caller(&req).name;
        let pb::PromoteRequest {
            project,
            version,
            to_space,
            push,
        } = req.into_inner();
        let Sent {
            promoted: p, state, ..
        } = self
            .service
            .promote(project, version, to_space, push, who)
            .await?;
        let c = &p.bundle.contents;
        let first = pb::PromoteResponse {
            part: Some(pb::promote_response::Part::Summary(pb::BundleSummary {
                id: c.bundle_id.clone(),
                digest: p.bundle.digest.clone(),
                source_space: c.source_space.clone(),
                target_space: c.target_space.clone(),
                project: c.project.name.clone(),
                version: c.release.version.clone(),
                state: state.into(),
                created_at: Some(timestamp(c.created_at)),
                added_at: None,
                variables: c.variables.len() as u32,
                sensitive: c.variables.iter().filter(|v| v.is_sensitive()).count() as u32,
                packages: c.packages.len() as u32,
                packages_missing: 0,
                schema: p.bundle.schema.to_string(),
                bytes: p.bytes.len() as u64,
                fetch: None,
            })),
        };
        if push {
            return ok(send_bytes(Some(first), Vec::new(), |d| {
                pb::PromoteResponse {
                    part: Some(pb::promote_response::Part::Data(d)),
                }
            }));
        }
        ok(send_bytes(Some(first), p.bytes, |d| pb::PromoteResponse {
            part: Some(pb::promote_response::Part::Data(d)),
        }))
    }

    async fn add_bundle(
        &self,
        req: tonic::Request<tonic::Streaming<pb::FileData>>,
    ) -> Resp<pb::BundleSummary> {
        let who = caller(&req).name;
        let bytes = super::collect(req.into_inner(), "bundle file").await?;
        let rec = self.service.add_bundle(bytes, who).await?;
        ok(bundle_summary(&self.service.engine.state, &rec))
    }

    async fn list_bundles(
        &self,
        req: tonic::Request<pb::PageRequest>,
    ) -> Resp<pb::ListBundlesResponse> {
        let state = &self.service.engine.state;
        let viewer = Viewer::of(state, &req)?;
        let l = self
            .service
            .bundles(crate::api::page(Some(req.into_inner()))?)
            .await?;
        ok(pb::ListBundlesResponse {
            bundles: l
                .items
                .iter()
                .filter(|b| bundle_project(state, b).is_ok_and(|p| viewer.sees_project(&p)))
                .map(|b| bundle_summary(state, b))
                .collect(),
            next_page_token: crate::api::token(l.next),
        })
    }

    async fn get_bundle(&self, req: tonic::Request<pb::BundleRef>) -> Resp<pb::BundleDetail> {
        let state = &self.service.engine.state;
        let rec = bundles::find(state, &req.get_ref().id)?;
        let v = bundles::load(state, &rec, false)?;
        Viewer::of(state, &req)?.check_project(&super::import::local_project(&v.contents))?;
        ok(bundle_detail(state, &rec, v))
    }

    async fn import_bundle(
        &self,
        req: tonic::Request<pb::ImportBundleRequest>,
    ) -> Resp<pb::ImportBundleResponse> {
        self.may_import(&req, &req.get_ref().id)?;
        let who = caller(&req).name;
        let pb::ImportBundleRequest { id, lifecycle } = req.into_inner();
        let ImportOutcome { imported, missing } =
            self.service.import_bundle(&id, &lifecycle, &who).await?;
        ok(pb::ImportBundleResponse {
            project: imported.release.project,
            version: imported.release.version,
            lifecycle: imported.lifecycle,
            project_created: imported.project_created,
            missing: missing_wire(missing),
        })
    }

    async fn inventory(&self, _req: tonic::Request<pb::Empty>) -> Resp<Self::InventoryStream> {
        let bytes = packages::inventory(&self.service.engine.state).await?;
        ok(send_bytes(None, bytes, |data| pb::FileData { data }))
    }

    async fn export_packages(
        &self,
        req: tonic::Request<tonic::Streaming<pb::ExportPackagesRequest>>,
    ) -> Resp<Self::ExportPackagesStream> {
        use pb::export_packages_request::Part;
        let mut input = req.into_inner();
        let (mut bundle, mut inventory) = (Vec::new(), None::<Vec<u8>>);
        while let Some(m) = input.next().await {
            let m = m.map_err(|s| {
                ApiError::Invalid(format!("receiving the request: {}", s.message()))
            })?;
            match m.part {
                Some(Part::Bundle(b)) => bundle.extend_from_slice(&b),
                Some(Part::Inventory(i)) => {
                    inventory.get_or_insert_with(Vec::new).extend_from_slice(&i)
                }
                None => {}
            }
            if bundle.len() + inventory.as_ref().map_or(0, Vec::len) > 2 * super::MAX_FILE {
                return Err(
                    ApiError::Invalid("the bundle and inventory are too large".into()).into(),
                );
            }
        }
        let (tmp, stats, package_bytes) =
            packages::export(&self.service.engine.state, bundle, inventory).await?;
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<pb::ExportPackagesResponse, tonic::Status>>(4);
        tokio::spawn(async move {
            use pb::export_packages_response::Part as P;
            use tokio::io::AsyncReadExt;
            let tmp = tmp;
            let mut f = match tokio::fs::File::open(&tmp.0).await {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx
                        .send(Err(refuse(ErrorCode::Internal, e.to_string())))
                        .await;
                    return;
                }
            };
            let mut buf = vec![0u8; PIECE];
            loop {
                match f.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        let m = pb::ExportPackagesResponse {
                            part: Some(P::Data(buf[..n].to_vec())),
                        };
                        if tx.send(Ok(m)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(refuse(ErrorCode::Internal, e.to_string())))
                            .await;
                        return;
                    }
                }
            }
            let _ = tx
                .send(Ok(pb::ExportPackagesResponse {
                    part: Some(P::Summary(pb::ExportSummary {
                        chunks: stats.chunks,
                        deltas: stats.deltas,
                        skipped: stats.skipped,
                        bytes: stats.bytes,
                        package_bytes,
                    })),
                }))
                .await;
        });
        ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn import_packages(
        &self,
        req: tonic::Request<tonic::Streaming<pb::FileData>>,
    ) -> Resp<pb::ImportPackagesResponse> {
        let state = &self.service.engine.state;
        let tmp = packages::upload_target(state)?;
        let mut f = tokio::fs::File::create(&tmp.0)
            .await
            .map_err(|e| ApiError::Internal(format!("cannot create {}: {e}", tmp.0.display())))?;
        let mut input = req.into_inner();
        let mut got = 0u64;
        while let Some(m) = input.next().await {
            let m = m.map_err(|s| {
                ApiError::Invalid(format!("receiving the archive: {}", s.message()))
            })?;
            got += m.data.len() as u64;
            if got > self.max_archive {
                return Err(ApiError::Invalid(format!(
                    "the transfer archive is larger than this Space accepts ({} bytes: 4 x SPACE_MAX_PACKAGE_BYTES); split the promotion or raise the limit",
                    self.max_archive
                ))
                .into());
            }
            f.write_all(&m.data).await.map_err(|e| {
                ApiError::Internal(format!("cannot write {}: {e}", tmp.0.display()))
            })?;
        }
        f.flush()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        drop(f);
        if got == 0 {
            return Err(ApiError::Invalid("the transfer archive is empty".into()).into());
        }
        let s = packages::import(state, &tmp.0).await?;
        ok(pb::ImportPackagesResponse {
            chunks: s.chunks,
            new_chunks: s.new_chunks,
        })
    }

    async fn missing_variables(
        &self,
        req: tonic::Request<pb::ReleaseRef>,
    ) -> Resp<pb::MissingVariablesResponse> {
        Viewer::of(&self.service.engine.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::ReleaseRef { project, version } = req.into_inner();
        let m = self.service.missing(&project, &version)?;
        ok(pb::MissingVariablesResponse {
            missing: missing_wire(m),
        })
    }

    async fn export_receipts(
        &self,
        req: tonic::Request<pb::ExportReceiptsRequest>,
    ) -> Resp<Self::ExportReceiptsStream> {
        let who = caller(&req).name;
        let pb::ExportReceiptsRequest {
            space,
            all,
            from_deployment,
            to_deployment,
            push,
        } = req.into_inner();
        let select = receipts::Selection {
            all,
            range: (from_deployment > 0 || to_deployment > 0)
                .then_some((from_deployment, to_deployment)),
        };
        use pb::export_receipts_response::Part;
        if push {
            // Nothing waiting is not an error: the count says 0.
            let d = self.service.deliver_pending(&space, select, &who).await?;
            let first = pb::ExportReceiptsResponse {
                part: Some(Part::Count(d.map_or(0, |d| d.count) as u32)),
            };
            return ok(send_bytes(Some(first), Vec::new(), |d| {
                pb::ExportReceiptsResponse {
                    part: Some(Part::Data(d)),
                }
            }));
        }
        let (n, bytes) = receipts::export(&self.service.engine.state, &space, select, &who).await?;
        let first = pb::ExportReceiptsResponse {
            part: Some(Part::Count(n as u32)),
        };
        ok(send_bytes(Some(first), bytes, |d| {
            pb::ExportReceiptsResponse {
                part: Some(Part::Data(d)),
            }
        }))
    }

    async fn fetch_bundle_packages(
        &self,
        req: tonic::Request<pb::BundleRef>,
    ) -> Resp<pb::FetchBundlePackagesResponse> {
        self.may_import(&req, &req.get_ref().id)?;
        let f = super::fetch::fetch(&self.service.engine.state, &req.into_inner().id).await?;
        ok(pb::FetchBundlePackagesResponse {
            chunks_fetched: f.chunks,
            bytes_fetched: f.bytes,
            chunks_missing: f.missing as u32,
            chunks_as_deltas: f.deltas,
        })
    }

    async fn import_receipts(
        &self,
        req: tonic::Request<tonic::Streaming<pb::FileData>>,
    ) -> Resp<pb::ImportReceiptsResponse> {
        let who = caller(&req).name;
        let bytes = super::collect(req.into_inner(), "receipts file").await?;
        // Applying a file again is not an error: it changes nothing (applied 0).
        let a = self.service.import_receipts(&bytes, &who).await?;
        ok(pb::ImportReceiptsResponse {
            from_space: a.from_space,
            applied: a.applied as u32,
            already_applied: a.already as u32,
            environments: a.environments,
        })
    }

    async fn list_received_results(
        &self,
        req: tonic::Request<pb::PageRequest>,
    ) -> Resp<pb::ListReceivedResultsResponse> {
        super::api_auto::list_received_results(self, req).await
    }

    async fn list_promotions(
        &self,
        req: tonic::Request<pb::ListPromotionsRequest>,
    ) -> Resp<pb::ListPromotionsResponse> {
        super::api_auto::list_promotions(self, req).await
    }

    async fn queue_promotion(
        &self,
        req: tonic::Request<pb::QueuePromotionRequest>,
    ) -> Resp<pb::PromotionJob> {
        super::api_auto::queue_promotion(self, req).await
    }

    async fn cancel_promotion(&self, req: tonic::Request<pb::PromotionJobRef>) -> Resp<pb::Empty> {
        super::api_auto::cancel_promotion(self, req).await
    }

    async fn set_auto_import(
        &self,
        req: tonic::Request<pb::AutoImportRule>,
    ) -> Resp<pb::AutoImportRule> {
        super::api_auto::set_auto_import(self, req).await
    }

    async fn list_auto_imports(
        &self,
        req: tonic::Request<pb::Empty>,
    ) -> Resp<pb::ListAutoImportsResponse> {
        super::api_auto::list_auto_imports(self, req).await
    }

    async fn delete_auto_import(&self, req: tonic::Request<pb::AutoImportRule>) -> Resp<pb::Empty> {
        super::api_auto::delete_auto_import(self, req).await
    }
}

impl PromotionApi {
    pub(super) fn auto_import(&self) -> crate::automation::import::AutoImportService {
        crate::automation::import::AutoImportService {
            state: self.service.engine.state.clone(),
        }
    }
}
