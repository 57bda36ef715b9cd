//! Unit tests: a tenant's drop extracts under the tenant, and says so in a version a runner
//! that would ignore the tenant refuses.

use super::*;

#[test]
fn a_tenant_drop_extracts_under_the_tenant_and_is_version_2() {
    let fx = Fx::new();
    let env_dir = tempfile::tempdir().unwrap();
    let plan = DropPlan {
        tenant: Some("Acme Corp".into()),
        ..with_env(fx.plan(false), env_dir.path())
    };
    let w = fx.write(&plan, None);
    let def: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.folder.join(DEFINITION_FILE)).unwrap()).unwrap();
    assert_eq!(
        (def["version"].as_u64(), def["tenant"].as_str()),
        (Some(2), Some("Acme Corp"))
    );
    let (r, out) = fx.run(&w.folder, "unused");
    assert_eq!(r.unwrap().state, RunState::Success, "{out}");
    let apps = fx.dir.path().join("apps");
    assert!(
        apps.join("Acme Corp/Production/Acme.Web/1.0.0/app.conf")
            .is_file(),
        "{out}"
    );
    assert!(!apps.join("Production").exists());
}

#[test]
fn an_untenanted_drop_stays_version_1_and_newer_definitions_are_refused() {
    let fx = Fx::new();
    let w = fx.write(&fx.plan(false), None);
    let path = w.folder.join(DEFINITION_FILE);
    let mut def: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(def["version"].as_u64(), Some(1));
    assert!(def.get("tenant").is_none());
    def["version"] = 3.into();
    let bytes = serde_json::to_vec(&def).unwrap();
    let e = super::super::format::parse::<DropDefinition>(&bytes, DEFINITION_FILE).unwrap_err();
    assert!(e.to_string().contains("reads up to 2"), "{e}");
}
