//! One storage test suite, run against every backend.

use super::*;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thing {
    name: String,
    n: u32,
}

impl Record for Thing {
    const TABLE: &'static str = "thing";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

fn thing(name: &str, n: u32) -> Thing {
    Thing {
        name: name.into(),
        n,
    }
}

fn crud(s: &dyn Store) {
    let mut b = Batch::new();
    b.insert_record(&thing("Alpha", 1)).unwrap();
    s.commit(b).unwrap();
    assert_eq!(
        s.get_record::<Thing>("alpha").unwrap(),
        Some(thing("Alpha", 1))
    );
    // insert of an existing key conflicts and writes nothing else of the batch
    let mut b = Batch::new();
    b.insert_record(&thing("Beta", 2)).unwrap();
    b.insert_record(&thing("ALPHA", 3)).unwrap();
    assert!(matches!(s.commit(b), Err(StorageError::Conflict { .. })));
    assert_eq!(s.get_record::<Thing>("beta").unwrap(), None);
    assert_eq!(s.get_record::<Thing>("alpha").unwrap().unwrap().n, 1);
    // put replaces, delete removes
    let mut b = Batch::new();
    b.put_record(&thing("Alpha", 9)).unwrap();
    s.commit(b).unwrap();
    assert_eq!(s.get_record::<Thing>("alpha").unwrap().unwrap().n, 9);
    let mut b = Batch::new();
    b.delete("thing", "alpha");
    s.commit(b).unwrap();
    assert_eq!(s.get_record::<Thing>("alpha").unwrap(), None);
}

fn expect_precondition(s: &dyn Store) {
    let mut b = Batch::new();
    b.put("t", "k", b"one".to_vec());
    s.commit(b).unwrap();
    let mut b = Batch::new();
    b.require("t", "k", Some(b"two".to_vec()))
        .put("t", "k", b"three".to_vec())
        .put("t", "other", b"x".to_vec());
    assert!(matches!(s.commit(b), Err(StorageError::Changed { .. })));
    assert_eq!(s.get("t", "k").unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(s.get("t", "other").unwrap(), None);
    let mut b = Batch::new();
    b.require("t", "k", Some(b"one".to_vec()))
        .put("t", "k", b"three".to_vec());
    s.commit(b).unwrap();
    let mut b = Batch::new();
    b.require("t", "absent", None)
        .put("t", "absent", b"y".to_vec());
    s.commit(b).unwrap();
    assert_eq!(s.get("t", "absent").unwrap().as_deref(), Some(&b"y"[..]));
}

fn scan_and_paginate(s: &dyn Store) {
    let mut b = Batch::new();
    for i in 0..25 {
        b.put("p", &key_of(&["proj", &format!("item{i:02}")]), vec![i]);
        b.put("p", &key_of(&["proja", &format!("x{i:02}")]), vec![i]);
    }
    b.put("q", &key_of(&["proj", "item00"]), vec![99]);
    s.commit(b).unwrap();
    let prefix = prefix_of(&["proj"]);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.scan("p", &prefix, after.as_deref(), 10).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(_, v)| v[0]));
    }
    assert_eq!(seen, (0..25).collect::<Vec<u8>>());
}

fn typed_pages(s: &dyn Store) {
    let mut b = Batch::new();
    for i in 0..7 {
        b.put_record(&thing(&format!("n{i}"), i)).unwrap();
    }
    s.commit(b).unwrap();
    let (p1, next) = s.list_records::<Thing>("", None, 3).unwrap();
    assert_eq!(p1.len(), 3);
    let (p2, next) = s.list_records::<Thing>("", next.as_deref(), 3).unwrap();
    assert_eq!(p2.len(), 3);
    let (p3, next) = s.list_records::<Thing>("", next.as_deref(), 3).unwrap();
    assert_eq!(p3.len(), 1);
    assert!(next.is_none());
    assert_eq!(s.all_records::<Thing>("").unwrap().len(), 7);
}

