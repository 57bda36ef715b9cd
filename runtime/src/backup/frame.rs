//! The framing of a backup file: `[tag u8][len u32 BE][payload]`, hashed as written and read
//! (the digest covers every byte before the end frame).

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};
use storage::Row;

/// The largest frame read back (a row, a file or a chunk): 256 MiB.
pub const MAX_FRAME: u32 = 256 << 20;

pub struct Writer<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.sha.update(b);
        self.bytes += b.len() as u64;
        self.inner.write_all(b)
    }

    pub fn frame(&mut self, tag: u8, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(|| io::Error::other("an entry is larger than 256 MiB"))?;
        self.raw(&[tag])?;
        self.raw(&len.to_be_bytes())?;
        self.raw(payload)
    }

    pub fn json<T: serde::Serialize>(&mut self, tag: u8, v: &T) -> io::Result<()> {
        self.frame(tag, &serde_json::to_vec(v).map_err(io::Error::other)?)
    }

    pub fn row(&mut self, r: &Row) -> io::Result<()> {
        let mut p = Vec::with_capacity(16 + r.table.len() + r.key.len() + r.value.len());
        put_str(&mut p, &r.table);
        put_str(&mut p, &r.key);
        p.extend_from_slice(&r.revision.to_be_bytes());
        p.extend_from_slice(&r.value);
        self.frame(b'R', &p)
    }

    pub fn file(&mut self, rel: &str, mode: u32, bytes: &[u8]) -> io::Result<()> {
        let mut p = Vec::with_capacity(8 + rel.len() + bytes.len());
        put_str(&mut p, rel);
        p.extend_from_slice(&mode.to_be_bytes());
        p.extend_from_slice(bytes);
        self.frame(b'F', &p)
    }

    /// The SHA-256 of everything written so far.
    pub fn digest(&self) -> [u8; 32] {
        self.sha.clone().finalize().into()
    }

    pub fn finish(self) -> (W, u64) {
        (self.inner, self.bytes)
    }
}

fn put_str(p: &mut Vec<u8>, s: &str) {
    p.extend_from_slice(&(s.len() as u32).to_be_bytes());
    p.extend_from_slice(s.as_bytes());
}

pub struct Reader<R: Read> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
        }
    }

    pub fn raw(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.inner.read_exact(&mut b)?;
        self.sha.update(&b);
        Ok(b)
    }

    /// The next frame; the digest before it is returned too (the end frame is checked
    /// against it).
    pub fn next(&mut self) -> io::Result<(u8, Vec<u8>, [u8; 32])> {
        let before: [u8; 32] = self.sha.clone().finalize().into();
        let head = self.raw(5)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_FRAME {
            return Err(io::Error::other("an entry claims more than 256 MiB"));
        }
        Ok((head[0], self.raw(len as usize)?, before))
    }
}

/// Splits a length-prefixed string off the front of `p`.
pub fn take_str(p: &[u8]) -> Option<(String, &[u8])> {
    let (len, rest) = p.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    Some((String::from_utf8(s.to_vec()).ok()?, rest))
}

pub fn parse_row(p: &[u8]) -> Option<Row> {
    let (table, rest) = take_str(p)?;
    let (key, rest) = take_str(rest)?;
    let (rev, value) = rest.split_first_chunk::<8>()?;
    Some(Row {
        table,
        key,
        revision: u64::from_be_bytes(*rev),
        value: value.to_vec(),
    })
}

pub fn parse_file(p: &[u8]) -> Option<(String, u32, &[u8])> {
    let (rel, rest) = take_str(p)?;
    let (mode, bytes) = rest.split_first_chunk::<4>()?;
    Some((rel, u32::from_be_bytes(*mode), bytes))
}
