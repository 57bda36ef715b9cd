//! `deploy package ...`: upload (streamed, with a progress bar on a terminal), list, show,
//! download (streamed, SHA-256 verified, written atomically), delete, store statistics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use proto::space::v1 as pb;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Env, all_pages};
use crate::output::{emit, emit_one, time};

const PIECE: usize = 1024 * 1024;

#[derive(Subcommand)]
pub enum PackageCmd {
    /// Upload a .zip, .nupkg, .tar.gz or .tgz (id and version from the file name unless given).
    Upload {
        file: PathBuf,
        /// The package id (default: from the file name).
        #[arg(long)]
        id: Option<String>,
        /// The package version (default: from the file name).
        #[arg(long)]
        version: Option<String>,
        /// Overwrite an existing version.
        #[arg(long)]
        replace: bool,
    },
    /// List packages (all, or the versions of one id).
    List {
        /// List only the versions of this package id.
        #[arg(long)]
        id: Option<String>,
    },
    /// Show one package's manifest.
    Show { id: String, version: String },
    /// Download a package and verify its SHA-256.
    Download {
        id: String,
        version: String,
        /// File to write (default: ID.VERSION.EXT in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete a package version (refused while a release pins it).
    Delete { id: String, version: String },
    /// Chunk store statistics.
    Stats,
    /// Delete the chunks no package and no pending bundle needs (admin): the packs holding
    /// them are written again without them.
    Gc {
        /// Say what would be freed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only packs last written at least this many hours ago (chunks a transfer archive
        /// brought wait there for their bundle).
        #[arg(long, default_value_t = 24)]
        min_age_hours: u32,
    },
    /// Write which chunks this Space holds (in the target Space), for `package export
    /// --inventory` in the source Space: the archive then holds only what is missing here.
    Inventory {
        /// File to write the inventory to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a transfer archive with the chunks a bundle's packages need (in the source Space;
    /// with the target's inventory, only the chunks it lacks, changed ones as deltas).
    Export {
        /// The bundle written by `deploy release promote`.
        #[arg(long)]
        bundle: PathBuf,
        /// The target Space's inventory (`deploy package inventory` there).
        #[arg(long)]
        inventory: Option<PathBuf>,
        /// File to write the transfer archive to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a transfer archive (in the target Space); every chunk is verified first.
    Import { archive: PathBuf },
}

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn manifest_json(m: &pb::PackageManifest) -> serde_json::Value {
    json!({
        "id": m.id, "version": m.version, "size": m.size, "sha256": m.sha256, "format": m.format,
        "chunks": m.chunk_count, "uploaded_at": m.uploaded_at.as_ref().map(|t| time(t.seconds)),
        "new_bytes_stored": m.new_bytes_stored,
    })
}

/// A file as a stream of pieces of up to 1 MiB, advancing `progress`. A read error ends the
/// stream and is kept in the returned slot: check it before trusting the server's answer (which
/// only saw a stream that ended early).
pub fn file_pieces(
    f: tokio::fs::File,
    progress: ProgressBar,
) -> (
    impl futures::Stream<Item = Vec<u8>> + Send + 'static,
    std::sync::Arc<std::sync::OnceLock<String>>,
) {
    let error = std::sync::Arc::new(std::sync::OnceLock::new());
    let slot = error.clone();
    let stream = futures::stream::unfold(Some(f), move |state| {
        let progress = progress.clone();
        let slot = slot.clone();
        async move {
            let mut f = state?;
            let mut buf = vec![0u8; PIECE];
            let mut filled = 0;
            while filled < PIECE {
                match f.read(&mut buf[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => {
                        let _ = slot.set(e.to_string());
                        return None;
                    }
                }
            }
            if filled == 0 {
                return None;
            }
            buf.truncate(filled);
            progress.inc(filled as u64);
            Some((buf, Some(f)))
        }
    });
    (stream, error)
}

/// Transfers get a deadline that grows with their size (at least 10 minutes).
pub fn transfer_deadline(base: Duration, bytes: u64) -> Duration {
    base.max(Duration::from_secs(600) + Duration::from_secs(bytes / (1024 * 1024)))
}

async fn upload(
    x: &Env,
    file: &Path,
    id: Option<String>,
    version: Option<String>,
    replace: bool,
) -> anyhow::Result<()> {
    let c = &x.client;
    let f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().await?.len();
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} has no usable file name", file.display()))?
        .to_string();
    if id.is_none() || version.is_none() {
        package_store::parse_file_name(&file_name)?;
    } else {
        package_store::format_from_file_name(&file_name)?;
    }
    let progress = bar(size, &format!("uploading {file_name}"));
    let header = pb::UploadRequest {
        part: Some(pb::upload_request::Part::Header(pb::UploadHeader {
            file_name: file_name.clone(),
            id: id.unwrap_or_default(),
            version: version.unwrap_or_default(),
            size,
            replace,
        })),
    };
    let (pieces, read_error) = file_pieces(f, progress.clone());
    let body = pieces.map(|data| pb::UploadRequest {
        part: Some(pb::upload_request::Part::Data(data)),
    });
    let stream = futures::stream::iter([header]).chain(body);
    let mut api = c.packages.clone();
    let deadline = transfer_deadline(c.deadline, size);
    let mut req = tonic::Request::new(stream);
    req.set_timeout(deadline);
    let m = c.call_within(deadline, api.upload(req)).await;
    progress.finish_and_clear();
    if let Some(e) = read_error.get() {
        bail!("reading {} failed: {e}; nothing was stored", file.display());
    }
    let m = m?;
    eprintln!(
        "uploaded {} {} ({} bytes, {} chunks, {} new bytes stored)",
        m.id,
        m.version,
        m.size,
        m.chunks.len(),
        m.new_bytes_stored
    );
    if x.output == crate::output::Format::Json {
        crate::output::print_json(&manifest_json(&m));
    }
    Ok(())
}

async fn download(
    x: &Env,
    id: String,
    version: String,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.packages.clone();
    let mut stream = c
        .call(api.download(c.req(pb::PackageRef {
            id: id.clone(),
            version: version.clone(),
        })))
        .await?;
    let manifest = match stream
        .message()
        .await
        .map_err(|s| crate::client::status_error(&c.server, s))?
    {
        Some(pb::DownloadChunk {
            part: Some(pb::download_chunk::Part::Manifest(m)),
        }) => m,
        _ => bail!("the server's answer did not start with the package manifest"),
    };
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.{}.{}",
            manifest.id, manifest.version, manifest.format
        ))
    });
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::from_std(tmp.reopen()?));
    let progress = bar(manifest.size, &format!("downloading {id} {version}"));
    let mut hasher = Sha256::new();
    let mut got: u64 = 0;
    let deadline = tokio::time::Instant::now() + transfer_deadline(c.deadline, manifest.size);
    loop {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .map_err(|_| anyhow!("the download did not finish in time (raise it with --timeout)"))?
            .map_err(|s| crate::client::status_error(&c.server, s))?;
        match next {
            None => break,
            Some(pb::DownloadChunk {
                part: Some(pb::download_chunk::Part::Data(d)),
            }) => {
                hasher.update(&d);
                got += d.len() as u64;
                progress.inc(d.len() as u64);
                file.write_all(&d).await?;
            }
            Some(_) => bail!("the server sent an unexpected message in the middle of the download"),
        }
    }
    progress.finish_and_clear();
    file.flush().await?;
    drop(file);
    let actual = hex::encode(hasher.finalize());
    if got != manifest.size || actual != manifest.sha256 {
        bail!(
            "download of {id} {version} is damaged: got {got} bytes with SHA-256 {actual}, expected {} bytes with {}; nothing was written",
            manifest.size,
            manifest.sha256
        );
    }
    tmp.persist(&out)
        .map_err(|e| anyhow!("cannot write {}: {}", out.display(), e.error))?;
    eprintln!(
        "downloaded {id} {version} to {} (SHA-256 verified)",
        out.display()
    );
    Ok(())
}