fn versions(s: &dyn Store) {
    let mut b = Batch::new();
    b.put(
        "thing",
        "future",
        br#"{"v":99,"data":{"name":"f","n":1}}"#.to_vec(),
    );
    b.put("thing", "garbage", b"not json".to_vec());
    s.commit(b).unwrap();
    let e = s.get_record::<Thing>("future").unwrap_err();
    assert!(matches!(e, StorageError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("upgrade"));
    assert!(matches!(
        s.get_record::<Thing>("garbage"),
        Err(StorageError::Corrupt { .. })
    ));
}

fn counters(s: &dyn Store) {
    assert_eq!(s.next_id("deployments").unwrap(), 1);
    assert_eq!(s.next_id("deployments").unwrap(), 2);
    assert_eq!(s.next_id("releases").unwrap(), 1);
    assert_eq!(s.next_id("deployments").unwrap(), 3);
    // Raising moves a counter up, never down.
    assert_eq!(s.raise_id("deployments", 10).unwrap(), 10);
    assert_eq!(s.raise_id("deployments", 4).unwrap(), 10);
    assert_eq!(s.next_id("deployments").unwrap(), 11);
    assert_eq!(s.raise_id("fresh", 5).unwrap(), 5);
}

fn transactions(s: &dyn Store) {
    // read-modify-write; reads see the transaction's own writes
    let n = s
        .transaction(|tx| {
            tx.put_record(&thing("Counter", 1))?;
            let mut t: Thing = tx.get_record("counter")?.ok_or(StorageError::Aborted)?;
            t.n += 1;
            tx.put_record(&t)?;
            Ok::<_, StorageError>(t.n)
        })
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(s.get_record::<Thing>("counter").unwrap().unwrap().n, 2);
    // the caller's own error aborts the whole transaction and comes back unchanged
    #[derive(Debug, PartialEq)]
    enum Mine {
        NotToday,
        Store(String),
    }
    impl From<StorageError> for Mine {
        fn from(e: StorageError) -> Self {
            Mine::Store(e.to_string())
        }
    }
    let r: Result<(), Mine> = s.transaction(|tx| {
        tx.put_record(&thing("Counter", 99))?;
        tx.put_record(&thing("Ghost", 1))?;
        Err(Mine::NotToday)
    });
    assert_eq!(r, Err(Mine::NotToday));
    assert_eq!(s.get_record::<Thing>("counter").unwrap().unwrap().n, 2);
    assert_eq!(s.get_record::<Thing>("ghost").unwrap(), None);
    // insert of an existing key fails the transaction with Conflict and writes nothing
    let r = s.transaction(|tx| {
        tx.put_record(&thing("Other", 1))?;
        tx.insert_record(&thing("COUNTER", 5))
    });
    assert!(matches!(r, Err(StorageError::Conflict { .. })), "{r:?}");
    assert_eq!(s.get_record::<Thing>("other").unwrap(), None);
    // delete inside a transaction
    s.transaction(|tx| tx.delete("thing", "counter")).unwrap();
    assert_eq!(s.get_record::<Thing>("counter").unwrap(), None);
}

fn revisions(s: &dyn Store) {
    let mut b = Batch::new();
    b.insert_record(&thing("Rev", 1)).unwrap();
    s.commit(b).unwrap();
    assert_eq!(
        s.get_versioned("thing", "rev").unwrap().unwrap().revision,
        1
    );
    let mut b = Batch::new();
    b.put_record(&thing("Rev", 2)).unwrap();
    s.commit(b).unwrap();
    let (t, rev) = s.get_record_versioned::<Thing>("rev").unwrap().unwrap();
    assert_eq!((t.n, rev), (2, 2));
    // compare-and-swap on the revision: a stale revision changes nothing
    let mut b = Batch::new();
    b.require_revision("thing", "rev", Some(1))
        .put_record(&thing("Rev", 3))
        .unwrap();
    assert!(matches!(s.commit(b), Err(StorageError::Changed { .. })));
    let mut b = Batch::new();
    b.require_revision("thing", "rev", Some(2))
        .put_record(&thing("Rev", 3))
        .unwrap();
    s.commit(b).unwrap();
    assert_eq!(
        s.get_versioned("thing", "rev").unwrap().unwrap().revision,
        3
    );
    // `None` requires absence
    let mut b = Batch::new();
    b.require_revision("thing", "rev", None);
    assert!(matches!(s.commit(b), Err(StorageError::Changed { .. })));
    // deleting and creating again starts over
    let mut b = Batch::new();
    b.delete("thing", "rev");
    s.commit(b).unwrap();
    let mut b = Batch::new();
    b.require_revision("thing", "rev", None)
        .insert_record(&thing("Rev", 1))
        .unwrap();
    s.commit(b).unwrap();
    assert_eq!(
        s.get_versioned("thing", "rev").unwrap().unwrap().revision,
        1
    );
}

/// Many writers doing read-modify-write of one record at once: no update is lost.
fn concurrent_writers(s: &dyn Store) {
    let mut b = Batch::new();
    b.put_record(&thing("Shared", 0)).unwrap();
    s.commit(b).unwrap();
    const WRITERS: u32 = 8;
    const EACH: u32 = 40;
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| {
                for _ in 0..EACH {
                    s.transaction(|tx| {
                        let mut t: Thing = tx.get_record("shared")?.ok_or(StorageError::Aborted)?;
                        t.n += 1;
                        tx.put_record(&t)
                    })
                    .unwrap();
                }
            });
        }
    });
    let (t, rev) = s.get_record_versioned::<Thing>("shared").unwrap().unwrap();
    assert_eq!(t.n, WRITERS * EACH, "lost updates");
    assert_eq!(rev, u64::from(WRITERS * EACH) + 1);
}

