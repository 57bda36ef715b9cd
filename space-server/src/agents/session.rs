//! One open session with an agent (either direction): routes its messages to the jobs waiting
//! for them and serves the package chunks it asks for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use package_store::{ChunkHash, ChunkStore};
use proto::agent::v1 as ab;
use tokio::sync::mpsc;

/// What a running step hears from its agent.
#[derive(Debug)]
pub enum JobEvent {
    Log {
        stream: String,
        text: String,
    },
    Done(ab::StepResult),
    /// The session ended before the step reported a result.
    Lost(String),
}

pub struct Session {
    pub target: String,
    pub out: mpsc::Sender<ab::ServerMessage>,
    jobs: Mutex<HashMap<String, mpsc::UnboundedSender<JobEvent>>>,
    /// The chunks each running job may ask for: those of its package, nothing else.
    allowed: Mutex<HashMap<String, std::collections::HashSet<ChunkHash>>>,
    closed: AtomicBool,
}

impl Session {
    pub fn new(target: String, out: mpsc::Sender<ab::ServerMessage>) -> Arc<Self> {
        Arc::new(Self {
            target,
            out,
            jobs: Mutex::new(HashMap::new()),
            allowed: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        })
    }

    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::SeqCst) && !self.out.is_closed()
    }

    /// Registers a job and sends its work; events arrive on the returned receiver.
    pub async fn start(
        &self,
        work: ab::StepWork,
    ) -> Result<mpsc::UnboundedReceiver<JobEvent>, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let hashes = work
            .package
            .iter()
            .flat_map(|m| m.chunks.iter())
            .filter_map(|c| ChunkHash::try_from(c.hash.as_slice()).ok())
            .collect();
        if let Ok(mut allowed) = self.allowed.lock() {
            allowed.insert(work.job_id.clone(), hashes);
        }
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(work.job_id.clone(), tx);
        }
        self.out
            .send(ab::ServerMessage {
                msg: Some(ab::server_message::Msg::Work(work)),
            })
            .await
            .map_err(|_| format!("the connection to target '{}' closed", self.target))?;
        Ok(rx)
    }

    pub async fn cancel(&self, job_id: &str) {
        let _ = self
            .out
            .send(ab::ServerMessage {
                msg: Some(ab::server_message::Msg::Cancel(ab::CancelWork {
                    job_id: job_id.to_string(),
                })),
            })
            .await;
    }

    fn job(&self, id: &str) -> Option<mpsc::UnboundedSender<JobEvent>> {
        self.jobs.lock().ok().and_then(|j| j.get(id).cloned())
    }

    /// Reads the agent's messages until the stream ends, then fails every job still waiting.
    pub async fn drive<S>(self: Arc<Self>, mut inbound: S, chunks: ChunkStore)
    where
        S: Stream<Item = Result<ab::AgentMessage, tonic::Status>> + Unpin,
    {
        let reason = loop {
            let msg = match inbound.next().await {
                None => break "the agent closed the session".to_string(),
                Some(Err(s)) => {
                    break format!("the connection to the agent failed: {}", s.message());
                }
                Some(Ok(m)) => m,
            };
            use ab::agent_message::Msg;
            match msg.msg {
                Some(Msg::Hello(h)) => {
                    tracing::info!(target = %self.target, hostname = %h.hostname, version = %h.agent_version, "agent session open")
                }
                Some(Msg::Log(l)) => {
                    if let Some(tx) = self.job(&l.job_id) {
                        let _ = tx.send(JobEvent::Log {
                            stream: l.stream,
                            text: l.text,
                        });
                    }
                }
                Some(Msg::Need(mut n)) => {
                    // Only chunks of the package of one of this session's running jobs.
                    let permitted = self
                        .allowed
                        .lock()
                        .ok()
                        .and_then(|a| a.get(&n.job_id).cloned());
                    let Some(permitted) = permitted else {
                        tracing::warn!(target = %self.target, job = %n.job_id, "agent asked for chunks of a job it is not running");
                        continue;
                    };
                    let asked = n.hashes.len();
                    n.hashes.retain(|h| {
                        ChunkHash::try_from(h.as_slice()).is_ok_and(|h| permitted.contains(&h))
                    });
                    if n.hashes.len() != asked {
                        tracing::warn!(target = %self.target, job = %n.job_id, refused = asked - n.hashes.len(), "agent asked for chunks outside its package");
                    }
                    let (out, chunks, target) =
                        (self.out.clone(), chunks.clone(), self.target.clone());
                    tokio::spawn(send_chunks(out, chunks, n, target));
                }
                Some(Msg::Result(r)) => {
                    if let Ok(mut a) = self.allowed.lock() {
                        a.remove(&r.job_id);
                    }
                    let tx = self.jobs.lock().ok().and_then(|mut j| j.remove(&r.job_id));
                    if let Some(tx) = tx {
                        let _ = tx.send(JobEvent::Done(r));
                    }
                }
                Some(Msg::Pong(_)) | None => {}
            }
        };
        self.closed.store(true, Ordering::SeqCst);
        tracing::info!(target = %self.target, reason = %reason, "agent session closed");
        let jobs: Vec<_> = self
            .jobs
            .lock()
            .map(|mut j| j.drain().collect())
            .unwrap_or_default();
        for (_, tx) in jobs {
            let _ = tx.send(JobEvent::Lost(reason.clone()));
        }
    }
}

async fn send_chunks(
    out: mpsc::Sender<ab::ServerMessage>,
    chunks: ChunkStore,
    need: ab::NeedChunks,
    target: String,
) {
    let mut bytes = 0u64;
    for h in need.hashes {
        let Ok(hash) = <ChunkHash>::try_from(h.as_slice()) else {
            continue;
        };
        let store = chunks.clone();
        let data = match tokio::task::spawn_blocking(move || store.get_compressed(&hash)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::error!(target = %target, error = %e, "cannot read a chunk an agent asked for");
                return;
            }
            Err(_) => return,
        };
        bytes += data.len() as u64;
        let msg = ab::ServerMessage {
            msg: Some(ab::server_message::Msg::Chunk(ab::ChunkData {
                job_id: need.job_id.clone(),
                hash: hash.to_vec(),
                zstd: data,
            })),
        };
        if out.send(msg).await.is_err() {
            return;
        }
    }
    tracing::debug!(target = %target, job = %need.job_id, bytes, "package chunks sent");
}

#[cfg(test)]
#[path = "tests/session.rs"]
mod tests;
