//! Masking of secret values in log text.

/// What a masked secret is replaced by.
pub const MASK: &str = "********";

/// Replaces every occurrence of any secret by `"********"`.
///
/// Secrets are matched longest first, and overlapping or nested occurrences are handled:
/// every byte covered by an occurrence of any secret is hidden, and each maximal run of
/// overlapping occurrences becomes a single `"********"`. So with secrets `abcd` and `cdef`,
/// `"xabcdefx"` becomes `"x********x"` (a naive replace-one-after-the-other would leak `ef`).
/// Empty secrets are ignored.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    sorted.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    sorted.dedup();

    // Byte ranges [start, end) of every occurrence, overlapping ones included.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for secret in sorted {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|rest| rest.find(secret)) {
            let start = from + found;
            ranges.push((start, start + secret.len()));
            // Advance by one character so overlapping occurrences are found too.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if ranges.is_empty() {
        return text.to_string();
    }
    ranges.sort_unstable();

    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // text[..copied] has been handled
    let mut current: Option<(usize, usize)> = None;
    for (start, end) in ranges {
        match current {
            Some((s, e)) if start < e => current = Some((s, e.max(end))),
            _ => {
                if let Some((s, e)) = current {
                    out.push_str(&text[copied..s]);
                    out.push_str(MASK);
                    copied = e;
                }
                current = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = current {
        out.push_str(&text[copied..s]);
        out.push_str(MASK);
        copied = e;
    }
    out.push_str(&text[copied..]);
    out
}