/// Paging starts after the last key instead of re-walking the prefix, and stays in it.
fn scan_starts_after(s: &dyn Store) {
    let mut b = Batch::new();
    for k in ["p\u{1f}a", "p\u{1f}b", "p\u{1f}c", "q\u{1f}a"] {
        b.put("pages", k, k.as_bytes().to_vec());
    }
    s.commit(b).unwrap();
    let keys = |after: Option<&str>| -> Vec<String> {
        s.scan("pages", "p\u{1f}", after, 10)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(keys(Some("p\u{1f}a")), ["p\u{1f}b", "p\u{1f}c"]);
    assert_eq!(keys(Some("p\u{1f}c")), Vec::<String>::new());
    // a start before the prefix begins at the prefix
    assert_eq!(keys(Some("a")).len(), 3);
}

/// A snapshot taken while writers commit pairs of rows sees every pair whole, and loading
/// it into an empty store (of either backend) gives the same rows, revisions and counters.
fn snapshot_and_load(s: &dyn Store, fresh: &dyn Store) {
    s.next_id("ids").unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for w in 0..3 {
            let stop = &stop;
            scope.spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let v = format!("{w}-{i}").into_bytes();
                    let mut b = Batch::new();
                    b.put("pair", &format!("a{w}"), v.clone())
                        .put("pair", &format!("b{w}"), v);
                    s.commit(b).unwrap();
                    s.next_id("ids").unwrap();
                    i += 1;
                }
            });
        }
        // At least 20 snapshots, and until every writer is in one with some commits.
        let mut taken = 0;
        loop {
            let rows = s.snapshot().unwrap();
            let get = |k: &str| rows.iter().find(|r| r.table == "pair" && r.key == k);
            let mut busy = 0;
            for w in 0..3 {
                let (a, b) = (get(&format!("a{w}")), get(&format!("b{w}")));
                assert_eq!(
                    a.map(|r| (&r.value, r.revision)),
                    b.map(|r| (&r.value, r.revision)),
                    "half a batch"
                );
                busy += usize::from(a.is_some_and(|r| r.revision > 3));
            }
            taken += 1;
            if taken >= 20 && busy == 3 {
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let rows = s.snapshot().unwrap();
    fresh.load(&rows).unwrap();
    assert_eq!(fresh.snapshot().unwrap(), rows);
    let ids = rows
        .iter()
        .find(|r| r.table == COUNTER_TABLE && r.key == "ids")
        .unwrap()
        .revision;
    assert_eq!(
        fresh.next_id("ids").unwrap(),
        ids + 1,
        "counters go on where they were"
    );
    assert_eq!(
        s.get_versioned("pair", "a0").unwrap(),
        fresh.get_versioned("pair", "a0").unwrap()
    );
    assert!(matches!(fresh.load(&rows), Err(StorageError::NotEmpty)));
}

fn all(s: &dyn Store) {
    crud(s);
    expect_precondition(s);
    scan_and_paginate(s);
    scan_starts_after(s);
    typed_pages(s);
    versions(s);
    counters(s);
    transactions(s);
    revisions(s);
    concurrent_writers(s);
    s.flush().unwrap();
}

#[test]
fn memory_backend() {
    all(&MemoryStore::new());
}

#[test]
fn sled_backend() {
    let dir = tempfile::tempdir().unwrap();
    all(&SledStore::open(&dir.path().join("db")).unwrap());
}

#[test]
fn snapshots_are_whole_and_load_into_either_backend() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open(&dir.path().join("a")).unwrap();
    snapshot_and_load(&sled, &MemoryStore::new());
    let fresh = SledStore::open(&dir.path().join("b")).unwrap();
    snapshot_and_load(&MemoryStore::new(), &fresh);
    drop(fresh);
    // What was loaded is durable: it opens again with the same rows.
    let again = SledStore::open(&dir.path().join("b")).unwrap();
    assert!(again.snapshot().unwrap().iter().any(|r| r.table == "pair"));
}

