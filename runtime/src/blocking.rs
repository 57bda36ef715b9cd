//! Blocking work (a disk sync) from code that cannot `.await`: run so that it never stalls a
//! runtime worker's other tasks.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f` at once. On a worker of a multi-thread runtime, tokio first hands the worker's
/// other tasks to another thread (`block_in_place`); on a blocking-pool thread, outside any
/// runtime, or on a single-thread runtime (tests), `f` simply runs.
pub fn in_place<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::in_place;

    #[test]
    fn runs_outside_a_runtime() {
        assert_eq!(in_place(|| 7), 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_on_a_single_thread_runtime() {
        assert_eq!(in_place(|| 8), 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_a_worker_and_on_the_blocking_pool() {
        assert_eq!(in_place(|| 9), 9);
        let v = tokio::task::spawn_blocking(|| in_place(|| 10)).await;
        assert_eq!(v.ok(), Some(10));
    }
}
