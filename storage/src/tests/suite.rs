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
}

fn all(s: &dyn Store) {
    crud(s);
    expect_precondition(s);
    scan_and_paginate(s);
    typed_pages(s);
    versions(s);
    counters(s);
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
