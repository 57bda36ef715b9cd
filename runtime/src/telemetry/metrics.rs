//! Request metrics registry rendered in the Prometheus text exposition format.
//!
//! Hot path (`record` for an already-seen method/code pair) takes only a shared
//! read lock and a couple of relaxed atomic increments; the write lock is taken
//! only the first time a method/code pair is seen.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::expo::{escape_help, escape_label, fmt_f64, sanitize_name};

/// Counter of completed requests, labelled by `method` and `code`.
pub const REQUESTS_TOTAL: &str = "grpc_server_requests_total";
/// Latency histogram, labelled by `method` and `code`.
pub const REQUEST_DURATION: &str = "grpc_server_request_duration_seconds";

/// Upper bounds (seconds, inclusive) of the latency histogram buckets.
pub const BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Maximum number of distinct method/code series; further new pairs are
/// recorded under `method="other"` so that unknown paths sent by scanners
/// cannot grow memory without bound.
pub const MAX_SERIES: usize = 2048;
/// Method label used once [`MAX_SERIES`] is reached.
pub const OVERFLOW_METHOD: &str = "other";

/// One method/code series: non-cumulative bucket counts (the last slot is the
/// `+Inf` overflow) and the sum of observed latencies in nanoseconds.
#[derive(Default)]
struct Series {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Series {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let idx = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[idx].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

struct Gauge {
    help: String,
    value: f64,
}

/// method -> code -> series. Nested so lookups with `&str` need no allocation.
type SeriesMap = HashMap<String, HashMap<String, Arc<Series>>>;

#[derive(Default)]
struct Inner {
    series: RwLock<SeriesMap>,
    series_count: AtomicUsize,
    gauges: RwLock<BTreeMap<String, Gauge>>,
}

/// Request metrics registry: counts and latency histograms per gRPC method and
/// status code, plus free-form gauges, rendered in Prometheus text exposition
/// format (version 0.0.4). Cheap to clone (an `Arc` inside) and thread-safe.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("series", &self.inner.series_count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one completed request: increments
    /// `grpc_server_requests_total{method,code}` and observes `elapsed` in
    /// `grpc_server_request_duration_seconds{method,code}`.
    pub fn record(&self, method: &str, code: &str, elapsed: Duration) {
        if let Some(series) = self.lookup(method, code) {
            series.observe(elapsed);
            return;
        }
        self.insert(method, code).observe(elapsed);
    }

    fn lookup(&self, method: &str, code: &str) -> Option<Arc<Series>> {
        let map = self
            .inner
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(method).and_then(|codes| codes.get(code)).cloned()
    }

    fn insert(&self, method: &str, code: &str) -> Arc<Series> {
        let mut map = self
            .inner
            .series
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = map.get(method).and_then(|codes| codes.get(code)) {
            return Arc::clone(series);
        }
        let method = if self.inner.series_count.load(Ordering::Relaxed) >= MAX_SERIES {
            OVERFLOW_METHOD
        } else {
            method
        };
        let codes = map.entry(method.to_owned()).or_default();
        let series = codes.entry(code.to_owned()).or_insert_with(|| {
            self.inner.series_count.fetch_add(1, Ordering::Relaxed);
            Arc::default()
        });
        Arc::clone(series)
    }

    /// Sets (creating if needed) a free-form gauge. `name` is sanitised to a
    /// valid Prometheus metric name; the latest `help` wins.
    pub fn set_gauge(&self, name: &str, help: &str, value: f64) {
        let name = sanitize_name(name);
        let mut gauges = self
            .inner
            .gauges
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match gauges.get_mut(&name) {
            Some(g) => {
                g.value = value;
                if g.help != help {
                    help.clone_into(&mut g.help);
                }
            }
            None => {
                gauges.insert(
                    name,
                    Gauge {
                        help: help.to_owned(),
                        value,
                    },
                );
            }
        }
    }

    /// Renders every metric in Prometheus text exposition format (0.0.4),
    /// with `# HELP` and `# TYPE` lines, series sorted by method then code.
    pub fn render(&self) -> String {
        let mut rows: Vec<(String, String, Arc<Series>)> = {
            let map = self
                .inner
                .series
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            map.iter()
                .flat_map(|(m, codes)| {
                    codes
                        .iter()
                        .map(move |(c, s)| (m.clone(), c.clone(), Arc::clone(s)))
                })
                .collect()
        };
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        // Snapshot each series once so counter and histogram agree.
        let snaps: Vec<(String, [u64; BUCKETS.len() + 1], u64)> = rows
            .into_iter()
            .map(|(m, c, s)| {
                let labels = format!(
                    "method=\"{}\",code=\"{}\"",
                    escape_label(&m),
                    escape_label(&c)
                );
                let counts = std::array::from_fn(|i| s.buckets[i].load(Ordering::Relaxed));
                (labels, counts, s.sum_nanos.load(Ordering::Relaxed))
            })
            .collect();

        let mut out = String::with_capacity(256 + snaps.len() * 1200);
        // Writing into a String cannot fail; results are ignored deliberately.
        let _ = writeln!(
            out,
            "# HELP {REQUESTS_TOTAL} Total number of gRPC requests handled, by method and status code."
        );
        let _ = writeln!(out, "# TYPE {REQUESTS_TOTAL} counter");
        for (labels, counts, _) in &snaps {
            let total: u64 = counts.iter().sum();
            let _ = writeln!(out, "{REQUESTS_TOTAL}{{{labels}}} {total}");
        }
        let _ = writeln!(
            out,
            "# HELP {REQUEST_DURATION} gRPC request latency until the response head is ready, by method and status code."
        );
        let _ = writeln!(out, "# TYPE {REQUEST_DURATION} histogram");
        for (labels, counts, sum_nanos) in &snaps {
            let mut cumulative = 0u64;
            for (le, count) in BUCKETS.iter().zip(counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "{REQUEST_DURATION}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                    fmt_f64(*le)
                );
            }
            cumulative += counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "{REQUEST_DURATION}_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let sum = *sum_nanos as f64 / 1e9;
            let _ = writeln!(out, "{REQUEST_DURATION}_sum{{{labels}}} {}", fmt_f64(sum));
            let _ = writeln!(out, "{REQUEST_DURATION}_count{{{labels}}} {cumulative}");
        }

        let gauges = self
            .inner
            .gauges
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, g) in gauges.iter() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&g.help));
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {}", fmt_f64(g.value));
        }
        out
    }
}

#[cfg(test)]
#[path = "tests/metrics.rs"]
mod tests;
