//! Unit tests of `pack.rs`: the record format and its scan.

use std::io::Write;

use super::*;

fn pack_with(records: &[(ChunkHash, &[u8])]) -> (tempfile::NamedTempFile, Vec<u64>) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(MAGIC).unwrap();
    let mut at = MAGIC.len() as u64;
    let mut starts = Vec::new();
    for (h, payload) in records {
        starts.push(at);
        f.write_all(&header(h, payload.len() as u32)).unwrap();
        f.write_all(payload).unwrap();
        at += HEADER_LEN + payload.len() as u64;
    }
    (f, starts)
}

#[test]
fn a_whole_pack_scans_to_its_records() {
    let (f, starts) = pack_with(&[([1; 32], b"one"), ([2; 32], b"second")]);
    let s = scan(f.as_file(), 1 << 20).unwrap();
    assert_eq!(s.stopped, None);
    assert_eq!(
        s.records,
        [
            Record {
                hash: [1; 32],
                offset: starts[0] + HEADER_LEN,
                len: 3
            },
            Record {
                hash: [2; 32],
                offset: starts[1] + HEADER_LEN,
                len: 6
            },
        ]
    );
    assert_eq!(s.valid_len, f.as_file().metadata().unwrap().len());
}

#[test]
fn a_torn_or_damaged_record_stops_the_scan_where_the_pack_is_whole() {
    let (f, starts) = pack_with(&[([1; 32], b"one"), ([2; 32], b"second"), ([3; 32], b"x")]);
    let size = f.as_file().metadata().unwrap().len();
    // A payload cut short.
    f.as_file().set_len(size - 1).unwrap();
    let s = scan(f.as_file(), 1 << 20).unwrap();
    assert_eq!(s.records.len(), 2);
    assert_eq!(s.valid_len, starts[2]);
    assert!(s.stopped.unwrap().contains("cut short"));
    // A flipped byte in the second header: only the first record is read.
    crate::testutil::overwrite(f.path(), starts[1] + 33, &[0xff]);
    let s = scan(f.as_file(), 1 << 20).unwrap();
    assert_eq!(s.records.len(), 1);
    assert!(s.stopped.unwrap().contains("damaged record header"));
    // A length over the limit is damage too.
    let (g, _) = pack_with(&[([4; 32], &[0; 100])]);
    assert!(scan(g.as_file(), 99).unwrap().records.is_empty());
}

#[test]
fn not_a_pack_and_names() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"DPACK\x00\x00\x02 later").unwrap();
    let s = scan(f.as_file(), 1 << 20).unwrap();
    assert!(s.records.is_empty() && s.stopped.is_some());
    assert_eq!(file_name(7), "pack-00000007.pack");
    assert_eq!(id_of(Path::new("/x/pack-00000007.pack")), Some(7));
    assert_eq!(id_of(Path::new("pack-7.pack")), None);
    assert_eq!(id_of(Path::new("pack-0000000x.pack")), None);
}
