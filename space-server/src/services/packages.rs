//! The built-in package feed over the content-addressed chunk store. Uploads are chunked as
//! they arrive into a staging pack apart from the store and validated as archives (a .tar.gz
//! at the same time, a zip from a temporary file once whole); only a valid upload's chunks join
//! the store, and its manifest record is written last, so an interrupted or refused upload
//! never appears and leaves nothing behind.

use std::io::Read;
use std::sync::Arc;

use domain::model::Release;
use futures::{Stream, StreamExt};
use package_store::{
    ArchiveFormat, PackageManifest, PackageReader, StoreStats, format_from_file_name,
    ingest_staged, parse_file_name, validate_archive, validate_id, validate_stream,
    validate_version,
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

/// Reads the bytes of an upload as they arrive (for validation or chunking on a blocking
/// thread).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Arc<Vec<u8>>>,
    buf: Arc<Vec<u8>>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Arc<Vec<u8>>>) -> Self {
        Self {
            rx,
            buf: Arc::new(Vec::new()),
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
        // Held until the manifest refers to the chunks (a collection would not see them).
        let _writing = self.state.gc_lock.read().await;
        // Both cores: the bytes are chunked as they arrive, into a staging pack of their own,
        // while `receive` validates them. Only a valid upload's staging pack joins the store;
        // a refused one is deleted with everything it staged before the error is returned.
        let (itx, rx) = tokio::sync::mpsc::channel::<Arc<Vec<u8>>>(8);
        let chunks = self.state.chunks.clone();
        let ingesting =
            tokio::task::spawn_blocking(move || ingest_staged(&chunks, ChannelReader::new(rx)));
        let received = self
            .receive(&header, (&id, &version, format), &mut data, itx)
            .await;
        let chunked = ingesting
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        // A refusal outranks what chunking made of the bytes (dropped here: nothing staged
        // stays behind).
        received?;
        let (ingested, staged) = chunked?;
        tokio::task::spawn_blocking(move || staged.adopt())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
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

    /// Reads the upload's bytes to the end, passing each piece to the chunker (`to_chunker`)
    /// and validating the archive: a .tar.gz as it arrives, a zip (index at the end) from a
    /// temporary file once whole. Any error refuses the upload.
    async fn receive<S>(
        &self,
        header: &UploadHeader,
        (id, version, format): (&str, &str, ArchiveFormat),
        data: &mut S,
        to_chunker: tokio::sync::mpsc::Sender<Arc<Vec<u8>>>,
    ) -> ApiResult<()>
    where
        S: Stream<Item = ApiResult<Vec<u8>>> + Unpin + Send,
    {
        let extract = self.state.limits().extract;
        let (vtx, mut validation) = if format == ArchiveFormat::TarGz {
            let (tx, rx) = tokio::sync::mpsc::channel::<Arc<Vec<u8>>>(8);
            let task = tokio::task::spawn_blocking(move || {
                validate_stream(ChannelReader::new(rx), ArchiveFormat::TarGz, extract)
            });
            (Some(tx), Some(task))
        } else {
            (None, None)
        };
        let mut spool = match format {
            ArchiveFormat::TarGz => None,
            _ => Some(Spool::new(&self.state)?),
        };
        let mut received: u64 = 0;
        while let Some(bytes) = data.next().await {
            let bytes = Arc::new(bytes?);
            received += bytes.len() as u64;
            self.check_received(header, id, version, received)?;
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
            if let Some(f) = &mut spool {
                f.write(&bytes).await?;
            }
            if to_chunker.send(bytes).await.is_err() {
                // The chunker stopped: the caller reports its error.
                return Ok(());
            }
        }
        if header.size > 0 && received != header.size {
            return Err(ApiError::Invalid(format!(
                "upload of {id} {version} ended after {received} of {} bytes; nothing was stored",
                header.size
            )));
        }
        drop(vtx);
        drop(to_chunker);
        if let Some(task) = validation {
            task.await
                .map_err(|e| ApiError::Internal(e.to_string()))??;
        }
        if let Some(f) = spool {
            let path = f.finish().await?;
            tokio::task::spawn_blocking(move || validate_archive(path.path(), format, extract))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))??;
        }
        Ok(())
    }

    /// Refuses an upload past the Space's limit or past its declared size.
    fn check_received(
        &self,
        header: &UploadHeader,
        id: &str,
        version: &str,
        received: u64,
    ) -> ApiResult<()> {
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
        Ok(())
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

/// A zip upload written to a temporary file in the Space's tmp directory (its index is at the
/// end, so it is validated once whole); removed when dropped.
struct Spool {
    file: tokio::io::BufWriter<tokio::fs::File>,
    tmp: tempfile::NamedTempFile,
}

impl Spool {
    fn new(state: &SpaceState) -> ApiResult<Self> {
        let tmp = tempfile::NamedTempFile::new_in(state.tmp_dir())
            .map_err(|e| ApiError::Internal(format!("cannot create upload file: {e}")))?;
        let f = tmp
            .reopen()
            .map_err(|e| ApiError::Internal(format!("cannot open upload file: {e}")))?;
        Ok(Self {
            file: tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(f)),
            tmp,
        })
    }

    async fn write(&mut self, b: &[u8]) -> ApiResult<()> {
        self.file
            .write_all(b)
            .await
            .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))
    }

    async fn finish(mut self) -> ApiResult<tempfile::NamedTempFile> {
        self.file
            .flush()
            .await
            .map_err(|e| ApiError::Internal(format!("cannot write upload: {e}")))?;
        Ok(self.tmp)
    }
}