#[test]
fn sled_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SledStore::open(&dir.path().join("db")).unwrap();
        let mut b = Batch::new();
        b.put_record(&thing("Kept", 5)).unwrap();
        s.commit(b).unwrap();
        s.next_id("c").unwrap();
        s.flush().unwrap();
    }
    let s = SledStore::open(&dir.path().join("db")).unwrap();
    assert_eq!(s.get_record::<Thing>("kept").unwrap().unwrap().n, 5);
    assert_eq!(s.next_id("c").unwrap(), 2);
}

/// Values written before revisions existed (no frame) read as revision 0, keep their bytes,
/// and get revision 1 on their next write.
#[test]
fn sled_reads_values_written_before_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(&dir.path().join("db")).unwrap();
    let legacy = encode(&thing("Old", 7)).unwrap();
    s.put_legacy("thing", "old", &legacy);
    let (t, rev) = s.get_record_versioned::<Thing>("old").unwrap().unwrap();
    assert_eq!((t, rev), (thing("Old", 7), 0));
    assert_eq!(s.scan("thing", "", None, 10).unwrap()[0].1, legacy);
    let mut b = Batch::new();
    b.require_revision("thing", "old", Some(0))
        .put_record(&thing("Old", 8))
        .unwrap();
    s.commit(b).unwrap();
    let (t, rev) = s.get_record_versioned::<Thing>("old").unwrap().unwrap();
    assert_eq!((t.n, rev), (8, 1));
}

/// One flipped byte in the middle of sled's file makes sled drop every record after it, without
/// an error: the position kept outside the database catches it, and opening is refused with
/// what is missing and how to recover (`sled_survives_reopen`: a clean reopen goes on).
#[test]
fn a_damaged_sled_file_that_lost_commits_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db");
    {
        let s = SledStore::open(&p).unwrap();
        for i in 0..400 {
            let mut b = Batch::new();
            b.put_record(&thing(&format!("k{i:04}"), i)).unwrap();
            s.commit(b).unwrap();
            s.flush().unwrap();
        }
    }
    let f = p.join("db");
    let mut bytes = std::fs::read(&f).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&f, &bytes).unwrap();
    let e = SledStore::open(&p).err().expect("refused");
    let text = e.to_string();
    assert!(matches!(e, StorageError::RolledBack { .. }), "{text}");
    assert!(
        text.contains("commit(s)")
            && text.contains("are missing")
            && text.contains("restore the data directory from a backup"),
        "{text}"
    );
    // Accepting the loss: without the position file it opens (with what survived).
    std::fs::remove_file(crate::position::path_for(&p)).unwrap();
    let s = SledStore::open(&p).unwrap();
    assert!(s.scan("thing", "", None, 1000).unwrap().len() < 400);
}
