//! Unit tests of `lifecycle.rs`.

use super::*;

#[test]
fn phases_parse() {
    let p = parse_phase("Test:Test,QA:min=1:auto").unwrap();
    assert_eq!(p.name, "Test");
    assert_eq!(p.environments, vec!["Test", "QA"]);
    assert_eq!(p.minimum_environments, 1);
    assert!(p.automatic && !p.optional);
    assert!(parse_phase("Prod:Production:optional").unwrap().optional);
    assert!(parse_phase("Dev").is_err());
    assert!(parse_phase(":Dev").is_err());
    assert!(parse_phase("Dev:Dev:sometimes").is_err());
    // min=0 would need nothing (and used to show as "all"); more than the phase has, never met.
    for bad in ["Test:Test,QA:min=0", "Test:Test,QA:min=3"] {
        let e = parse_phase(bad).unwrap_err().to_string();
        assert!(e.contains("between 1 and the phase's 2"), "{e}");
    }
    let p = parse_phase("Prod:Prod: Production,QA: Staging:auto").unwrap();
    assert_eq!(p.environments, vec!["Prod: Production", "QA: Staging"]);
    assert!(p.automatic);
}
