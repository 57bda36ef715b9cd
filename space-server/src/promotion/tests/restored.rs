//! Unit tests of `restored.rs`: what a peer holds from a Space, and the counter moved past it.

use super::*;
use storage::{Batch, MemoryStore};

fn result(store: &MemoryStore, from: &str, digest: &str, id: &str) {
    let mut b = Batch::new();
    b.put(
        RemoteResult::TABLE,
        &key_of(&[from, digest, id]),
        b"{}".to_vec(),
    );
    store.commit(b).unwrap();
}

#[test]
fn what_a_peer_holds_is_counted_per_sender() {
    let store = MemoryStore::new();
    result(&store, "Prod", "sha256:aa", "Deployments-3");
    result(&store, "Prod", "sha256:bb", "Deployments-12");
    result(&store, "Prodigy", "sha256:aa", "Deployments-99");
    result(&store, "QA", "sha256:aa", "Deployments-40");
    let seen = seen_in(&store, "Prod").unwrap();
    assert_eq!(
        seen,
        Seen {
            max_deployment: 12,
            receipts: 2
        }
    );
    assert_eq!(seen_in(&store, "Nobody").unwrap(), Seen::default());
}

#[test]
fn new_deployments_are_numbered_past_what_peers_have_seen() {
    let store = MemoryStore::new();
    for _ in 0..5 {
        store.next_id(COUNTER).unwrap();
    }
    let line = account(
        &store,
        "DevTest",
        Seen {
            max_deployment: 3,
            receipts: 3,
        },
    )
    .unwrap();
    assert!(line.contains("no deployment of this Space newer"), "{line}");
    assert_eq!(store.next_id(COUNTER).unwrap(), 6);

    let line = account(
        &store,
        "DevTest",
        Seen {
            max_deployment: 9,
            receipts: 9,
        },
    )
    .unwrap();
    assert!(
        line.contains("Deployments-7 to 9 happened after the backup"),
        "{line}"
    );
    assert_eq!(store.next_id(COUNTER).unwrap(), 10);

    let line = account(
        &store,
        "Liar",
        Seen {
            max_deployment: u64::MAX,
            receipts: 1,
        },
    )
    .unwrap();
    assert!(line.contains("not believed"), "{line}");
    assert_eq!(store.next_id(COUNTER).unwrap(), 11);
}
