//! Promotion by file, the CLI side: `release promote`, `release missing-variables`,
//! `package inventory|export|import`, `receipt export|import` (signed Deployment Receipts). Files
//! are written atomically (a temporary file renamed at the end) with progress bars on a terminal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use proto::space::v1 as pb;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::Env;
use super::package::{bar, transfer_deadline};
use crate::output::{emit, emit_one};

const PIECE: usize = 1024 * 1024;

/// A file written under a temporary name in its directory and renamed when complete, so a
/// failure never leaves a partial file under the real name.
pub struct AtomicFile {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    file: tokio::io::BufWriter<tokio::fs::File>,
    pub written: u64,
}

impl AtomicFile {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let file =
            tokio::io::BufWriter::with_capacity(PIECE, tokio::fs::File::from_std(tmp.reopen()?));
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file,
            written: 0,
        })
    }

    pub async fn write(&mut self, b: &[u8]) -> anyhow::Result<()> {
        self.written += b.len() as u64;
        self.file
            .write_all(b)
            .await
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub async fn finish(mut self) -> anyhow::Result<u64> {
        self.file.flush().await?;
        self.file.get_ref().sync_all().await?;
        drop(self.file);
        self.tmp
            .persist(&self.path)
            .map_err(|e| anyhow!("cannot write {}: {}", self.path.display(), e.error))?;
        Ok(self.written)
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))
}

/// The pieces of an in-memory file as request messages.
fn pieces<T>(bytes: &[u8], wrap: impl Fn(Vec<u8>) -> T) -> Vec<T> {
    bytes.chunks(PIECE).map(|c| wrap(c.to_vec())).collect()
}

/// Next message of a server stream, under an overall deadline.
async fn next<T>(
    x: &Env,
    s: &mut tonic::Streaming<T>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Option<T>> {
    tokio::time::timeout_at(deadline, s.message())
        .await
        .map_err(|_| anyhow!("the transfer did not finish in time (raise it with --timeout)"))?
        .map_err(|st| crate::client::status_error(&x.client.server, st))
}

pub async fn promote(
    x: &Env,
    project: String,
    version: String,
    to_space: String,
    out: &Path,
) -> anyhow::Result<()> {
    use pb::promote_response::Part;
    let c = &x.client;
    // Opened before the call: the Space records the promotion when it answers.
    let mut file = AtomicFile::create(out)?;
    let mut api = c.promotion.clone();
    let mut s = c
        .call(api.promote(c.req(pb::PromoteRequest {
            project,
            version,
            to_space,
            push: false,
        })))
        .await?;
    let deadline = tokio::time::Instant::now() + c.deadline;
    let mut summary = None;
    while let Some(m) = next(x, &mut s, deadline).await? {
        match m.part {
            Some(Part::Summary(b)) => summary = Some(b),
            Some(Part::Data(d)) => file.write(&d).await?,
            None => {}
        }
    }
    let b = summary.ok_or_else(|| anyhow!("the server sent no bundle summary"))?;
    if file.written != b.bytes {
        bail!(
            "the bundle arrived incomplete ({} of {} bytes); nothing was written",
            file.written,
            b.bytes
        );
    }
    file.finish().await?;
    emit_one(
        x.output,
        json!({"bundle": b.id, "digest": b.digest, "project": b.project, "version": b.version,
               "to_space": b.target_space, "variables": b.variables, "sensitive": b.sensitive,
               "packages": b.packages, "schema": b.schema, "bytes": b.bytes, "file": out}),
        vec![
            ("bundle", b.id.clone()),
            ("release", format!("{} {}", b.project, b.version)),
            ("to space", b.target_space.clone()),
            (
                "variables",
                format!(
                    "{} ({} sensitive, sealed for {})",
                    b.variables, b.sensitive, b.target_space
                ),
            ),
            ("packages", b.packages.to_string()),
            ("schema", b.schema.clone()),
            ("file", format!("{} ({} bytes)", out.display(), b.bytes)),
        ],
    );
    eprintln!(
        "next: carry {} and the packages (deploy package export --bundle {} --out ARCHIVE) to '{}'",
        out.display(),
        out.display(),
        b.target_space
    );
    Ok(())
}

/// Connected: the Space offers the bundle to the target over the peer link.
pub async fn push(
    x: &Env,
    project: String,
    version: String,
    to_space: String,
) -> anyhow::Result<()> {
    use pb::promote_response::Part;
    let c = &x.client;
    let mut api = c.promotion.clone();
    let mut s = c
        .call(api.promote(c.req(pb::PromoteRequest {
            project,
            version,
            to_space,
            push: true,
        })))
        .await?;
    let deadline = tokio::time::Instant::now() + c.deadline;
    let mut summary = None;
    while let Some(m) = next(x, &mut s, deadline).await? {
        if let Some(Part::Summary(b)) = m.part {
            summary = Some(b);
        }
    }
    let b = summary.ok_or_else(|| anyhow!("the server sent no bundle summary"))?;
    emit_one(
        x.output,
        json!({"bundle": b.id, "digest": b.digest, "project": b.project, "version": b.version,
               "to_space": b.target_space, "state": b.state, "variables": b.variables,
               "sensitive": b.sensitive, "packages": b.packages}),
        vec![
            ("bundle", b.id.clone()),
            ("release", format!("{} {}", b.project, b.version)),
            ("to space", b.target_space.clone()),
            ("state", b.state.clone()),
        ],
    );
    eprintln!(
        "bundle offered to '{}' over the peer link; import it there with deploy bundle import {}",
        b.target_space,
        &b.id[..b.id.len().min(12)]
    );
    Ok(())
}

/// Connected: fetch the chunks a pending bundle lacks from the Space that sent it.
pub async fn fetch(x: &Env, id: String) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    let deadline = transfer_deadline(c.deadline, 16 << 30);
    let mut req = c.req(pb::BundleRef { id });
    req.set_timeout(deadline);
    let r = c
        .call_within(deadline, api.fetch_bundle_packages(req))
        .await?;
    emit_one(
        x.output,
        json!({"chunks_fetched": r.chunks_fetched, "chunks_as_deltas": r.chunks_as_deltas, "bytes_fetched": r.bytes_fetched, "chunks_missing": r.chunks_missing}),
        vec![
            ("chunks fetched", r.chunks_fetched.to_string()),
            ("of which as deltas", r.chunks_as_deltas.to_string()),
            ("bytes fetched", r.bytes_fetched.to_string()),
            ("chunks still missing", r.chunks_missing.to_string()),
        ],
    );
    Ok(())
}