pub async fn run(cmd: PackageCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.packages.clone();
    match cmd {
        PackageCmd::Upload {
            file,
            id,
            version,
            replace,
        } => upload(&x, &file, id, version, replace).await?,
        PackageCmd::Download { id, version, out } => download(&x, id, version, out).await?,
        PackageCmd::List { id } => {
            let ms = all_pages(|t| {
                let mut api = c.packages.clone();
                let r = c.req(pb::ListPackagesRequest {
                    id: id.clone().unwrap_or_default(),
                    page: Some(super::page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.packages, r.next_page_token))
                }
            })
            .await?;
            let rows = ms
                .iter()
                .map(|m| {
                    vec![
                        m.id.clone(),
                        m.version.clone(),
                        m.format.clone(),
                        m.size.to_string(),
                        m.sha256[..m.sha256.len().min(16)].to_string(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(ms.iter().map(manifest_json).collect::<Vec<_>>()),
                &["ID", "VERSION", "FORMAT", "SIZE", "SHA256"],
                rows,
            );
        }
        PackageCmd::Show { id, version } => {
            let m = c
                .call(api.get(c.req(pb::PackageRef { id, version })))
                .await?;
            emit_one(
                x.output,
                manifest_json(&m),
                vec![
                    ("id", m.id.clone()),
                    ("version", m.version.clone()),
                    ("format", m.format.clone()),
                    ("size", m.size.to_string()),
                    ("sha256", m.sha256.clone()),
                    ("chunks", m.chunks.len().to_string()),
                    (
                        "uploaded",
                        m.uploaded_at
                            .as_ref()
                            .map(|t| time(t.seconds))
                            .unwrap_or_default(),
                    ),
                ],
            );
        }
        PackageCmd::Delete { id, version } => {
            c.call(api.delete(c.req(pb::PackageRef {
                id: id.clone(),
                version: version.clone(),
            })))
            .await?;
            eprintln!("package {id} {version} deleted");
        }
        PackageCmd::Stats => {
            let s = c.call(api.stats(c.req(pb::Empty {}))).await?;
            emit_one(
                x.output,
                json!({"packages": s.package_count, "chunks": s.chunk_count, "stored_bytes": s.stored_bytes,
                    "pack_files": s.pack_files, "pack_bytes": s.pack_bytes}),
                vec![
                    ("packages", s.package_count.to_string()),
                    ("chunks", s.chunk_count.to_string()),
                    ("stored_bytes", s.stored_bytes.to_string()),
                    ("pack_files", s.pack_files.to_string()),
                    ("pack_bytes", s.pack_bytes.to_string()),
                ],
            );
        }
        PackageCmd::Gc {
            dry_run,
            min_age_hours,
        } => {
            let r = c
                .call(api.collect_garbage(c.req(pb::CollectGarbageRequest {
                    dry_run,
                    min_age_hours,
                })))
                .await?;
            let verb = if dry_run { "would free" } else { "freed" };
            eprintln!(
                "garbage collection {verb} {} chunk(s), {} bytes ({} pack(s) written again){}",
                r.chunks,
                r.freed_bytes,
                r.packs_rewritten,
                if dry_run { "; nothing was changed" } else { "" }
            );
            for h in &r.damaged {
                eprintln!(
                    "damaged chunk left out: {h} (packages needing it are refused as damaged)"
                );
            }
            emit_one(
                x.output,
                json!({"dry_run": dry_run, "chunks": r.chunks, "freed_bytes": r.freed_bytes,
                    "packs_rewritten": r.packs_rewritten, "damaged": r.damaged}),
                vec![
                    ("chunks", r.chunks.to_string()),
                    ("freed_bytes", r.freed_bytes.to_string()),
                    ("packs_rewritten", r.packs_rewritten.to_string()),
                ],
            );
        }
        PackageCmd::Inventory { out } => super::promotion::inventory(&x, &out).await?,
        PackageCmd::Export {
            bundle,
            inventory,
            out,
        } => super::promotion::export(&x, &bundle, inventory.as_deref(), &out).await?,
        PackageCmd::Import { archive } => super::promotion::import(&x, &archive).await?,
    }
    Ok(())
}
