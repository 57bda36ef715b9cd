//! Passwords: set (admins for anyone, users for themselves), checked, stamped into the
//! session's caller so a new password ends the old sessions; a version 1 user has none.

use runtime::auth::Caller;
use storage::StoreExt;
use storage::records::UserRecord;

use super::space;
use crate::services::access::AccessService;

fn caller(name: &str, admin: bool) -> Caller {
    Caller {
        name: name.into(),
        admin,
        ..Default::default()
    }
}

#[tokio::test]
async fn passwords_sign_in_and_a_new_one_ends_the_old_sessions() {
    let (_tmp, state) = space("DevTest");
    let access = AccessService { state };
    let admin = caller("admin", true);
    access
        .create_user(
            &admin,
            UserRecord {
                name: "vera".into(),
                service: false,
                admin: false,
                created_at: 0,
                password: None,
            },
        )
        .await
        .unwrap();
    assert!(
        access
            .sign_in_with_password("vera", "anything at all")
            .is_err(),
        "none set"
    );
    let e = access
        .set_password(&caller("eve", false), "vera", "twelve chars!")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("admin"), "{e}");
    assert!(access.set_password(&admin, "vera", "short").await.is_err());
    access
        .set_password(&admin, "vera", "first passphrase")
        .await
        .unwrap();
    let c = access
        .sign_in_with_password("vera", "first passphrase")
        .unwrap();
    assert_eq!((c.name.as_str(), c.admin), ("vera", false));
    assert!(access.password_session_valid(&c));
    let e = access
        .sign_in_with_password("vera", "wrong passphrase")
        .unwrap_err();
    assert_eq!(e.to_string(), "wrong user name or password");
    let e = access
        .sign_in_with_password("nobody", "first passphrase")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "wrong user name or password",
        "no hint a name exists"
    );
    // Vera changes it herself: the session made with the old one ends.
    access
        .set_password(&caller("vera", false), "vera", "second passphrase")
        .await
        .unwrap();
    assert!(!access.password_session_valid(&c));
    assert!(
        access
            .sign_in_with_password("vera", "second passphrase")
            .is_ok()
    );
    let stored = format!("{:?}", access.state.store.all_records::<UserRecord>(""));
    assert!(
        !stored.contains("second passphrase"),
        "only the hash is kept"
    );
}

#[test]
fn a_version_1_user_reads_without_a_password() {
    let v1 = br#"{"v":1,"data":{"name":"dora","service":false,"admin":false,"created_at":5}}"#;
    let u: UserRecord = storage::decode("dora", v1).unwrap();
    assert_eq!(u.password, None);
}