pub async fn missing_variables(x: &Env, project: String, version: String) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    let r = c
        .call(api.missing_variables(c.req(pb::ReleaseRef {
            project: project.clone(),
            version: version.clone(),
        })))
        .await?;
    print_missing(x, &r.missing);
    if r.missing.is_empty() {
        eprintln!("release {version} of '{project}' has every mandatory template value it needs");
    }
    Ok(())
}

pub fn print_missing(x: &Env, missing: &[pb::MissingInEnvironment]) {
    let rows = missing
        .iter()
        .flat_map(|m| {
            m.variables
                .iter()
                .map(|v| vec![m.environment.clone(), m.tenant.clone(), v.clone()])
        })
        .collect();
    emit(
        x.output,
        json!(
            missing
                .iter()
                .map(|m| json!({"environment": m.environment,
                    "tenant": (!m.tenant.is_empty()).then_some(&m.tenant),
                    "variables": m.variables}))
                .collect::<Vec<_>>()
        ),
        &["ENVIRONMENT", "TENANT", "MISSING VARIABLE"],
        rows,
    );
}

pub async fn inventory(x: &Env, out: &Path) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    let mut s = c.call(api.inventory(c.req(pb::Empty {}))).await?;
    let deadline = tokio::time::Instant::now() + transfer_deadline(c.deadline, 0);
    let mut bytes = Vec::new();
    while let Some(m) = next(x, &mut s, deadline).await? {
        bytes.extend_from_slice(&m.data);
    }
    let inv = package_store::transfer::Inventory::read_from(bytes.as_slice())
        .context("the inventory the Space sent does not read; nothing was written")?;
    let mut file = AtomicFile::create(out)?;
    file.write(&bytes).await?;
    let n = file.finish().await?;
    eprintln!(
        "inventory of space '{}' written to {} ({} packages held whole, {} other chunks, {n} bytes): carry it to the source Space for deploy package export --inventory",
        inv.space,
        out.display(),
        inv.packages().len(),
        inv.len()
    );
    Ok(())
}

pub async fn export(
    x: &Env,
    bundle: &Path,
    inventory: Option<&Path>,
    out: &Path,
) -> anyhow::Result<()> {
    use pb::export_packages_request::Part as In;
    use pb::export_packages_response::Part as Out;
    let c = &x.client;
    let mut msgs = pieces(&read(bundle)?, |b| pb::ExportPackagesRequest {
        part: Some(In::Bundle(b)),
    });
    if let Some(inv) = inventory {
        msgs.extend(pieces(&read(inv)?, |b| pb::ExportPackagesRequest {
            part: Some(In::Inventory(b)),
        }));
    }
    let deadline_len = transfer_deadline(c.deadline, 16 << 30);
    let mut api = c.promotion.clone();
    let mut req = tonic::Request::new(tokio_stream::iter(msgs));
    req.set_timeout(deadline_len);
    let mut s = c
        .call_within(deadline_len, api.export_packages(req))
        .await?;
    let deadline = tokio::time::Instant::now() + deadline_len;
    let mut file = AtomicFile::create(out)?;
    let progress =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    progress.set_message(format!("writing {}", out.display()));
    let mut summary = None;
    while let Some(m) = next(x, &mut s, deadline).await? {
        match m.part {
            Some(Out::Data(d)) => {
                progress.inc(d.len() as u64);
                file.write(&d).await?;
            }
            Some(Out::Summary(s)) => summary = Some(s),
            None => {}
        }
    }
    progress.finish_and_clear();
    let s = summary.ok_or_else(|| {
        anyhow!("the server stopped before the archive was complete; nothing was written")
    })?;
    if s.bytes != file.written {
        bail!(
            "the archive arrived incomplete ({} of {} bytes); nothing was written",
            file.written,
            s.bytes
        );
    }
    file.finish().await?;
    emit_one(
        x.output,
        json!({"file": out, "bytes": s.bytes, "chunks": s.chunks, "deltas": s.deltas,
               "skipped": s.skipped, "package_bytes": s.package_bytes}),
        vec![
            ("file", out.display().to_string()),
            ("archive bytes", s.bytes.to_string()),
            ("package bytes", s.package_bytes.to_string()),
            (
                "chunks",
                format!(
                    "{} sent ({} as deltas), {} the target has",
                    s.chunks, s.deltas, s.skipped
                ),
            ),
        ],
    );
    Ok(())
}

