//! The agent side of the session protocol, the same for both modes: answer pings, run each
//! step it is sent (fetching only the package chunks it lacks), stream logs, report results.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::variables::{Candidate, DeployContext, resolve};
use exec::{Cancel, ExecConfig, LogSink, LogStream, PackageInput, StepJob, run_step};
use futures::{Stream, StreamExt};
use package_store::{ChunkHash, PackageManifest};
use proto::agent::v1 as ab;
use proto::wire::agent::WorkItem;
use tokio::sync::mpsc;

use crate::state::AgentState;

/// How long a step waits for a missing chunk before giving up.
const CHUNK_WAIT: Duration = Duration::from_secs(300);

type Chunk = (ChunkHash, Vec<u8>);

struct JobHandle {
    chunks: mpsc::UnboundedSender<Chunk>,
    cancel: Cancel,
}

type Jobs = Arc<Mutex<HashMap<String, JobHandle>>>;

fn send(out: &mpsc::Sender<ab::AgentMessage>, msg: ab::agent_message::Msg) -> bool {
    out.try_send(ab::AgentMessage { msg: Some(msg) }).is_ok()
}

/// Runs one session until the Space closes the stream or it fails. Running jobs are
/// cancelled when the session ends (their results could not be delivered).
pub async fn run<S>(
    state: Arc<AgentState>,
    mut inbound: S,
    out: mpsc::Sender<ab::AgentMessage>,
) -> Result<(), tonic::Status>
where
    S: Stream<Item = Result<ab::ServerMessage, tonic::Status>> + Unpin,
{
    let _ = out
        .send(ab::AgentMessage {
            msg: Some(ab::agent_message::Msg::Hello(ab::Hello {
                agent_version: env!("CARGO_PKG_VERSION").into(),
                hostname: state.hostname.clone(),
            })),
        })
        .await;
    let jobs: Jobs = Arc::default();
    let result = loop {
        let msg = match inbound.next().await {
            None => break Ok(()),
            Some(Err(status)) => break Err(status),
            Some(Ok(m)) => m,
        };
        use ab::server_message::Msg;
        match msg.msg {
            Some(Msg::Welcome(w)) => {
                tracing::info!(space = %w.space, target = %w.target, "connected to the Space")
            }
            Some(Msg::Ping(p)) => {
                let _ = out
                    .send(ab::AgentMessage {
                        msg: Some(ab::agent_message::Msg::Pong(ab::Pong { nonce: p.nonce })),
                    })
                    .await;
            }
            Some(Msg::Work(w)) => start_job(&state, &jobs, &out, w),
            Some(Msg::Chunk(c)) => {
                let hash: Option<ChunkHash> = c.hash.as_slice().try_into().ok();
                let jobs = jobs
                    .lock()
                    .map_err(|_| refuse(ErrorCode::Internal, "job table poisoned"))?;
                if let (Some(h), Some(j)) = (hash, jobs.get(&c.job_id)) {
                    let _ = j.chunks.send((h, c.zstd));
                }
            }
            Some(Msg::Cancel(c)) => {
                if let Ok(jobs) = jobs.lock()
                    && let Some(j) = jobs.get(&c.job_id)
                {
                    tracing::info!(job = %c.job_id, "cancel requested");
                    j.cancel.cancel();
                }
            }
            None => {}
        }
    };
    if let Ok(jobs) = jobs.lock() {
        for (id, j) in jobs.iter() {
            tracing::warn!(job = %id, "session ended: cancelling the step");
            j.cancel.cancel();
        }
    }
    result
}

