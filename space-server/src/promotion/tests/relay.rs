//! Which bundle a receipt answers in each Space of a chain, and where its file goes next.

use domain::model::{RouteHop, RunState};
use exchange::receipt::{KIND, Receipt, ReceiptFile, SCHEMA, VerifiedReceipts};

use super::{answered, relay_to};

fn hop(space: &str, bundle: &str) -> RouteHop {
    RouteHop {
        space: space.into(),
        project: format!("{space} project"),
        bundle_id: bundle.into(),
        bundle_digest: format!("sha256:{bundle}"),
    }
}

/// D's receipt on a chain A -> B -> C -> D, addressed to C; as `at` reads it.
fn at(space: &str) -> (VerifiedReceipts, String) {
    let receipt = Receipt {
        id: "Deployments-1".into(),
        bundle_id: "c-to-d".into(),
        bundle_digest: "sha256:c-to-d".into(),
        project: "C project".into(),
        version: "1.0.0".into(),
        environment: "Production".into(),
        state: RunState::Success,
        started_at: None,
        finished_at: None,
        steps: vec![],
        targets: 0,
        traceparent: String::new(),
        route: vec![hop("A", "a-to-b"), hop("B", "b-to-c")],
    };
    let v = VerifiedReceipts {
        file: ReceiptFile {
            kind: KIND.into(),
            schema: SCHEMA.to_string(),
            from_space: "D".into(),
            to_space: "C".into(),
            created_at: 0,
            receipts: vec![receipt],
        },
        digest: "sha256:file".into(),
        signer_keyid: "k".into(),
        relayed: !space.eq_ignore_ascii_case("C"),
    };
    (v, space.to_string())
}

#[test]
fn each_space_of_the_chain_checks_its_own_bundle_and_passes_the_file_back_one_hop() {
    let (v, me) = at("C");
    let r = &v.file.receipts[0];
    assert_eq!(
        answered(&me, &v, r),
        Some(["c-to-d", "sha256:c-to-d", "C project", "D"])
    );
    assert_eq!(relay_to(&me, &v, r), Some("B"));

    let (v, me) = at("b");
    let r = &v.file.receipts[0];
    assert_eq!(
        answered(&me, &v, r),
        Some(["b-to-c", "sha256:b-to-c", "B project", "C"])
    );
    assert_eq!(relay_to(&me, &v, r), Some("A"));

    let (v, me) = at("A");
    let r = &v.file.receipts[0];
    assert_eq!(
        answered(&me, &v, r),
        Some(["a-to-b", "sha256:a-to-b", "A project", "B"])
    );
    assert_eq!(
        relay_to(&me, &v, r),
        None,
        "the first Space is the end of the line"
    );

    // A relayed file's receipt that does not name this Space is not for it.
    let (v, me) = at("Z");
    assert_eq!(answered(&me, &v, &v.file.receipts[0]), None);
}

#[test]
fn a_single_hop_receipt_goes_nowhere_else() {
    let (mut v, me) = at("C");
    v.file.receipts[0].route.clear();
    let r = &v.file.receipts[0];
    assert_eq!(relay_to(&me, &v, r), None);
    assert!(answered(&me, &v, r).is_some());
}
