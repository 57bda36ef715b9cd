//! Which chunk the target already holds to send a changed chunk against, as a zstd delta.
//!
//! Content-defined chunking keeps the chunks around an edit identical, so those unchanged
//! chunks are anchors: a changed chunk right after an anchor starts with the same bytes as the
//! base chunk after that anchor, and one right before the next anchor ends like the base chunk
//! before it. Both candidates (counted from the anchors, so an edit that changes the length
//! does not misalign them) are offered; without anchors, the base chunk at the same offset.

use std::collections::HashMap;

use super::Inventory;
use crate::{ChunkHash, ChunkRef, PackageManifest};

/// For each chunk of `m` the target lacks, the base chunks (held by the target) worth trying
/// as a delta dictionary, best first.
pub(super) fn candidates<'a>(
    m: &PackageManifest,
    bases: &'a [PackageManifest],
    inv: &Inventory,
) -> Vec<(ChunkHash, Vec<&'a ChunkRef>)> {
    let Some(base) = bases
        .iter()
        .filter(|b| b.id == m.id && b.version != m.version)
        .max_by_key(|b| b.chunks.iter().filter(|c| inv.contains(&c.hash)).count())
    else {
        return Vec::new();
    };
    let mut at: HashMap<ChunkHash, usize> = HashMap::with_capacity(base.chunks.len());
    for (j, c) in base.chunks.iter().enumerate() {
        at.entry(c.hash).or_insert(j);
    }
    // The anchor (new index, base index) at or before / at or after each chunk of `m`.
    let anchor = |i: usize| {
        let c = &m.chunks[i];
        inv.contains(&c.hash)
            .then(|| at.get(&c.hash).map(|j| (i, *j)))
            .flatten()
    };
    let n = m.chunks.len();
    let mut before = vec![None; n];
    let mut last = None;
    for (i, slot) in before.iter_mut().enumerate() {
        *slot = last;
        if let Some(a) = anchor(i) {
            last = Some(a);
        }
    }
    let mut after = vec![None; n];
    let mut next = None;
    for i in (0..n).rev() {
        after[i] = next;
        if let Some(a) = anchor(i) {
            next = Some(a);
        }
    }
    let mut starts = Vec::with_capacity(base.chunks.len());
    let mut off = 0u64;
    for c in &base.chunks {
        starts.push(off);
        off += u64::from(c.length);
    }
    let held = |j: usize| base.chunks.get(j).filter(|b| inv.contains(&b.hash));
    let mut out = Vec::new();
    let mut pos = 0u64;
    for (i, c) in m.chunks.iter().enumerate() {
        if !inv.contains(&c.hash) {
            let forward = before[i].and_then(|(ia, ja)| held(ja + (i - ia)));
            let backward = after[i].and_then(|(ib, jb)| jb.checked_sub(ib - i).and_then(held));
            let mut list: Vec<&ChunkRef> = forward.into_iter().collect();
            if let Some(b) = backward
                && !list.iter().any(|x| x.hash == b.hash)
            {
                list.push(b);
            }
            if list.is_empty()
                && let Some(b) = held(starts.partition_point(|s| *s <= pos).saturating_sub(1))
            {
                list.push(b);
            }
            if !list.is_empty() {
                out.push((c.hash, list));
            }
        }
        pos += u64::from(c.length);
    }
    out
}
