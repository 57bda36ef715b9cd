//! Unit tests of `lifecycle.rs`.

use super::*;

fn lc() -> Lifecycle {
    let phase = |name: &str, envs: &[&str], rule, automatic| Phase {
        name: name.into(),
        environments: envs.iter().map(|e| e.to_string()).collect(),
        rule,
        automatic,
        prestage: false,
    };
    Lifecycle {
        name: "Default".into(),
        description: String::new(),
        phases: vec![
            phase("Dev", &["Dev"], PhaseRule::All, true),
            phase("Test", &["Test", "QA"], PhaseRule::AtLeast(1), false),
            phase("Staging", &["Staging"], PhaseRule::Optional, false),
            phase("Prod", &["Production"], PhaseRule::All, true),
        ],
    }
}

fn v(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

#[test]
fn phases_gate_in_order() {
    let l = lc();
    assert!(check_can_deploy(&l, "Dev", &[]).is_ok());
    let e = check_can_deploy(&l, "test", &[]).unwrap_err();
    assert!(
        e.to_string().contains("phase 'Dev'") && e.to_string().contains("Dev"),
        "{e}"
    );
    assert!(check_can_deploy(&l, "QA", &v(&["dev"])).is_ok());
    let e = check_can_deploy(&l, "Production", &v(&["Dev"])).unwrap_err();
    assert!(e.to_string().contains("at least 1 of Test, QA"), "{e}");
    // Staging is optional: Prod is reachable after Dev and one of Test/QA.
    assert!(check_can_deploy(&l, "Production", &v(&["Dev", "QA"])).is_ok());
    assert!(matches!(
        check_can_deploy(&l, "Moon", &[]),
        Err(ProgressionError::NotInLifecycle { .. })
    ));
    // Redeploying to an earlier phase is always allowed.
    assert!(check_can_deploy(&l, "Dev", &v(&["Dev", "QA", "Production"])).is_ok());
}

#[test]
fn automatic_phases_become_due_once() {
    let l = lc();
    assert_eq!(automatic_due(&l, &[], &[]), v(&["Dev"]));
    assert!(automatic_due(&l, &[], &v(&["Dev"])).is_empty());
    // Prod is automatic, reachable only after Test/QA.
    assert!(automatic_due(&l, &v(&["Dev"]), &v(&["Dev"])).is_empty());
    assert_eq!(
        automatic_due(&l, &v(&["Dev", "Test"]), &v(&["Dev", "Test"])),
        v(&["Production"])
    );
    assert!(automatic_due(&l, &v(&["Dev", "Test"]), &v(&["Dev", "Test", "Production"])).is_empty());
}

#[test]
fn a_tenant_progresses_through_the_environments_it_is_connected_to() {
    let acme = for_tenant(&lc(), |e| ["Test", "QA", "Production"].contains(&e));
    let names: Vec<&str> = acme.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["Test", "Prod"],
        "Dev and Staging hold none of its environments"
    );
    assert!(
        check_can_deploy(&acme, "Test", &[]).is_ok(),
        "its first phase"
    );
    assert!(check_can_deploy(&acme, "Production", &[]).is_err());
    assert!(check_can_deploy(&acme, "Production", &v(&["QA"])).is_ok());
    let one = for_tenant(&lc(), |e| ["Dev", "QA", "Production"].contains(&e));
    assert_eq!(one.phases[1].environments, ["QA"]);
    assert_eq!(one.phases[1].rule, PhaseRule::AtLeast(1));
    let mut l = lc();
    l.phases[1].rule = PhaseRule::AtLeast(2);
    let one = for_tenant(&l, |e| e != "Test");
    assert_eq!(
        one.phases[1].rule,
        PhaseRule::AtLeast(1),
        "at least 2 of Test, QA is at most the one left"
    );
}
