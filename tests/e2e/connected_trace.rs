//! One trace across Spaces, seen by a real OTLP receiver: DevTest's promotion span travels in
//! the bundle and parents Prod's import and deployment (with its step spans), and the receipt
//! brings the deployment's context back, so DevTest's span for the result joins the trace.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::otlp::{Collector, Span};
use e2e::promotion::{importing_target, odcm, script_project, to_prod_lifecycle, wait_peer};
use e2e::wait_for;

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[test]
fn a_promotion_is_one_trace_from_promote_to_the_receipt() {
    let collector = Collector::start();
    let env = [
        ("SPACE_OTLP_ENDPOINT", collector.endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let net = Odcm::start("Net");
    let (dev, _) = net.enrolled_space_with("DevTest", &env);
    let (prod, _) = net.enrolled_space_with("Prod", &env);
    for kind in ["releases", "receipts"] {
        odcm(
            &net,
            &[
                "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", kind,
            ],
        );
    }
    wait_peer(&dev, "Prod", 2);
    wait_peer(&prod, "DevTest", 2);
    importing_target(&prod, "Production:Production:auto");
    let _agent = Agent::connected(&prod, "prod-web", &["Production"], &[]);
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":auto");
    script_project(&dev, "Web", "ToProd", "echo traced");
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    wait_for(
        "Prod's result on DevTest's dashboard",
        Duration::from_secs(60),
        || {
            d.json(&["dashboard"])["projects"][0]["environments"]["Prod: Production"]["state"]
                == "success"
        },
    );

    let names = [
        "promote release",
        "import release bundle",
        "deployment",
        "step",
        "step on target",
        "deployment receipt applied",
    ];
    wait_for(
        "every span at the receiver",
        Duration::from_secs(30),
        || {
            let spans = collector.spans();
            names.iter().all(|n| !named(&spans, n).is_empty())
        },
    );
    let spans = collector.spans();
    let one = |name: &str| {
        let found = named(&spans, name);
        assert!(!found.is_empty(), "no '{name}' span in {spans:#?}");
        found[0].clone()
    };
    let promote = one("promote release");
    let import = one("import release bundle");
    let deployment = one("deployment");
    let step = one("step");
    let on_target = one("step on target");
    let receipt = one("deployment receipt applied");
    for s in [&import, &deployment, &step, &on_target, &receipt] {
        assert_eq!(
            s.trace_id, promote.trace_id,
            "'{}' in the promotion's trace",
            s.name
        );
    }
    assert_eq!(import.parent_id, promote.span_id, "import under promote");
    assert_eq!(
        deployment.parent_id, promote.span_id,
        "deployment under promote"
    );
    assert_eq!(
        step.parent_id, deployment.span_id,
        "step under the deployment"
    );
    assert_eq!(
        on_target.parent_id, step.span_id,
        "agent step under the step"
    );
    assert_eq!(
        receipt.parent_id, deployment.span_id,
        "the receipt links back"
    );
    assert!(
        on_target.attributes.iter().any(|a| a == "target=prod-web"),
        "{on_target:?}"
    );
}
