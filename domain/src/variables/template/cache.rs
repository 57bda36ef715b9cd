//! Parsed templates, kept per process by their text: a package's configuration file or a
//! variable's value is parsed once however many targets and steps use it. Bounded by the
//! bytes of text held (the whole cache is dropped when a new entry would pass the bound).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use super::super::VariableError;
use super::parse::{Node, template};

/// Most bytes of template text the cache holds.
const MAX_CACHED_BYTES: usize = 64 << 20;

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
        if c.bytes + text.len() > MAX_CACHED_BYTES {
            c.entries.clear();
            c.bytes = 0;
        }
        if text.len() <= MAX_CACHED_BYTES {
            c.bytes += text.len();
            c.entries
                .entry(k)
                .or_default()
                .push((Arc::from(text), parsed.clone()));
        }
    }
    parsed
}
