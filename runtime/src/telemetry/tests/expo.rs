//! Unit tests of `expo.rs`.

use super::*;

#[test]
fn values_and_names() {
    assert_eq!(fmt_f64(1.0), "1.0");
    assert_eq!(fmt_f64(0.005), "0.005");
    assert_eq!(fmt_f64(f64::NAN), "NaN");
    assert_eq!(fmt_f64(f64::NEG_INFINITY), "-Inf");
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(escape_help("x\\y\nz\""), "x\\\\y\\nz\"");
    assert_eq!(
        sanitize_name("agents.connected-now"),
        "agents_connected_now"
    );
    assert_eq!(sanitize_name(""), "_");
    assert_eq!(sanitize_name("ns:ok_1"), "ns:ok_1");
}
