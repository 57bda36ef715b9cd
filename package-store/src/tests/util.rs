//! Test helpers: a seeded PRNG and builders for (possibly malicious) tar.gz and zip archives.

use std::io::{Cursor, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;

/// `len` bytes from a seeded splitmix64 stream (incompressible, reproducible).
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
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

/// One archive entry to build; names and targets are written verbatim (no sanitising).
pub(crate) enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

/// A tar.gz with exactly these entries.
pub(crate) fn tar_gz(entries: &[E<'_>]) -> Vec<u8> {
    let gz = GzEncoder::new(Vec::new(), Compression::fast());
    let mut b = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data, mode, kind, link): (&str, &[u8], u32, tar::EntryType, Option<&str>) =
            match e {
                E::File(n, d, m) => (n, d, *m, tar::EntryType::Regular, None),
                E::Dir(n) => (n, b"", 0o755, tar::EntryType::Directory, None),
                E::Symlink(n, t) => (n, b"", 0o777, tar::EntryType::Symlink, Some(t)),
                E::Hardlink(n, t) => (n, b"", 0o644, tar::EntryType::Link, Some(t)),
                E::Fifo(n) => (n, b"", 0o644, tar::EntryType::Fifo, None),
            };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.set_link_name_literal(t).unwrap();
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A zip with exactly these entries (deflated files, so CRC and inflate are exercised).
pub(crate) fn zip(entries: &[E<'_>]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for e in entries {
        match e {
            E::File(n, d, m) => {
                w.start_file(*n, opts.unix_permissions(*m)).unwrap();
                w.write_all(d).unwrap();
            }
            E::Dir(n) => w.add_directory(*n, opts).unwrap(),
            E::Symlink(n, t) => w.add_symlink(*n, *t, opts).unwrap(),
            E::Hardlink(..) | E::Fifo(..) => panic!("zip cannot hold this entry"),
        }
    }
    w.finish().unwrap().into_inner()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Writes `bytes` over a file at `offset` (damage in place).
pub(crate) fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}
