//! Compact inventories: packages held whole named once, resolved by the source's own
//! manifests; older files still read; damage and lies cost bytes, never a missing chunk.

use super::*;
use crate::ChunkHash;

fn written(inv: &Inventory) -> Vec<u8> {
    let mut bytes = Vec::new();
    inv.write_to(&mut bytes).unwrap();
    bytes
}

#[test]
fn a_package_held_whole_is_named_once_and_resolves_to_its_chunks() {
    let ((_a, src), (_b, dst), m1, m2) = pair();
    let full = Inventory::from_store(&dst, "Prod").unwrap();
    let compact = Inventory::compact(&dst, "Prod", std::slice::from_ref(&m1)).unwrap();
    assert_eq!((compact.packages().len(), compact.len()), (1, 0));
    let (full_bytes, compact_bytes) = (written(&full), written(&compact));
    assert!(compact_bytes.len() < 120, "{}", compact_bytes.len());
    assert!(full_bytes.len() > 32 * m1.chunks.len());

    // The source reads it, counts m1's chunks by its own manifest, and sends what the full
    // inventory would have let it send.
    let mut inv = Inventory::read_from(&compact_bytes[..]).unwrap();
    let r = inv.resolve(|id, v| (id == m1.id && v == m1.version).then(|| m1.chunks.clone()));
    assert_eq!((r.matched, r.unknown), (1, 0));
    let export = |inv: &Inventory| {
        let opts = ExportOptions {
            inventory: Some(inv),
            bases: std::slice::from_ref(&m1),
        };
        export_to_vec(&src, std::slice::from_ref(&m2), opts)
    };
    let (with_compact, stats) = export(&inv);
    let (with_full, full_stats) = export(&full);
    assert_eq!(stats, full_stats);
    assert!(stats.skipped > 0);
    assert_eq!(with_compact.len(), with_full.len());
    import_vec(&dst, &with_compact).unwrap();
    assert!(read_back(&dst, &m2) == read_back(&src, &m2));
}

#[test]
fn a_package_the_source_knows_otherwise_costs_bytes_not_chunks() {
    let ((_a, src), (_b, dst), m1, m2) = pair();
    let mut inv = Inventory::compact(&dst, "Prod", std::slice::from_ref(&m1)).unwrap();
    // The source's 1.0.0 has other chunks (a different upload under the same name): the
    // held package is not used, so every chunk of m2 travels and the import is complete.
    let r = inv.resolve(|_, _| Some(m2.chunks.clone()));
    assert_eq!((r.matched, r.unknown), (0, 1));
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &[],
    };
    let (bytes, stats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    assert_eq!(stats.skipped, 0);
    let (_c, fresh) = store();
    import_vec(&fresh, &bytes).unwrap();
    assert!(read_back(&fresh, &m2) == read_back(&src, &m2));
    // Unknown to the source at all: the same.
    let mut inv = Inventory::compact(&dst, "Prod", std::slice::from_ref(&m1)).unwrap();
    assert_eq!(inv.resolve(|_, _| None).unknown, 1);
    assert!(!inv.contains(&m1.chunks[0].hash));
}

#[test]
fn a_package_missing_a_chunk_is_not_named_and_its_other_chunks_are_listed() {
    let ((_a, _src), (_b, dst), m1, m2) = pair();
    // The target knows m2's manifest (a pending bundle) but holds only the chunks it shares.
    let inv = Inventory::compact(&dst, "Prod", &[m1.clone(), m2.clone()]).unwrap();
    let names: Vec<&str> = inv.packages().iter().map(|p| p.version.as_str()).collect();
    assert_eq!(names, ["1.0.0"]);
    assert_eq!(inv.len(), 0, "every chunk held is one of 1.0.0's");
    let (_c, other) = store();
    let m3 = add(&other, "3.0.0", &pseudo_random(200_000, 5));
    let (b3, _) = export_to_vec(&other, std::slice::from_ref(&m3), ExportOptions::default());
    import_vec(&dst, &b3).unwrap();
    let inv = Inventory::compact(&dst, "Prod", std::slice::from_ref(&m1)).unwrap();
    assert_eq!(
        inv.len(),
        m3.chunks.len(),
        "chunks of no held package are listed"
    );
    assert!(m3.chunks.iter().all(|c| inv.contains(&c.hash)));
}

#[test]
fn the_compact_file_round_trips_and_refuses_damage() {
    let ((_a, _src), (_b, dst), m1, _m2) = pair();
    let (_c, other) = store();
    let m3 = add(&other, "3.0.0", &pseudo_random(100_000, 5));
    let (b3, _) = export_to_vec(&other, std::slice::from_ref(&m3), ExportOptions::default());
    import_vec(&dst, &b3).unwrap();
    let inv = Inventory::compact(&dst, "Prod", std::slice::from_ref(&m1)).unwrap();
    let bytes = written(&inv);
    reads_back_and_refuses_damage(&inv, &bytes);
}

/// An inventory as builds before 1.1 wrote it: every hash, no package section.
fn version_1_0(space: &str, hashes: &[ChunkHash]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut b = Vec::new();
    b.extend_from_slice(b"DPLYINVT");
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&(space.len() as u16).to_be_bytes());
    b.extend_from_slice(space.as_bytes());
    b.extend_from_slice(&(hashes.len() as u64).to_be_bytes());
    for h in hashes {
        b.extend_from_slice(h);
    }
    let sum = Sha256::digest(&b);
    b.extend_from_slice(&sum);
    b
}

#[test]
fn an_inventory_written_by_an_older_build_still_reads() {
    let inv = Inventory::new("Prod", [[3u8; 32], [1; 32]]);
    let old = version_1_0("Prod", &[[1u8; 32], [3; 32]]);
    assert_eq!(Inventory::read_from(&old[..]).unwrap(), inv);
}

#[test]
fn a_space_name_with_control_characters_is_refused() {
    let bytes = version_1_0("Pr\u{1b}[2Jod", &[]);
    let err = Inventory::read_from(&bytes[..]).unwrap_err();
    assert!(err.to_string().contains("control characters"), "{err}");
}
