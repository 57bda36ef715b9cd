//! Unit tests of `metrics.rs`.

use super::*;

fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
}

#[test]
fn counter_line_parses_back() {
    let m = Metrics::new();
    for _ in 0..3 {
        m.record(
            "/space.v1.Environments/List",
            "OK",
            Duration::from_millis(2),
        );
    }
    m.record(
        "/space.v1.Environments/List",
        "NotFound",
        Duration::from_millis(2),
    );
    let text = m.render();
    assert!(text.contains("# TYPE grpc_server_requests_total counter"));
    assert!(text.contains("# HELP grpc_server_requests_total "));
    assert!(text.contains("# TYPE grpc_server_request_duration_seconds histogram"));
    let line = text
        .lines()
        .find(|l| l.starts_with("grpc_server_requests_total{") && l.contains("\"OK\""))
        .expect("counter line");
    assert_eq!(
        line,
        "grpc_server_requests_total{method=\"/space.v1.Environments/List\",code=\"OK\"} 3"
    );
    let (labels, value) = line.rsplit_once(' ').expect("value");
    assert_eq!(value.parse::<u64>().expect("u64"), 3);
    assert!(labels.ends_with('}'));
    assert_eq!(
        sample(
            &text,
            "grpc_server_requests_total{method=\"/space.v1.Environments/List\",code=\"NotFound\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn histogram_buckets_are_cumulative() {
    let m = Metrics::new();
    m.record("/a/B", "OK", Duration::from_micros(500)); // <= 0.001
    m.record("/a/B", "OK", Duration::from_millis(1)); // == 0.001 (inclusive)
    m.record("/a/B", "OK", Duration::from_millis(30)); // <= 0.05
    m.record("/a/B", "OK", Duration::from_secs(120)); // +Inf only
    let text = m.render();
    let p = "grpc_server_request_duration_seconds";
    let l = "method=\"/a/B\",code=\"OK\"";
    assert_eq!(
        sample(&text, &format!("{p}_bucket{{{l},le=\"0.001\"}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("{p}_bucket{{{l},le=\"0.025\"}}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("{p}_bucket{{{l},le=\"0.05\"}}")),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, &format!("{p}_bucket{{{l},le=\"60.0\"}}")),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, &format!("{p}_bucket{{{l},le=\"+Inf\"}}")),
        Some(4.0)
    );
    assert_eq!(sample(&text, &format!("{p}_count{{{l}}}")), Some(4.0));
    let sum = sample(&text, &format!("{p}_sum{{{l}}}")).expect("sum");
    assert!((sum - 120.0315).abs() < 1e-6, "sum = {sum}");
    // Bucket counts never decrease.
    let counts: Vec<f64> = text
        .lines()
        .filter(|x| x.starts_with(&format!("{p}_bucket{{{l}")))
        .map(|x| x.rsplit_once(' ').expect("v").1.parse().expect("f64"))
        .collect();
    assert_eq!(counts.len(), BUCKETS.len() + 1);
    assert!(counts.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn label_values_are_escaped() {
    let m = Metrics::new();
    m.record("/we\"ird\\path\n", "OK", Duration::ZERO);
    let text = m.render();
    assert!(
        text.contains(r#"grpc_server_requests_total{method="/we\"ird\\path\n",code="OK"} 1"#),
        "{text}"
    );
}

#[test]
fn gauges_render_with_help_and_type() {
    let m = Metrics::new();
    m.set_gauge("connected_agents", "Agents currently connected.", 2.0);
    m.set_gauge("connected_agents", "Agents currently connected.", 5.0);
    m.set_gauge("9bad-name", "multi\nline \\ help", f64::INFINITY);
    let text = m.render();
    assert!(text.contains("# HELP connected_agents Agents currently connected.\n"));
    assert!(text.contains("# TYPE connected_agents gauge\nconnected_agents 5.0\n"));
    assert!(text.contains("# HELP _9bad_name multi\\nline \\\\ help\n"));
    assert!(text.contains("_9bad_name +Inf\n"));
}

#[test]
fn series_cardinality_is_capped() {
    let m = Metrics::new();
    for i in 0..MAX_SERIES + 10 {
        m.record(&format!("/scan/{i}"), "Unimplemented", Duration::ZERO);
    }
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            "grpc_server_requests_total{method=\"other\",code=\"Unimplemented\"}"
        ),
        Some(10.0)
    );
}

#[test]
fn concurrent_records_are_counted() {
    let m = Metrics::new();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    m.record("/x/Y", "OK", Duration::from_millis(3));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("join");
    }
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            "grpc_server_requests_total{method=\"/x/Y\",code=\"OK\"}"
        ),
        Some(8000.0)
    );
}
