//! The local control socket, `<data>/control.sock` (0600, in the 0700 data directory, so only
//! the server's own user reaches it): how `space-server backup` and `odcm backup` ask a
//! running server for an online backup. One JSON request line, one JSON reply line.

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::backup::{Chunks, Summary};

/// The socket's file name in the data directory.
pub const SOCKET: &str = "control.sock";
const MAX_REQUEST: u64 = 64 << 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    pub out: PathBuf,
    pub include_keys: bool,
    pub chunks: Chunks,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupReply {
    pub error: String,
    pub rows: u64,
    pub files: u64,
    pub chunks: u64,
    pub bytes: u64,
}

/// Runs one backup request (blocking).
pub type Handler = Arc<dyn Fn(&BackupRequest) -> Result<Summary, String> + Send + Sync>;

/// Binds the socket in `data_dir` (a stale one from a crash is replaced), mode 0600.
pub fn bind(data_dir: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join(SOCKET);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let l = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves requests until `shutdown` completes, then removes the socket file.
pub async fn serve(
    listener: tokio::net::UnixListener,
    handler: Handler,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = &mut shutdown => break,
        };
        let Ok((stream, _)) = conn else { continue };
        let h = handler.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, h).await {
                tracing::warn!(error = %e, "control request failed");
            }
        });
    }
    if let Ok(addr) = listener.local_addr()
        && let Some(path) = addr.as_pathname()
    {
        let _ = std::fs::remove_file(path);
    }
}

async fn answer(stream: tokio::net::UnixStream, h: Handler) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    tokio::io::AsyncReadExt::take(tokio::io::BufReader::new(rd), MAX_REQUEST)
        .read_line(&mut line)
        .await?;
    let reply = match serde_json::from_str::<BackupRequest>(&line) {
        Err(e) => BackupReply {
            error: format!("the request is not understood: {e}"),
            ..Default::default()
        },
        Ok(req) => {
            tracing::info!(out = %req.out.display(), keys = req.include_keys, "online backup requested");
            match tokio::task::spawn_blocking(move || h(&req)).await {
                Ok(Ok(s)) => BackupReply {
                    error: String::new(),
                    rows: s.rows,
                    files: s.files,
                    chunks: s.chunks,
                    bytes: s.bytes,
                },
                Ok(Err(e)) => BackupReply {
                    error: e,
                    ..Default::default()
                },
                Err(e) => BackupReply {
                    error: format!("the backup stopped: {e}"),
                    ..Default::default()
                },
            }
        }
    };
    let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    wr.write_all(&out).await
}

/// Asks the server running on `data_dir` for a backup; `None` when no server listens there.
pub fn request_backup(
    data_dir: &Path,
    req: &BackupRequest,
) -> std::io::Result<Option<BackupReply>> {
    let path = data_dir.join(SOCKET);
    let mut s = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    serde_json::from_str(&reply)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("the server's answer is not understood: {e}")))
}
