//! Times for benchmarks: now, and the timestamps servers write on their log lines.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Space;

/// Seconds since the epoch of a log line's RFC 3339 UTC timestamp (`2026-12-01T10:57:45.139051Z`).
pub fn stamp(line: &str) -> Option<f64> {
    let t = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut h = time.split(':');
    let (hh, mm) = (
        h.next()?.parse::<f64>().ok()?,
        h.next()?.parse::<f64>().ok()?,
    );
    let ss = h.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + hh * 3600.0 + mm * 60.0 + ss)
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Timestamps of the log lines of `space` containing `what`.
pub fn stamps(space: &Space, what: &str) -> Vec<f64> {
    space
        .log_text()
        .lines()
        .filter(|l| l.contains(what))
        .filter_map(stamp)
        .collect()
}
