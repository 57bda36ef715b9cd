//! Unit tests of `session.rs`.

use super::*;
use proto::space::v1 as pb;

fn chunk(store: &ChunkStore, data: &[u8]) -> ChunkHash {
    let h = package_store::chunk_hash(data);
    store.put(&h, data).unwrap();
    h
}

#[tokio::test]
async fn an_agent_gets_only_the_chunks_of_its_own_jobs_package() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let mine = chunk(&store, b"chunk of the job's package");
    let other = chunk(&store, b"chunk of some other package");
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let session = Session::new("web-01".into(), out_tx);
    let work = ab::StepWork {
        job_id: "D-1/1/web-01".into(),
        package: Some(pb::PackageManifest {
            chunks: vec![pb::ChunkRef {
                hash: mine.to_vec(),
                length: 26,
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let _events = session.start(work).await.unwrap();
    let need = |job: &str, hashes: Vec<Vec<u8>>| {
        Ok(ab::AgentMessage {
            msg: Some(ab::agent_message::Msg::Need(ab::NeedChunks {
                job_id: job.into(),
                hashes,
            })),
        })
    };
    let inbound = futures::stream::iter(vec![
        need("D-9/1/web-01", vec![other.to_vec()]),
        need("D-1/1/web-01", vec![other.to_vec(), mine.to_vec()]),
    ]);
    session.clone().drive(inbound, store.clone()).await;
    let mut sent = Vec::new();
    while let Ok(Some(m)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), out_rx.recv()).await
    {
        if let Some(ab::server_message::Msg::Chunk(c)) = m.msg {
            sent.push(c.hash);
        }
    }
    assert_eq!(
        sent,
        vec![mine.to_vec()],
        "only the job's own chunk is sent"
    );
}