fn start_job(
    state: &Arc<AgentState>,
    jobs: &Jobs,
    out: &mpsc::Sender<ab::AgentMessage>,
    w: ab::StepWork,
) {
    let job_id = w.job_id.clone();
    let work = match WorkItem::try_from(w) {
        Ok(w) => w,
        Err(e) => {
            send(
                out,
                failure(&job_id, format!("the agent cannot read this step: {e}"), 0),
            );
            return;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = Cancel::new();
    if let Ok(mut j) = jobs.lock() {
        j.insert(
            job_id.clone(),
            JobHandle {
                chunks: tx,
                cancel: cancel.clone(),
            },
        );
    }
    let (state, jobs, out) = (state.clone(), jobs.clone(), out.clone());
    tokio::spawn(async move {
        tracing::info!(job = %job_id, step = %work.step.name, "step started");
        let result = execute(&state, &out, work, rx, cancel).await;
        if let Ok(mut j) = jobs.lock() {
            j.remove(&job_id);
        }
        tracing::info!(job = %job_id, success = result.success, "step finished");
        let _ = out
            .send(ab::AgentMessage {
                msg: Some(ab::agent_message::Msg::Result(result)),
            })
            .await;
    });
}

fn failure(job_id: &str, error: String, received: u64) -> ab::agent_message::Msg {
    ab::agent_message::Msg::Result(failed(job_id, error, received))
}

fn failed(job_id: &str, error: String, received: u64) -> ab::StepResult {
    ab::StepResult {
        job_id: job_id.to_string(),
        success: false,
        error,
        chunk_bytes_received: received,
        ..Default::default()
    }
}

/// Gets the chunks no cached archive holds from the Space (into one spill file), then
/// assembles the archive from them and the cache and verifies it.
async fn fetch_package(
    state: &Arc<AgentState>,
    out: &mpsc::Sender<ab::AgentMessage>,
    job_id: &str,
    m: &PackageManifest,
    rx: &mut mpsc::UnboundedReceiver<Chunk>,
    received: &mut u64,
) -> Result<PathBuf, String> {
    let path = state.cache.archive_path(m);
    // Named by the full SHA-256 and only ever written after verification; the size check
    // catches a truncated file.
    if std::fs::metadata(&path).is_ok_and(|md| md.len() == m.size) {
        return Ok(path);
    }
    let missing = state.cache.missing(m);
    let mut spill = state.cache.spill()?;
    if !missing.is_empty() {
        let mut want: HashSet<ChunkHash> = missing.iter().map(|c| c.hash).collect();
        let hashes = missing.iter().map(|c| c.hash.to_vec()).collect();
        out.send(ab::AgentMessage {
            msg: Some(ab::agent_message::Msg::Need(ab::NeedChunks {
                job_id: job_id.to_string(),
                hashes,
            })),
        })
        .await
        .map_err(|_| "the connection to the Space closed".to_string())?;
        while !want.is_empty() {
            let (hash, zstd) = tokio::time::timeout(CHUNK_WAIT, rx.recv())
                .await
                .map_err(|_| format!("no package data arrived for {}s", CHUNK_WAIT.as_secs()))?
                .ok_or("the connection to the Space closed during the package transfer")?;
            if !want.remove(&hash) {
                continue;
            }
            *received += zstd.len() as u64;
            spill
                .add(&hash, &zstd)
                .map_err(|e| format!("package {} {}: {e}", m.id, m.version))?;
        }
    }
    spill.finish()?;
    let (state, manifest) = (state.clone(), m.clone());
    tokio::task::spawn_blocking(move || state.cache.assemble(&manifest, &spill))
        .await
        .map_err(|e| e.to_string())?
}

struct ChannelSink {
    out: mpsc::Sender<ab::AgentMessage>,
    job_id: String,
}

impl LogSink for ChannelSink {
    fn line(&mut self, stream: LogStream, text: &str) {
        let stream = match stream {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Info => "info",
            LogStream::Warn => "warn",
        };
        let _ = self.out.blocking_send(ab::AgentMessage {
            msg: Some(ab::agent_message::Msg::Log(ab::LogLine {
                job_id: self.job_id.clone(),
                stream: stream.into(),
                text: text.to_string(),
            })),
        });
    }
}

async fn execute(
    state: &Arc<AgentState>,
    out: &mpsc::Sender<ab::AgentMessage>,
    work: WorkItem,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    cancel: Cancel,
) -> ab::StepResult {
    let job_id = work.job_id.clone();
    let mut received = 0u64;
    let package = match &work.package {
        None => None,
        Some(m) => match fetch_package(state, out, &job_id, m, &mut rx, &mut received).await {
            Ok(archive) => Some(PackageInput {
                id: m.id.clone(),
                version: m.version.clone(),
                format: m.format,
                archive,
            }),
            Err(e) => return failed(&job_id, e, received),
        },
    };
    let candidates: Vec<Candidate> = work
        .variables
        .into_iter()
        .map(|v| Candidate {
            name: v.name,
            value: v.value,
            sensitive: v.sensitive,
            scope: Default::default(),
        })
        .collect();
    let job = StepJob {
        deployment_id: work.deployment_id,
        project: work.project,
        environment: work.environment,
        tenant: work.tenant,
        step_name: work.step.name.clone(),
        action: work.step.action,
        package,
        variables: resolve(&candidates, &DeployContext::default()),
    };
    let cfg = ExecConfig {
        applications_dir: state.applications_dir.clone(),
        work_dir: state.work_dir.clone(),
        retention: work.retention,
    };
    let mut sink = ChannelSink {
        out: out.clone(),
        job_id: job_id.clone(),
    };
    let outcome =
        match tokio::task::spawn_blocking(move || run_step(&job, &cfg, &mut sink, &cancel)).await {
            Ok(o) => o,
            Err(e) => return failed(&job_id, format!("the step crashed: {e}"), received),
        };
    ab::StepResult {
        job_id,
        success: outcome.success,
        has_exit_code: outcome.exit_code.is_some(),
        exit_code: outcome.exit_code.unwrap_or(0),
        outputs: outcome
            .output_variables
            .into_iter()
            .map(|o| ab::Variable {
                name: o.name,
                value: o.value,
                sensitive: o.sensitive,
            })
            .collect(),
        error: outcome.error.unwrap_or_default(),
        chunk_bytes_received: received,
        installed_to: outcome
            .installed_to
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    }
}