pub async fn import(x: &Env, archive: &Path) -> anyhow::Result<()> {
    let c = &x.client;
    let f = tokio::fs::File::open(archive)
        .await
        .with_context(|| format!("cannot open {}", archive.display()))?;
    let size = f.metadata().await?.len();
    let progress = bar(size, &format!("importing {}", archive.display()));
    let (pieces, read_error) = super::package::file_pieces(f, progress.clone());
    let body = pieces.map(|data| pb::FileData { data });
    let deadline = transfer_deadline(c.deadline, size);
    let mut req = tonic::Request::new(body);
    req.set_timeout(deadline);
    let mut api = c.promotion.clone();
    let r = c.call_within(deadline, api.import_packages(req)).await;
    progress.finish_and_clear();
    if let Some(e) = read_error.get() {
        bail!(
            "reading {} failed: {e}; the Space stored only verified chunks, import the archive again",
            archive.display()
        );
    }
    let r = r?;
    emit_one(
        x.output,
        json!({"chunks": r.chunks, "new_chunks": r.new_chunks}),
        vec![
            ("chunks in archive", r.chunks.to_string()),
            ("new chunks stored", r.new_chunks.to_string()),
        ],
    );
    eprintln!(
        "every chunk was verified against its hash; import the bundle with deploy bundle import ID"
    );
    Ok(())
}

/// Signs the receipts the selection chooses: written to `out`, or (without it, connected)
/// delivered by the Space to the source Space over the peer link.
pub async fn export_receipts(
    x: &Env,
    space: Option<String>,
    all: bool,
    range: Option<(u64, u64)>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    use pb::export_receipts_response::Part;
    let (from_deployment, to_deployment) = range.unwrap_or_default();
    let c = &x.client;
    // Opened before the call: the Space marks the receipts exported when it answers.
    let mut file = out.map(AtomicFile::create).transpose()?;
    let mut api = c.promotion.clone();
    let mut s = c
        .call(api.export_receipts(c.req(pb::ExportReceiptsRequest {
            space: space.unwrap_or_default(),
            all,
            from_deployment,
            to_deployment,
            push: out.is_none(),
        })))
        .await?;
    let deadline = tokio::time::Instant::now() + c.deadline;
    let mut count = 0;
    while let Some(m) = next(x, &mut s, deadline).await? {
        match (m.part, file.as_mut()) {
            (Some(Part::Count(n)), _) => count = n,
            (Some(Part::Data(d)), Some(f)) => f.write(&d).await?,
            _ => {}
        }
    }
    match (file, out) {
        (Some(f), Some(out)) => {
            f.finish().await?;
            eprintln!(
                "{count} signed receipt(s) written to {}: carry it back and run deploy receipt import there",
                out.display()
            );
        }
        _ if count == 0 => eprintln!(
            "nothing to send: every receipt was delivered before (--all or --range sends them again)"
        ),
        _ => eprintln!("{count} signed receipt(s) delivered over the peer link"),
    }
    Ok(())
}

pub async fn import_receipts(x: &Env, bytes: Vec<u8>) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    let msgs = pieces(&bytes, |data| pb::FileData { data });
    let mut req = tonic::Request::new(tokio_stream::iter(msgs));
    req.set_timeout(c.deadline.max(Duration::from_secs(60)));
    let r = c.call(api.import_receipts(req)).await?;
    if r.applied == 0 {
        eprintln!(
            "nothing new: every receipt in this file from '{}' ({}) was applied before",
            r.from_space, r.already_applied
        );
    }
    emit_one(
        x.output,
        json!({"from_space": r.from_space, "applied": r.applied, "already_applied": r.already_applied, "environments": r.environments}),
        vec![
            ("from space", r.from_space.clone()),
            ("applied", r.applied.to_string()),
            ("already applied", r.already_applied.to_string()),
            ("environments", r.environments.join(", ")),
        ],
    );
    Ok(())
}
