//! Files for tests: package archives (plain, stored, zero bombs), poorly compressible bytes,
//! and looking for a secret in every byte under a directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support

use std::path::Path;

/// Writes a .tar.gz at `path` with the given (name, contents, mode) entries.
pub fn write_tar_gz(path: &Path, entries: &[(&str, &[u8], u32)]) {
    let f = std::fs::File::create(path).expect("create archive");
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut t = tar::Builder::new(gz);
    for (name, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        t.append_data(&mut h, name, *data).expect("append");
    }
    t.into_inner().expect("tar").finish().expect("gzip");
}

/// Writes a .tar.gz holding one file, with gzip "stored" blocks (no compression), so that a
/// change in `data` stays local in the archive (as it would in an archive of binaries).
pub fn write_stored_tar_gz(path: &Path, entry: &str, data: &[u8]) {
    let f = std::fs::File::create(path).expect("create archive");
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::none());
    let mut t = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, entry, data).expect("append");
    t.into_inner().expect("tar").finish().expect("gzip");
}

/// A `.tar.gz` holding `entry`: `len` zero bytes, compressed as well as gzip can (a bomb when
/// `len` is large), written without holding them in memory.
pub fn write_zeros_tar_gz(path: &Path, entry: &str, len: u64) {
    use std::io::Read;
    let f = std::fs::File::create(path).expect("create archive");
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
    let mut t = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o755);
    h.set_cksum();
    t.append_data(&mut h, entry, std::io::repeat(0).take(len))
        .expect("append");
    t.into_inner().expect("tar").finish().expect("gzip");
}

/// Deterministic pseudo-random bytes (xorshift), poorly compressible.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Every file's bytes under `dir`, concatenated (to look for leaked secrets).
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Copies the directory tree `from` to `to` (regular files and directories, modes kept; a
/// socket such as `control.sock` is not copied).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for e in std::fs::read_dir(from).expect("read the directory") {
        let e = e.expect("directory entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ty = e.file_type().expect("file type");
        if ty.is_dir() {
            copy_dir(&src, &dst);
        } else if ty.is_file() {
            std::fs::copy(&src, &dst).expect("copy a file");
        }
    }
}
