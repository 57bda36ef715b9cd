//! Inventories and transfer archives: only missing chunks travel, exact reassembly after
//! import, tampering and truncation refused, idempotent import, deltas for scattered edits.

use std::io::Read;

use super::*;
use crate::{ArchiveFormat, ChunkStore, PackageManifest, PackageReader, ingest};

/// `len` reproducible incompressible bytes (splitmix64).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn store() -> (tempfile::TempDir, ChunkStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap().with_durability(false);
    (dir, store)
}

fn add(store: &ChunkStore, version: &str, data: &[u8]) -> PackageManifest {
    let ing = ingest(store, data).unwrap();
    PackageManifest {
        id: "Acme.Web".into(),
        version: version.into(),
        size: ing.size,
        sha256: ing.sha256,
        format: ArchiveFormat::TarGz,
        chunks: ing.chunks,
        uploaded_at: 1,
    }
}

fn read_back(store: &ChunkStore, m: &PackageManifest) -> Vec<u8> {
    let mut out = Vec::new();
    PackageReader::new(store.clone(), m)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn export_to_vec(
    store: &ChunkStore,
    ms: &[PackageManifest],
    opts: ExportOptions<'_>,
) -> (Vec<u8>, ExportStats) {
    let mut out = Vec::new();
    let mut calls = 0;
    let stats = export(store, ms, opts, &mut out, &mut |_, _| calls += 1).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    assert_eq!(calls, stats.chunks);
    (out, stats)
}

fn import_vec(store: &ChunkStore, bytes: &[u8]) -> Result<ImportStats, TransferError> {
    import(store, bytes, &mut |_| {})
}

/// `data` with `regions` regions of `len` bytes replaced, spread evenly.
fn scatter(data: &[u8], regions: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut out = data.to_vec();
    let fresh = pseudo_random(regions * len, seed);
    let step = data.len() / regions;
    for (i, patch) in fresh.chunks(len).enumerate() {
        let at = i * step + step / 2;
        out[at..at + len].copy_from_slice(patch);
    }
    out
}

#[test]
fn full_export_imports_into_a_fresh_store_exactly() {
    let (_a, src) = store();
    let data = pseudo_random(1_500_000, 1);
    let m = add(&src, "1.0.0", &data);
    let (bytes, stats) = export_to_vec(&src, std::slice::from_ref(&m), ExportOptions::default());
    assert_eq!(stats.chunks, m.chunks.len() as u64);
    assert_eq!(stats.skipped, 0);
    let (_b, dst) = store();
    let imported = import_vec(&dst, &bytes).unwrap();
    assert_eq!(imported.new_chunks, m.chunks.len() as u64);
    assert!(read_back(&dst, &m) == data);

    // Importing again changes nothing.
    let before = dst.stats().unwrap();
    let again = import_vec(&dst, &bytes).unwrap();
    assert_eq!((again.chunks, again.new_chunks), (imported.chunks, 0));
    assert_eq!(dst.stats().unwrap(), before);
}

/// Source and target both hold `m1` (2 MB); the source adds a scattered change as `m2`.
fn pair() -> (
    (tempfile::TempDir, ChunkStore),
    (tempfile::TempDir, ChunkStore),
    PackageManifest,
    PackageManifest,
) {
    let (a, src) = store();
    let (b, dst) = store();
    let v1 = pseudo_random(2_000_000, 2);
    let m1 = add(&src, "1.0.0", &v1);
    let (b1, _) = export_to_vec(&src, std::slice::from_ref(&m1), ExportOptions::default());
    import_vec(&dst, &b1).unwrap();
    let m2 = add(&src, "1.0.1", &scatter(&v1, 3, 1000, 9));
    ((a, src), (b, dst), m1, m2)
}

#[test]
fn with_inventory_only_missing_chunks_travel() {
    let ((_a, src), (_b, dst), m1, m2) = pair();
    let v2 = read_back(&src, &m2);
    let inv = Inventory::from_store(&dst, "Prod").unwrap();
    assert_eq!(inv.len(), m1.chunks.len());
    let missing = m2.chunks.iter().filter(|c| !inv.contains(&c.hash)).count() as u64;
    assert!(missing > 0 && missing < 10, "{missing}");
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &[],
    };
    let (b2, stats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    assert_eq!((stats.chunks, stats.deltas), (missing, 0));
    assert_eq!(stats.skipped, m2.chunks.len() as u64 - missing);
    let imported = import_vec(&dst, &b2).unwrap();
    assert_eq!(imported.new_chunks, missing);
    assert!(read_back(&dst, &m2) == v2);
}

/// `bytes` (the file `inv` wrote) reads back as `inv`; every flipped byte and every cut is
/// refused.
fn reads_back_and_refuses_damage(inv: &Inventory, bytes: &[u8]) {
    assert_eq!(&Inventory::read_from(bytes).unwrap(), inv);
    for i in 0..bytes.len() {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x20;
        assert!(Inventory::read_from(&bad[..]).is_err(), "byte {i}");
        assert!(Inventory::read_from(&bytes[..i]).is_err(), "cut at {i}");
    }
}

#[test]
fn inventory_file_round_trips_and_refuses_damage() {
    let inv = Inventory::new("Prod", [[3u8; 32], [1; 32], [3; 32]]);
    assert_eq!(inv.len(), 2);
    let mut bytes = Vec::new();
    inv.write_to(&mut bytes).unwrap();
    reads_back_and_refuses_damage(&inv, &bytes);
    let mut newer = bytes.clone();
    newer[9] = 9;
    let err = Inventory::read_from(&newer[..]).unwrap_err();
    assert!(matches!(err, TransferError::TooNew { .. }), "{err}");
}

#[test]
fn tampered_chunk_is_refused_by_name() {
    let (_a, src) = store();
    let m = add(&src, "1.0.0", &pseudo_random(300_000, 3));
    let (mut bytes, _) = export_to_vec(&src, std::slice::from_ref(&m), ExportOptions::default());
    // Header (12) + tag (1) + hash (32) + length (4): first record's payload.
    let hash = hex::encode(&bytes[13..45]);
    bytes[49 + 100] ^= 0x55;
    let (_b, dst) = store();
    let err = import_vec(&dst, &bytes).unwrap_err();
    assert!(
        matches!(&err, TransferError::CorruptChunk { hash: h, record: 0 } if *h == hash),
        "{err}"
    );
    assert!(err.to_string().contains(&hash));
    assert_eq!(dst.stats().unwrap().chunk_count, 0);
}

#[test]
fn truncated_or_altered_archive_is_refused() {
    let (_a, src) = store();
    let m = add(&src, "1.0.0", &pseudo_random(300_000, 4));
    let (bytes, _) = export_to_vec(&src, std::slice::from_ref(&m), ExportOptions::default());
    let (_b, dst) = store();
    for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() / 2, 20] {
        let err = import_vec(&dst, &bytes[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                TransferError::Truncated { .. } | TransferError::CorruptChunk { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(matches!(
        import_vec(&dst, &bad),
        Err(TransferError::BadChecksum)
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        import_vec(&dst, &longer),
        Err(TransferError::NotArchive(_))
    ));
    assert!(matches!(
        import_vec(&dst, b"PK\x03\x04 not ours"),
        Err(TransferError::NotArchive(_))
    ));
    // Nothing but verified chunks was ever stored: the good archive still imports.
    import_vec(&dst, &bytes).unwrap();
    assert!(read_back(&dst, &m) == pseudo_random(300_000, 4));
}

#[test]
fn missing_source_chunk_names_the_package() {
    let (_a, src) = store();
    let m = add(&src, "1.0.0", &pseudo_random(100_000, 5));
    src.remove(&m.chunks[0].hash).unwrap();
    let err = export(
        &src,
        &[m],
        ExportOptions::default(),
        Vec::new(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("Acme.Web@1.0.0"), "{err}");
}

/// A chunk damaged in the source's store is named when the archive is made, not after the
/// trip.
#[test]
fn a_damaged_source_chunk_is_named_at_export() {
    let (_a, src) = store();
    let m = add(&src, "1.0.0", &pseudo_random(100_000, 6));
    let (path, offset, _) = src.location(&m.chunks[1].hash).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(b"rot", offset + 10).unwrap();
    }
    let err = export(
        &src,
        std::slice::from_ref(&m),
        ExportOptions::default(),
        Vec::new(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&hex::encode(m.chunks[1].hash)),
        "{err}"
    );
}

/// A 1% change of a ~20 MiB package: the archive made with the target's inventory is small,
/// and deltas against the previous version make scattered tiny edits small too.
#[test]
fn one_percent_change_of_20_mib_travels_small() {
    const SIZE: usize = 20 << 20;
    let (_a, src) = store();
    let (_b, dst) = store();
    let v1 = pseudo_random(SIZE, 6);
    let m1 = add(&src, "1.0.0", &v1);
    let (b1, _) = export_to_vec(&src, std::slice::from_ref(&m1), ExportOptions::default());
    import_vec(&dst, &b1).unwrap();
    let inv = Inventory::from_store(&dst, "Prod").unwrap();

    // 20 regions of ~10 KiB: only the changed chunks travel, under 5% of the package.
    let v2 = scatter(&v1, 20, SIZE / 100 / 20, 7);
    let m2 = add(&src, "1.0.1", &v2);
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &[],
    };
    let (plain, stats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    let changed = m2.chunks.iter().filter(|c| !inv.contains(&c.hash)).count() as u64;
    assert_eq!(stats.chunks, changed);
    assert!(plain.len() < SIZE / 20, "{} bytes", plain.len());
    let bases = [m1.clone()];
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &bases,
    };
    let (delta, dstats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    assert!(dstats.deltas > 0 && delta.len() < plain.len());
    import_vec(&dst, &delta).unwrap();
    assert!(read_back(&dst, &m2) == v2);

    // 1,000 regions of ~200 B touch most chunks: whole chunks would be most of the package,
    // deltas keep it under 5%.
    let v3 = scatter(&v1, 1000, SIZE / 100 / 1000, 8);
    let m3 = add(&src, "1.0.2", &v3);
    let (delta, dstats) = export_to_vec(&src, std::slice::from_ref(&m3), opts);
    assert!(dstats.chunks > m3.chunks.len() as u64 / 2, "{dstats:?}");
    assert!(delta.len() < SIZE / 20, "{} bytes, {dstats:?}", delta.len());
    import_vec(&dst, &delta).unwrap();
    assert!(read_back(&dst, &m3) == v3);
}

#[test]
fn delta_without_its_base_is_refused_clearly() {
    let (_a, src) = store();
    let v1 = pseudo_random(400_000, 10);
    let m1 = add(&src, "1.0.0", &v1);
    let m2 = add(&src, "1.0.1", &scatter(&v1, 4, 100, 11));
    let inv = Inventory::new("Prod", m1.chunks.iter().map(|c| c.hash));
    let bases = [m1];
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &bases,
    };
    let (bytes, stats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    assert!(stats.deltas > 0);
    let (_b, empty) = store();
    let err = import_vec(&empty, &bytes).unwrap_err();
    assert!(matches!(err, TransferError::MissingBase { .. }), "{err}");
}

/// `n` insertions of `len` pseudo-random bytes spread over `data` (content after each shifts).
fn insert(data: &[u8], n: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + n * len);
    let step = data.len() / n;
    for (k, part) in data.chunks(step).enumerate() {
        out.extend_from_slice(part);
        if k < n {
            out.extend_from_slice(&pseudo_random(len, seed + k as u64));
        }
    }
    out
}

/// Insertions shift everything after them by more than a chunk: the base chunk to delta
/// against is found from the unchanged chunks around the edit, not from the byte offset.
#[test]
fn deltas_follow_content_that_moved() {
    let (_a, src) = store();
    let v1 = pseudo_random(4 << 20, 12);
    let m1 = add(&src, "1.0.0", &v1);
    let inv = Inventory::new("Prod", m1.chunks.iter().map(|c| c.hash));
    let v2 = insert(&v1, 20, 4096, 13);
    let m2 = add(&src, "1.0.1", &v2);
    let no_bases = ExportOptions {
        inventory: Some(&inv),
        bases: &[],
    };
    let (plain, _) = export_to_vec(&src, std::slice::from_ref(&m2), no_bases);
    let bases = [m1];
    let opts = ExportOptions {
        inventory: Some(&inv),
        bases: &bases,
    };
    let (delta, stats) = export_to_vec(&src, std::slice::from_ref(&m2), opts);
    assert!(stats.deltas * 4 >= stats.chunks * 3, "{stats:?}");
    assert!(
        delta.len() * 2 < plain.len(),
        "{} vs {} bytes",
        delta.len(),
        plain.len()
    );
    let (_b, dst) = store();
    let (full, _) = export_to_vec(
        &src,
        std::slice::from_ref(&bases[0]),
        ExportOptions::default(),
    );
    import_vec(&dst, &full).unwrap();
    import_vec(&dst, &delta).unwrap();
    assert!(read_back(&dst, &m2) == v2);
}

mod inventory;
