//! Refusals on the peer port are reported once per source and kind per window; the rest are
//! counted and go with the next report; the table of sources stays bounded.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{Kind, Refusals, Source};

fn addr(n: u8) -> Source {
    Source::Address(Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))), Kind::Releases)
}

#[test]
fn one_report_per_source_and_window_with_the_count_of_the_rest() {
    let r = Refusals::new(Duration::from_millis(200), 16);
    assert_eq!(r.admit(addr(1), Kind::Releases), Some(0));
    for _ in 0..1000 {
        assert_eq!(r.admit(addr(1), Kind::Releases), None);
    }
    // Another source, another kind, an identified Space: each its own window.
    assert_eq!(r.admit(addr(2), Kind::Releases), Some(0));
    let receipts = Source::Address(Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), Kind::Receipts);
    assert_eq!(r.admit(receipts, Kind::Receipts), Some(0));
    assert_eq!(
        r.admit(
            Source::Space("devtest".into(), Kind::Releases),
            Kind::Releases
        ),
        Some(0)
    );
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(
        r.admit(addr(1), Kind::Releases),
        Some(1000),
        "the count goes with it"
    );
    assert_eq!(r.admit(addr(1), Kind::Releases), None);
}

#[test]
fn the_table_of_sources_stays_bounded() {
    let r = Refusals::new(Duration::from_secs(60), 8);
    let mut reported = 0;
    for n in 0..200 {
        if r.admit(addr(n), Kind::Releases).is_some() {
            reported += 1;
        }
    }
    let tracked = r.windows.lock().map(|w| w.len()).unwrap_or(usize::MAX);
    assert!(tracked <= 9, "{tracked} sources tracked");
    // 8 sources of their own, then every new one shares a single window.
    assert_eq!(reported, 9);
}
