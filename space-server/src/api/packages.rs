//! `space.v1.Packages`: the built-in package feed over the content-addressed chunk store.
//! Uploads stream to a temporary file, are validated as archives, then chunked into the store;
//! the manifest record is written last, so an interrupted upload never appears.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;

use domain::model::Release;
use futures::Stream;
use package_store::{
    ArchiveFormat, PackageManifest, PackageReader, format_from_file_name, ingest, parse_file_name,
    validate_archive, validate_id, validate_stream, validate_version,
};
use proto::space::v1 as pb;
use proto::space::v1::packages_server::Packages;
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};
use tokio::io::AsyncWriteExt;

use super::{Resp, ok, page, token};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// Size of the data messages of a download.
const DOWNLOAD_PIECE: usize = 1024 * 1024;

/// The package feed; the second field is the largest upload accepted, in bytes.
pub struct PackagesApi(pub Arc<SpaceState>, pub u64);

impl SpaceState {
    pub fn package(&self, id: &str, version: &str) -> ApiResult<PackageManifest> {
        self.store
            .get_record::<PackageManifest>(&key_of(&[id, version]))?
            .ok_or_else(|| ApiError::not_found("package", format!("{id} {version}")))
    }

    /// Every version of package `id`, newest first.
    pub fn package_versions(&self, id: &str) -> ApiResult<Vec<PackageManifest>> {
        let mut v = self
            .store
            .all_records::<PackageManifest>(&prefix_of(&[id]))?;
        v.sort_by(|a, b| domain::compare::compare_versions(&b.version, &a.version));
        Ok(v)
    }
}

