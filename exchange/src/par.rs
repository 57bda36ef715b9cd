//! Spreading independent CPU-bound work (sealing and opening sensitive values, a P-256 key
//! agreement each) over the machine's cores, keeping the order of the results.

/// `f` applied to every item, in parts of at least `min_part` items on up to one thread per
/// core; the results in the items' order, or the first error (by item order). A panic in `f`
/// is passed on.
pub(crate) fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    min_part: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(threads).max(min_part).max(1);
    if items.len() <= per {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    let parts: Vec<Result<Vec<R>, E>> = std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(f).collect()))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::try_map;

    #[test]
    fn results_keep_the_items_order_and_the_first_error_wins() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = try_map(&items, 16, |x| Ok::<_, String>(x * 2)).expect("no error");
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let err = try_map(&items, 16, |x| {
            if *x == 700 || *x == 900 {
                Err(format!("item {x}"))
            } else {
                Ok(*x)
            }
        });
        assert_eq!(err, Err("item 700".to_string()));
        assert_eq!(try_map(&[] as &[u32], 16, |x| Ok::<_, ()>(*x)), Ok(vec![]));
    }
}
