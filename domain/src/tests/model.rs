//! Environment names across Spaces.

use super::Environment;

#[test]
fn remote_names_split_and_are_seen_from_the_receiving_space() {
    assert_eq!(
        Environment::remote_name("Prod", "Production"),
        "Prod: Production"
    );
    assert_eq!(
        Environment::split_remote("Prod: Production"),
        Some(("Prod", "Production"))
    );
    assert_eq!(Environment::split_remote("Production"), None);
    assert_eq!(Environment::split_remote(": x"), None);
    let seen = |n| Environment::as_seen_from(n, "Prod", "DevTest");
    assert_eq!(seen("Prod: Production"), "Production");
    assert_eq!(seen("prod: Production"), "Production");
    // The source's own environment never matches one of Prod's that shares its name.
    assert_eq!(seen("Test"), "DevTest: Test");
    assert_eq!(seen("QA: Staging"), "QA: Staging");
}