/// Reads the bytes of an upload as they arrive (for validation on a blocking thread).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            rx,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn header_identity(
    h: &pb::UploadHeader,
) -> ApiResult<(String, String, package_store::ArchiveFormat)> {
    let name = h.file_name.trim();
    let format = format_from_file_name(name)?;
    let (id, version) = if h.id.trim().is_empty() || h.version.trim().is_empty() {
        let (id, version, _) = parse_file_name(name)?;
        (
            if h.id.trim().is_empty() {
                id
            } else {
                h.id.trim().to_string()
            },
            if h.version.trim().is_empty() {
                version
            } else {
                h.version.trim().to_string()
            },
        )
    } else {
        (h.id.trim().to_string(), h.version.trim().to_string())
    };
    validate_id(&id)?;
    validate_version(&version)?;
    Ok((id, version, format))
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
            }) => h,
            _ => {
                return Err(ApiError::Invalid(
                    "an upload must start with its header (file name, id, version)".into(),
                )
                .into());
            }
        };
        let (id, version, format) = header_identity(&header)?;
        if !header.replace && self.0.package(&id, &version).is_ok() {
            return Err(ApiError::Precondition(format!(
                "package {id} version {version} is already in the feed; upload with --replace to overwrite it"
            ))
            .into());
        }
        if header.size > self.1 {
            return Err(ApiError::Invalid(format!(
                "package {id} {version} is {} bytes, larger than this Space accepts ({} bytes, max_package_bytes)",
                header.size, self.1
            ))
            .into());
        }
        let tmp = tempfile::NamedTempFile::new_in(self.0.tmp_dir())
            .map_err(|e| ApiError::Internal(format!("cannot create upload file: {e}")))?;
        let std_file = tmp
            .reopen()
            .map_err(|e| ApiError::Internal(format!("cannot open upload file: {e}")))?;
        let mut file =
            tokio::io::BufWriter::with_capacity(1024 * 1024, tokio::fs::File::from_std(std_file));
        let mut received: u64 = 0;
        // A .tar.gz is validated while it arrives; a zip (index at the end) once it is on disk.
        let (vtx, validation) = if format == ArchiveFormat::TarGz {
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
            let task = tokio::task::spawn_blocking(move || {
                validate_stream(ChannelReader::new(rx), ArchiveFormat::TarGz)
            });
            (Some(tx), Some(task))
        } else {
            (None, None)
        };
        let mut validation = validation;
        while let Some(msg) = stream.message().await? {
            match msg.part {
                Some(pb::upload_request::Part::Data(bytes)) => {
                    received += bytes.len() as u64;
                    if received > self.1 {
                        return Err(ApiError::Invalid(format!(
                            "upload of {id} {version} is larger than this Space accepts ({} bytes, max_package_bytes); nothing was stored",
                            self.1
                        ))
                        .into());
                    }
                    if header.size > 0 && received > header.size {
                        return Err(ApiError::Invalid(format!(
                            "upload of {id} {version} sent more than the {} bytes it declared; nothing was stored",
                            header.size
                        ))
                        .into());
                    }
                    if let Some(tx) = &vtx
                        && tx.send(bytes.clone()).await.is_err()
                        && let Some(task) = validation.take()
                    {
                        // The validator stopped before the end: the archive is bad.
                        task.await
                            .map_err(|e| ApiError::Internal(e.to_string()))?
                            .map_err(ApiError::from)?;
                        return Err(ApiError::Invalid(
                            "the archive ended before the upload did".into(),
                        )
                        .into());
                    }
                    file.write_all(&bytes)
                        .await
                        .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))?;
                }
                _ => {
                    return Err(ApiError::Invalid(
                        "only the first message of an upload may be a header".into(),
                    )
                    .into());
                }
            }
        }
        file.flush()
            .await
            .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))?;
        drop(file);
        if header.size > 0 && received != header.size {
            return Err(ApiError::Invalid(format!(
                "upload of {id} {version} ended after {received} of {} bytes; nothing was stored",
                header.size
            ))
            .into());
        }
        drop(vtx);
        if let Some(task) = validation {
            task.await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(ApiError::from)?;
        }
        let chunks = self.0.chunks.clone();
        let path = tmp.path().to_path_buf();
        let ingested = tokio::task::spawn_blocking(move || -> ApiResult<_> {
            if format != ArchiveFormat::TarGz {
                validate_archive(&path, format)?;
            }
            let f = std::fs::File::open(&path)
                .map_err(|e| ApiError::Internal(format!("cannot read upload: {e}")))?;
            Ok(ingest(
                &chunks,
                std::io::BufReader::with_capacity(1024 * 1024, f),
            )?)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        drop(tmp);
        let manifest = PackageManifest {
            id: id.clone(),
            version: version.clone(),
            size: ingested.size,
            sha256: ingested.sha256,
            format,
            chunks: ingested.chunks,
            uploaded_at: crate::state::now(),
        };
        let mut b = Batch::new();
        if header.replace {
            b.put_record(&manifest).map_err(ApiError::from)?;
        } else {
            b.insert_record(&manifest).map_err(ApiError::from)?;
        }
        self.0.commit(b).await.map_err(|e| match e {
            StorageError::Conflict { .. } => ApiError::Precondition(format!(
                "package {id} version {version} is already in the feed; upload with --replace to overwrite it"
            )),
            e => e.into(),
        })?;
        tracing::info!(package = %id, version = %version, size = manifest.size, chunks = manifest.chunks.len(), new_bytes = ingested.new_bytes, "package uploaded");
        let mut out: pb::PackageManifest = manifest.into();
        out.new_bytes_stored = ingested.new_bytes;
        ok(out)
    }

    async fn get(&self, req: tonic::Request<pb::PackageRef>) -> Resp<pb::PackageManifest> {
        let pb::PackageRef { id, version } = req.into_inner();
        ok(self.0.package(&id, &version)?.into())
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListPackagesRequest>,
    ) -> Resp<pb::ListPackagesResponse> {
        let pb::ListPackagesRequest { id, page: p } = req.into_inner();
        let crate::services::Page { size, after } = page(p)?;
        let prefix = if id.is_empty() {
            String::new()
        } else {
            prefix_of(&[&id])
        };
        let (ms, next) = self
            .0
            .store
            .list_records::<PackageManifest>(&prefix, after.as_deref(), size)
            .map_err(ApiError::from)?;
        ok(pb::ListPackagesResponse {
            packages: ms
                .into_iter()
                .map(|mut m| {
                    m.chunks.clear();
                    m.into()
                })
                .collect(),
            next_page_token: token(next),
        })
    }

    type DownloadStream = DownloadStream;

    async fn download(&self, req: tonic::Request<pb::PackageRef>) -> Resp<DownloadStream> {
        let pb::PackageRef { id, version } = req.into_inner();
        let manifest = self.0.package(&id, &version)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::DownloadChunk, tonic::Status>>(4);
        let head = pb::DownloadChunk {
            part: Some(pb::download_chunk::Part::Manifest(manifest.clone().into())),
        };
        let chunks = self.0.chunks.clone();
        tokio::task::spawn_blocking(move || {
            if tx.blocking_send(Ok(head)).is_err() {
                return;
            }
            let mut reader = PackageReader::new(chunks, &manifest);
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
        let _g = self.0.write_lock.lock().await;
        let m = self.0.package(&id, &version)?;
        let used: Vec<String> = self
            .0
            .store
            .all_records::<Release>("")
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|r| {
                r.packages
                    .iter()
                    .any(|p| p.id.eq_ignore_ascii_case(&m.id) && p.version == m.version)
            })
            .map(|r| format!("{} {}", r.project, r.version))
            .collect();
        if !used.is_empty() {
            return Err(ApiError::Precondition(format!(
                "package {} {} is pinned by release(s) {}: delete those releases first",
                m.id,
                m.version,
                used.join(", ")
            ))
            .into());
        }
        let mut b = Batch::new();
        b.delete(PackageManifest::TABLE, &key_of(&[&m.id, &m.version]));
        self.0.commit(b).await.map_err(ApiError::from)?;
        ok(pb::Empty {})
    }

    async fn stats(&self, _req: tonic::Request<pb::Empty>) -> Resp<pb::StoreStats> {
        let chunks = self.0.chunks.clone();
        let s = tokio::task::spawn_blocking(move || chunks.stats())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::from)?;
        let count = self
            .0
            .store
            .scan(PackageManifest::TABLE, "", None, usize::MAX)
            .map_err(ApiError::from)?
            .len() as u64;
        ok(pb::StoreStats {
            chunk_count: s.chunk_count,
            stored_bytes: s.stored_bytes,
            package_count: count,
        })
    }
}
