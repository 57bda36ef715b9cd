//! The rule and the generated matrix.

use super::*;

fn team(members: &[&str], grants: Vec<Grant>) -> Team {
    Team {
        name: "t".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        grants,
    }
}

fn grant(role: &str, projects: &[&str], envs: &[&str]) -> Grant {
    Grant {
        role: role.into(),
        projects: projects.iter().map(|p| p.to_string()).collect(),
        environments: envs.iter().map(|e| e.to_string()).collect(),
        tenants: vec![],
    }
}

fn need(p: Permission, project: Option<&str>, env: Option<&str>) -> Need {
    Need {
        permission: p,
        project: project.map(str::to_string),
        environment: env.map(str::to_string),
        tenant: TenantNeed::Any,
    }
}

#[test]
fn grants_apply_where_they_are_scoped() {
    let roles = builtin_roles();
    let teams = [team(
        &["dora"],
        vec![grant("deployer", &["DevTest: Web"], &["Staging"])],
    )];
    let deploy = |p, e| permits("dora", &teams, &roles, &need(Permission::Deploy, p, e));
    assert!(deploy(Some("DevTest: Web"), Some("Staging")));
    assert!(
        deploy(Some("devtest: web"), Some("staging")),
        "names ignore case"
    );
    assert!(!deploy(Some("DevTest: Web"), Some("Production")));
    assert!(!deploy(Some("Other"), Some("Staging")));
    assert!(
        deploy(None, None),
        "an unscoped question: some grant holds it"
    );
    assert!(!permits(
        "eve",
        &teams,
        &roles,
        &need(Permission::View, None, None)
    ));
    assert!(!permits(
        "dora",
        &teams,
        &roles,
        &need(Permission::EditVariables, None, None)
    ));
    let custom = Role {
        name: "auditor".into(),
        permissions: vec![Permission::View, Permission::Admin],
    };
    let teams = [team(&["ann"], vec![grant("auditor", &[], &[])])];
    assert!(permits(
        "ann",
        &teams,
        &[custom],
        &need(Permission::Admin, None, None)
    ));
}

#[test]
fn grants_limited_to_tenants_cover_only_those_tenants() {
    let roles = builtin_roles();
    let mut g = grant("deployer", &[], &["Production"]);
    g.tenants = vec!["Acme".into()];
    let policy = Policy {
        teams: vec![team(&["tess"], vec![g, grant("viewer", &[], &[])])],
        roles,
    };
    let deploy = |tenant| {
        policy.permits(
            "tess",
            &Need::at(Permission::Deploy, "Web", "Production", tenant),
        )
    };
    assert!(deploy(Some("Acme")));
    assert!(deploy(Some("acme")), "names ignore case");
    assert!(!deploy(Some("Globex")));
    assert!(!deploy(None), "untenanted deployments are not Acme's");
    assert!(policy.permits("tess", &Need::anywhere(Permission::Deploy)));
    let view = |tenant| {
        policy.permits(
            "tess",
            &Need::at(Permission::View, "Web", "Production", tenant),
        )
    };
    assert!(
        view(None) && view(Some("Globex")),
        "the unlimited viewer grant sees all"
    );
    assert_eq!(
        policy.roles_with(Permission::Deploy),
        ["deployer", "space-admin"]
    );
}

#[test]
fn the_permission_matrix_document_is_generated_from_the_roles() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/permissions.md");
    let want = matrix_markdown();
    if std::env::var_os("WRITE_PERMISSIONS_DOC").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        have, want,
        "docs/permissions.md is out of date: run WRITE_PERMISSIONS_DOC=1 cargo test -p domain access"
    );
}
