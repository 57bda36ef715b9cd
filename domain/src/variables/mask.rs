//! Masking of secret values in log text: every form a secret takes in output (see
//! [`secret_forms`]) is hidden, in every line.

use base64::Engine as _;

/// What a masked secret is replaced by.
pub const MASK: &str = "********";

/// Lines of a multi-line secret shorter than this (after trimming) are not hidden on their
/// own: a `}` or `--` carries no secret and hiding it would blank every brace in a log.
pub const MIN_LINE: usize = 4;

/// The forms of `secret` that output can carry, all hidden by [`mask`]: the value itself;
/// each line of a multi-line value (trimmed, from [`MIN_LINE`] characters), because logs
/// are masked one line at a time; the value as the body of a JSON string (escaped line
/// breaks and quotes); its base64 and that of the value with a trailing line break (what
/// `echo "$SECRET" | base64` prints).
pub fn secret_forms(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    if secret.is_empty() {
        return out;
    }
    out.push(secret.to_string());
    if secret.contains(['\n', '\r']) {
        for line in secret.lines() {
            let line = line.trim();
            if line.chars().count() >= MIN_LINE {
                out.push(line.to_string());
            }
        }
    }
    if let Ok(json) = serde_json::to_string(secret) {
        let body = &json[1..json.len() - 1];
        if body != secret {
            out.push(body.to_string());
        }
    }
    if secret.chars().count() >= MIN_LINE {
        let b64 = base64::engine::general_purpose::STANDARD;
        out.push(b64.encode(secret));
        out.push(b64.encode(format!("{secret}\n")));
    }
    out
}

/// Replaces every occurrence of any form of any secret (see [`secret_forms`]) by
/// `"********"`.
///
/// Secrets are matched longest first, and overlapping or nested occurrences are handled:
/// every byte covered by an occurrence of any secret is hidden, and each maximal run of
/// overlapping occurrences becomes a single `"********"`. So with secrets `abcd` and `cdef`,
/// `"xabcdefx"` becomes `"x********x"` (a naive replace-one-after-the-other would leak `ef`).
/// Empty secrets are ignored.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let forms: Vec<String> = secrets.iter().flat_map(|s| secret_forms(s)).collect();
    let mut sorted: Vec<&str> = forms.iter().map(String::as_str).collect();
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
