//! Sizes the API accepts and answers. What a write could store must be readable back through
//! an answer (the CLI reads at most 4 MiB per message), so records are capped when written,
//! lists are paged by bytes as well as by count, and a text field stored before the caps
//! existed is shown cut (with what was left out) rather than making its whole list unreadable.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The write caps, set in the `[limits]` table of the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// One variable value (default 64 KiB: certificates and keys fit).
    pub variable_value_bytes: usize,
    /// All values of one project together (default 1 MiB): a release freezes them all, and
    /// `release show` must fit one answer.
    pub variable_set_bytes: usize,
    /// A release's notes (default 64 KiB).
    pub release_notes_bytes: usize,
    /// An inline script of a step (default 256 KiB).
    pub script_bytes: usize,
    /// A project's whole deployment process, its steps and scripts (default 1 MiB): a
    /// release freezes it too.
    pub process_bytes: usize,
    /// What one package may unpack to, checked when it is uploaded or imported
    /// (`[limits.extract]`: `max_bytes` 64 GiB, `max_entries` 1,000,000, `max_ratio` 200).
    pub extract: package_store::ExtractLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            variable_value_bytes: 64 << 10,
            variable_set_bytes: 1 << 20,
            release_notes_bytes: 64 << 10,
            script_bytes: 256 << 10,
            process_bytes: 1 << 20,
            extract: package_store::ExtractLimits::default(),
        }
    }
}

/// Bytes of records one list answer holds at most (it holds at least one record).
pub const PAGE_BYTES: usize = 1 << 20;
/// Longest text an answer shows whole (longer ones were stored before the caps).
pub const SHOWN_BYTES: usize = 256 << 10;

/// INVALID if `what` (`bytes` long) is over `max`, naming the setting that raises it.
pub fn check(what: &str, bytes: usize, max: usize, setting: &str) -> Result<(), ApiError> {
    if bytes > max {
        return Err(ApiError::Invalid(format!(
            "{what} is {bytes} bytes, more than this Space accepts ({max} bytes, limits.{setting}): nothing was changed"
        )));
    }
    Ok(())
}

/// `s` as an answer shows it: whole up to [`SHOWN_BYTES`], else cut at a character boundary
/// with a note of how much was left out.
pub fn shown(s: String) -> String {
    if s.len() <= SHOWN_BYTES {
        return s;
    }
    let mut cut = SHOWN_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… [{} more bytes not shown: stored before the size limits; replace or delete it]",
        &s[..cut],
        s.len() - cut
    )
}

/// How many of `sizes` (in order) one page takes: at least one, then while the total stays
/// within [`PAGE_BYTES`].
pub fn page_len(sizes: impl IntoIterator<Item = usize>) -> usize {
    let mut total = 0usize;
    let mut n = 0;
    for s in sizes {
        total = total.saturating_add(s);
        if n > 0 && total > PAGE_BYTES {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_at_least_one_record_and_at_most_the_byte_budget() {
        assert_eq!(page_len([]), 0);
        assert_eq!(page_len([PAGE_BYTES * 7]), 1);
        assert_eq!(page_len([10, 20, 30]), 3);
        assert_eq!(page_len([PAGE_BYTES / 2, PAGE_BYTES / 2, 1, 5]), 2);
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_note() {
        assert_eq!(shown("short".into()), "short");
        let s = "é".repeat(SHOWN_BYTES);
        let out = shown(s);
        assert!(out.len() < SHOWN_BYTES + 200);
        assert!(
            out.contains(&format!("{} more bytes not shown", SHOWN_BYTES)),
            "{}",
            &out[out.len() - 120..]
        );
        assert!(check("a value", 10, 5, "variable_value_bytes").is_err());
        assert!(check("a value", 5, 5, "variable_value_bytes").is_ok());
    }
}
