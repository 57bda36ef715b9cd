//! `--range` of `deploy receipt export`.

use super::parse_range;

#[test]
fn ranges_parse_inclusive_and_open() {
    assert_eq!(parse_range("3..7").unwrap(), (3, 7));
    assert_eq!(parse_range("Deployments-3..Deployments-7").unwrap(), (3, 7));
    assert_eq!(parse_range("5..").unwrap(), (5, 0));
    assert_eq!(parse_range("..9").unwrap(), (0, 9));
    assert_eq!(parse_range("4").unwrap(), (4, 4));
    assert!(parse_range("..").is_err());
    assert!(parse_range("7..3").is_err());
    assert!(parse_range("x..3").is_err());
}
