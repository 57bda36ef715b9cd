//! `space.v1.Packages`: converts and calls [`PackageService`]; turns the upload stream into
//! pieces of bytes and a package reader into download messages.

use std::io::Read;
use std::pin::Pin;

use domain::error::ErrorCode;
use futures::{Stream, StreamExt};
use proto::space::v1 as pb;
use proto::space::v1::packages_server::Packages;
use runtime::status::refuse;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::packages::{FeedStats, PackageService, UploadHeader, Uploaded};

/// Size of the data messages of a download.
const DOWNLOAD_PIECE: usize = 1024 * 1024;

pub struct PackagesApi {
    pub service: PackageService,
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadChunk, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Packages for PackagesApi {
    async fn upload(
        &self,
        req: tonic::Request<tonic::Streaming<pb::UploadRequest>>,
    ) -> Resp<pb::PackageManifest> {
        let mut stream = req.into_inner();
        let header = match stream.message().await? {
            Some(pb::UploadRequest {
                part: Some(pb::upload_request::Part::Header(h)),
            }) => {
                let pb::UploadHeader {
                    file_name,
                    id,
                    version,
                    size,
                    replace,
                } = h;
                UploadHeader {
                    file_name,
                    id,
                    version,
                    size,
                    replace,
                }
            }
            _ => {
                return Err(ApiError::Invalid(
                    "an upload must start with its header (file name, id, version)".into(),
                )
                .into());
            }
        };
        let data = stream.map(|m| match m {
            Ok(pb::UploadRequest {
                part: Some(pb::upload_request::Part::Data(bytes)),
            }) => Ok(bytes),
            Ok(_) => Err(ApiError::Invalid(
                "only the first message of an upload may be a header".into(),
            )),
            Err(s) => Err(ApiError::Invalid(format!(
                "the upload was interrupted: {}",
                s.message()
            ))),
        });
        let Uploaded {
            manifest,
            new_bytes,
        } = self.service.upload(header, data).await?;
        let mut out: pb::PackageManifest = manifest.into();
        out.new_bytes_stored = new_bytes;
        ok(out)
    }

    async fn get(&self, req: tonic::Request<pb::PackageRef>) -> Resp<pb::PackageManifest> {
        let pb::PackageRef { id, version } = req.into_inner();
        ok(self.service.get(&id, &version)?.into())
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListPackagesRequest>,
    ) -> Resp<pb::ListPackagesResponse> {
        let pb::ListPackagesRequest { id, page: p } = req.into_inner();
        let l = self.service.list(&id, page(p)?)?;
        ok(pb::ListPackagesResponse {
            // A list answers without the chunk lists (chunk_count says how many).
            packages: l
                .items
                .into_iter()
                .map(|m| pb::PackageManifest {
                    chunks: Vec::new(),
                    ..m.into()
                })
                .collect(),
            next_page_token: token(l.next),
        })
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, req: tonic::Request<pb::PackageRef>) -> Resp<DownloadStream> {
        let pb::PackageRef { id, version } = req.into_inner();
        let (manifest, mut reader) = self.service.open(&id, &version)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::DownloadChunk, tonic::Status>>(4);
        let head = pb::DownloadChunk {
            part: Some(pb::download_chunk::Part::Manifest(manifest.clone().into())),
        };
        tokio::task::spawn_blocking(move || {
            if tx.blocking_send(Ok(head)).is_err() {
                return;
            }
            loop {
                let mut buf = vec![0u8; DOWNLOAD_PIECE];
                let mut filled = 0;
                while filled < buf.len() {
                    match reader.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            tracing::error!(package = %manifest.id, version = %manifest.version, error = %e, "package cannot be read back from the store");
                            let _ = tx.blocking_send(Err(refuse(
                                ErrorCode::FailedPrecondition,
                                format!(
                                    "package {} {} is damaged in the store: {e}",
                                    manifest.id, manifest.version
                                ),
                            )));
                            return;
                        }
                    }
                }
                if filled == 0 {
                    return;
                }
                buf.truncate(filled);
                let msg = pb::DownloadChunk {
                    part: Some(pb::download_chunk::Part::Data(buf)),
                };
                if tx.blocking_send(Ok(msg)).is_err() {
                    return;
                }
            }
        });
        ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn delete(&self, req: tonic::Request<pb::PackageRef>) -> Resp<pb::Empty> {
        let pb::PackageRef { id, version } = req.into_inner();
        self.service.delete(&id, &version).await?;
        ok(pb::Empty {})
    }

    async fn collect_garbage(
        &self,
        req: tonic::Request<pb::CollectGarbageRequest>,
    ) -> Resp<pb::CollectGarbageResponse> {
        let who = runtime::auth::caller(&req).name;
        let pb::CollectGarbageRequest {
            dry_run,
            min_age_hours,
        } = req.into_inner();
        let min_age = std::time::Duration::from_secs(u64::from(min_age_hours) * 3600);
        let package_store::GcReport {
            removed,
            freed_bytes,
            packs_rewritten,
            damaged,
        } = self.service.collect_garbage(dry_run, min_age, &who).await?;
        ok(pb::CollectGarbageResponse {
            chunks: removed,
            freed_bytes,
            packs_rewritten,
            damaged,
        })
    }

    async fn stats(&self, _req: tonic::Request<pb::Empty>) -> Resp<pb::StoreStats> {
        let FeedStats { store, packages } = self.service.stats().await?;
        ok(pb::StoreStats {
            chunk_count: store.chunk_count,
            stored_bytes: store.stored_bytes,
            pack_files: store.pack_files,
            pack_bytes: store.pack_bytes,
            package_count: packages,
        })
    }
}
