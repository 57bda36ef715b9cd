//! Size caps refuse at write time what an answer could not carry back.

use super::{script_step, space, web_project};
use crate::error::ApiError;
use crate::services::Services;

#[tokio::test]
async fn scripts_and_whole_processes_are_capped() {
    let (_tmp, state) = space("DevTest");
    let s = Services::new(&state, None);
    web_project(&s).await;
    let big = "x".repeat(300 << 10);
    let e = s
        .process
        .add_step("Web", None, script_step("Big", &big))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::Invalid(_)) && e.to_string().contains("limits.script_bytes"),
        "{e}"
    );
    let part = "y".repeat(200 << 10);
    let mut added = 0;
    let refused = loop {
        match s
            .process
            .add_step("Web", None, script_step(&format!("Step {added}"), &part))
            .await
        {
            Ok(_) => added += 1,
            Err(e) => break e,
        }
        assert!(added < 10, "the process kept growing");
    };
    assert!(
        refused.to_string().contains("limits.process_bytes"),
        "{refused}"
    );
    assert_eq!(
        added, 5,
        "five 200 KiB scripts fit in 1 MiB, a sixth does not"
    );
    assert_eq!(
        s.process.list("Web").unwrap().process.steps.len(),
        5,
        "nothing changed"
    );
}
