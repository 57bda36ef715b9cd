//! How much one package may unpack to: bytes, entries, and bytes per archive byte (a gzip or
//! zip bomb unpacks a few megabytes into gigabytes). Checked while entries are read, so
//! validation at upload and extraction on agents and in drop runs stop at the limit, with an
//! error naming it, before the disk fills.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::PackageError;

/// The limits; `[limits]` in a Space's configuration, `PACKAGE_EXTRACT_*` on agents and for
/// drop runs ([`ExtractLimits::from_env`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractLimits {
    /// Bytes all entries of one package unpack to (default 64 GiB: four times the largest
    /// upload a Space accepts by default).
    pub max_bytes: u64,
    /// Entries in one package (default 1,000,000).
    pub max_entries: u64,
    /// Unpacked bytes per archive byte once [`RATIO_FLOOR`] is unpacked (default 200: text
    /// compresses 5-20 times, a bomb of zeros about 1,000 times).
    pub max_ratio: u64,
}

/// Unpacked bytes below which the ratio is not checked (small files of zeros are not bombs).
pub const RATIO_FLOOR: u64 = 64 << 20;

impl Default for ExtractLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 30,
            max_entries: 1_000_000,
            max_ratio: 200,
        }
    }
}

impl ExtractLimits {
    /// The defaults, each overridden by `PACKAGE_EXTRACT_MAX_BYTES`,
    /// `PACKAGE_EXTRACT_MAX_ENTRIES` or `PACKAGE_EXTRACT_MAX_RATIO` when set.
    pub fn from_env() -> Result<Self, PackageError> {
        let mut l = Self::default();
        for (var, slot) in [
            ("PACKAGE_EXTRACT_MAX_BYTES", &mut l.max_bytes),
            ("PACKAGE_EXTRACT_MAX_ENTRIES", &mut l.max_entries),
            ("PACKAGE_EXTRACT_MAX_RATIO", &mut l.max_ratio),
        ] {
            if let Ok(v) = std::env::var(var)
                && !v.trim().is_empty()
            {
                *slot = v.trim().parse().map_err(|_| PackageError::LimitExceeded {
                    reason: format!("{var}='{v}' is not a whole number"),
                })?;
            }
        }
        Ok(l)
    }
}

/// Bytes read from the archive itself (before decompression), shared with the budget.
#[derive(Debug, Clone, Default)]
pub(crate) struct Consumed(Rc<Cell<u64>>);

/// Counts what is read through it into a [`Consumed`].
pub(crate) struct Counting<R> {
    pub inner: R,
    pub consumed: Consumed,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.0.set(self.consumed.0.get() + n as u64);
        Ok(n)
    }
}

/// What one walk of an archive has unpacked so far, against its limits.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: ExtractLimits,
    entries: u64,
    bytes: u64,
    /// Bytes of the archive read so far, or (zip: read by index) its whole size.
    consumed: Consumed,
    archive_size: Option<u64>,
}

impl Budget {
    pub fn streaming(limits: ExtractLimits, consumed: Consumed) -> Self {
        Self {
            limits,
            entries: 0,
            bytes: 0,
            consumed,
            archive_size: None,
        }
    }

    pub fn sized(limits: ExtractLimits, archive_size: u64) -> Self {
        Self {
            archive_size: Some(archive_size),
            ..Self::streaming(limits, Consumed::default())
        }
    }

    pub fn entry(&mut self) -> Result<(), PackageError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(PackageError::LimitExceeded {
                reason: format!(
                    "more than {} entries (max_entries)",
                    self.limits.max_entries
                ),
            });
        }
        Ok(())
    }

    pub fn unpacked(&mut self, n: u64) -> Result<(), PackageError> {
        self.bytes += n;
        if self.bytes > self.limits.max_bytes {
            return Err(PackageError::LimitExceeded {
                reason: format!(
                    "it unpacks to more than {} bytes (max_bytes)",
                    self.limits.max_bytes
                ),
            });
        }
        let packed = self
            .archive_size
            .unwrap_or_else(|| self.consumed.0.get())
            .max(1);
        if self.bytes >= RATIO_FLOOR && self.bytes / packed > self.limits.max_ratio {
            return Err(PackageError::LimitExceeded {
                reason: format!(
                    "it unpacks to more than {} times its size ({} bytes from {packed}; max_ratio): a compression bomb?",
                    self.limits.max_ratio, self.bytes
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests/limits.rs"]
mod tests;
