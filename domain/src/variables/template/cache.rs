//! Parsed templates, kept per process by their text: a package's configuration file or a
//! variable's value is parsed once however many targets and steps use it. Bounded by what the
//! entries cost (the whole cache is dropped when a new entry would pass the bound): a parsed
//! tree takes several times its text, and every entry has a fixed cost, so millions of tiny
//! templates cannot grow it without bound (found by fuzzing: `fuzz_targets/substitute.rs`).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use super::super::VariableError;
use super::parse::{Node, template};

/// Most bytes the cache's entries may cost, by [`cost`].
const MAX_CACHED_BYTES: usize = 64 << 20;

/// What an entry of `len` bytes of text costs: its text, a tree of several times it, and the
/// fixed cost of an entry (keys, vectors, reference counts).
fn cost(len: usize) -> usize {
    len.saturating_mul(4).saturating_add(512)
}

pub(crate) type Parsed = Arc<Result<Vec<Node>, VariableError>>;

#[derive(Default)]
struct Cache {
    entries: HashMap<u64, Vec<(Arc<str>, Parsed)>>,
    bytes: usize,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The tree of `text` (or why it does not parse), parsed once.
pub(crate) fn parsed(text: &str) -> Parsed {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let k = h.finish();
    if let Ok(c) = cache().lock()
        && let Some(found) = c
            .entries
            .get(&k)
            .and_then(|v| v.iter().find(|(t, _)| &**t == text))
    {
        return found.1.clone();
    }
    let parsed: Parsed = Arc::new(template(text));
    if let Ok(mut c) = cache().lock() {
        let cost = cost(text.len());
        if c.bytes + cost > MAX_CACHED_BYTES {
            c.entries.clear();
            c.bytes = 0;
        }
        if cost <= MAX_CACHED_BYTES {
            c.bytes += cost;
            c.entries
                .entry(k)
                .or_default()
                .push((Arc::from(text), parsed.clone()));
        }
    }
    parsed
}

/// Entries held and what they cost (for tests).
#[cfg(test)]
pub(crate) fn held() -> (usize, usize) {
    cache()
        .lock()
        .map(|c| (c.entries.values().map(Vec::len).sum(), c.bytes))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_tiny_templates_stay_within_the_bound() {
        for i in 0..200_000 {
            super::parsed(&format!("#{{v{i}}}"));
        }
        let (entries, bytes) = super::held();
        assert!(bytes <= super::MAX_CACHED_BYTES, "{bytes}");
        // 200,000 tiny entries cost more than the bound: the cache was dropped on the way.
        assert!(entries < 140_000, "{entries} entries held");
    }
}
