//! The built-in package feed over the content-addressed chunk store. Uploads stream to a
//! temporary file, are validated as archives (a .tar.gz while it arrives), then chunked into
//! the store; the manifest record is written last, so an interrupted upload never appears.

use std::io::Read;
use std::sync::Arc;

use domain::model::Release;
use futures::{Stream, StreamExt};
use package_store::{
    ArchiveFormat, PackageManifest, PackageReader, StoreStats, format_from_file_name, ingest,
    parse_file_name, validate_archive, validate_id, validate_stream, validate_version,
};
use storage::{Batch, Record, StorageError, StoreExt, key_of, prefix_of};
use tokio::io::AsyncWriteExt;

use super::{Listed, Page};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// The package feed; `max_bytes` is the largest upload accepted.
pub struct PackageService {
    pub state: Arc<SpaceState>,
    pub max_bytes: u64,
}

/// The first message of an upload: the file name and, optionally, id and version (taken from
/// the file name when empty), the declared size (0: unknown) and whether to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadHeader {
    pub file_name: String,
    pub id: String,
    pub version: String,
    pub size: u64,
    pub replace: bool,
}

/// A stored package and how many bytes of it were new to the chunk store.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub manifest: PackageManifest,
    pub new_bytes: u64,
}

/// The feed's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStats {
    pub store: StoreStats,
    pub packages: u64,
}

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

fn header_identity(h: &UploadHeader) -> ApiResult<(String, String, package_store::ArchiveFormat)> {
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

impl PackageService {
    /// Stores the package whose bytes `data` yields (in pieces), after checking the header,
    /// the size limits and the archive. Nothing is stored unless all of it is good.
    pub async fn upload<S>(&self, header: UploadHeader, mut data: S) -> ApiResult<Uploaded>
    where
        S: Stream<Item = ApiResult<Vec<u8>>> + Unpin + Send,
    {
        let (id, version, format) = header_identity(&header)?;
        if !header.replace && self.state.package(&id, &version).is_ok() {
            return Err(ApiError::Precondition(format!(
                "package {id} version {version} is already in the feed; upload with --replace to overwrite it"
            )));
        }
        if header.size > self.max_bytes {
            return Err(ApiError::Invalid(format!(
                "package {id} {version} is {} bytes, larger than this Space accepts ({} bytes, max_package_bytes)",
                header.size, self.max_bytes
            )));
        }
        let tmp = tempfile::NamedTempFile::new_in(self.state.tmp_dir())
            .map_err(|e| ApiError::Internal(format!("cannot create upload file: {e}")))?;
        let std_file = tmp
            .reopen()
            .map_err(|e| ApiError::Internal(format!("cannot open upload file: {e}")))?;
        let mut file =
            tokio::io::BufWriter::with_capacity(1024 * 1024, tokio::fs::File::from_std(std_file));
        let mut received: u64 = 0;
        let extract = self.state.limits().extract;
        // A .tar.gz is validated while it arrives; a zip (index at the end) once it is on disk.
        let (vtx, mut validation) = if format == ArchiveFormat::TarGz {
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
            let task = tokio::task::spawn_blocking(move || {
                validate_stream(ChannelReader::new(rx), ArchiveFormat::TarGz, extract)
            });
            (Some(tx), Some(task))
        } else {
            (None, None)
        };
        while let Some(bytes) = data.next().await {
            let bytes = bytes?;
            received += bytes.len() as u64;
            if received > self.max_bytes {
                return Err(ApiError::Invalid(format!(
                    "upload of {id} {version} is larger than this Space accepts ({} bytes, max_package_bytes); nothing was stored",
                    self.max_bytes
                )));
            }
            if header.size > 0 && received > header.size {
                return Err(ApiError::Invalid(format!(
                    "upload of {id} {version} sent more than the {} bytes it declared; nothing was stored",
                    header.size
                )));
            }
            if let Some(tx) = &vtx
                && tx.send(bytes.clone()).await.is_err()
                && let Some(task) = validation.take()
            {
                // The validator stopped before the end: the archive is bad.
                task.await
                    .map_err(|e| ApiError::Internal(e.to_string()))??;
                return Err(ApiError::Invalid(
                    "the archive ended before the upload did".into(),
                ));
            }
            file.write_all(&bytes)
                .await
                .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))?;
        drop(file);
        if header.size > 0 && received != header.size {
            return Err(ApiError::Invalid(format!(
                "upload of {id} {version} ended after {received} of {} bytes; nothing was stored",
                header.size
            )));
        }
        drop(vtx);
        if let Some(task) = validation {
            task.await
                .map_err(|e| ApiError::Internal(e.to_string()))??;
        }
        // Held until the manifest refers to the chunks (a collection would not see them).
        let _writing = self.state.gc_lock.read().await;
        let chunks = self.state.chunks.clone();
        let path = tmp.path().to_path_buf();
        let ingested = tokio::task::spawn_blocking(move || -> ApiResult<_> {
            if format != ArchiveFormat::TarGz {
                validate_archive(&path, format, extract)?;
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
            b.put_record(&manifest)?;
        } else {
            b.insert_record(&manifest)?;
        }
        self.state.commit(b).await.map_err(|e| match e {
            StorageError::Conflict { .. } => ApiError::Precondition(format!(
                "package {id} version {version} is already in the feed; upload with --replace to overwrite it"
            )),
            e => e.into(),
        })?;
        tracing::info!(package = %id, version = %version, size = manifest.size, chunks = manifest.chunks.len(), new_bytes = ingested.new_bytes, "package uploaded");
        Ok(Uploaded {
            manifest,
            new_bytes: ingested.new_bytes,
        })
    }

    pub fn get(&self, id: &str, version: &str) -> ApiResult<PackageManifest> {
        self.state.package(id, version)
    }

    /// A page of manifests (of package `id`, or all when empty).
    pub fn list(&self, id: &str, page: Page) -> ApiResult<Listed<PackageManifest>> {
        let prefix = if id.is_empty() {
            String::new()
        } else {
            prefix_of(&[id])
        };
        let (items, next) = self.state.store.list_records::<PackageManifest>(
            &prefix,
            page.after.as_deref(),
            page.size,
        )?;
        Ok(Listed { items, next })
    }

    /// The manifest and a reader of the package's bytes, verified as they are read.
    pub fn open(&self, id: &str, version: &str) -> ApiResult<(PackageManifest, PackageReader)> {
        let manifest = self.state.package(id, version)?;
        let reader = PackageReader::new(self.state.chunks.clone(), &manifest);
        Ok((manifest, reader))
    }

    /// Refused while a release pins the package.
    pub async fn delete(&self, id: &str, version: &str) -> ApiResult<()> {
        self.state
            .commit_guarded(|| {
                let m = self.state.package(id, version)?;
                let used: Vec<String> = self
                    .state
                    .store
                    .all_records::<Release>("")?
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
                    )));
                }
                let mut b = Batch::new();
                b.delete(PackageManifest::TABLE, &key_of(&[&m.id, &m.version]));
                Ok((b, ()))
            })
            .await
    }

    pub async fn stats(&self) -> ApiResult<FeedStats> {
        let chunks = self.state.chunks.clone();
        let store = tokio::task::spawn_blocking(move || chunks.stats())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        let packages = self
            .state
            .store
            .scan(PackageManifest::TABLE, "", None, usize::MAX)?
            .len() as u64;
        Ok(FeedStats { store, packages })
    }
}
