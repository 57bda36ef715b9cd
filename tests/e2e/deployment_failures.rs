//! End to end: deployments that fail, are cancelled, or lose their agent and get it back;
//! automatic phases that deploy by themselves. (Helpers: `deployments.rs`.)

use std::time::Duration;

use e2e::agent::Agent;
use e2e::{Space, wait_for};

use crate::deployments::{deployment, setup_envs, start, wait_state};

#[test]
fn failures_cancellation_and_reconnects() {
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "L", "--phase", "Dev:Dev"]);
    let mut agent = Agent::polling(&s, "worker");
    agent.register(&s, &["Dev"], &[]);

    c.ok(&["project", "create", "Fails", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Fails",
        "--name",
        "Boom",
        "--script",
        "echo about to fail >&2; exit 7",
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Fails",
        "--name",
        "Never",
        "--script",
        "echo unreachable",
    ]);
    c.ok(&["release", "create", "--project", "Fails", "--version", "1"]);
    let o = c.run(&[
        "release",
        "deploy",
        "--project",
        "Fails",
        "--version",
        "1",
        "--env",
        "Dev",
    ]);
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("about to fail") && out.contains("exit code 7"),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("failed"));
    let d = c.json(&["deployment", "list", "--project", "Fails"]);
    assert_eq!(d[0]["state"], "failed");
    assert_eq!(d[0]["steps"][0]["targets"][0]["exit_code"], 7);
    assert_eq!(d[0]["steps"][1]["state"], "skipped");

    c.ok(&["project", "create", "Slow", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Slow",
        "--name",
        "Wait",
        "--script",
        "echo started; sleep 60",
    ]);
    c.ok(&["release", "create", "--project", "Slow", "--version", "1"]);
    let id = start(&c, "Slow", "1", "Dev");
    wait_for("the slow step to start", Duration::from_secs(20), || {
        deployment(&c, &id)["steps"][0]["targets"][0]["state"] == "running"
    });
    c.ok(&["deployment", "cancel", &id]);
    let d = wait_state(&c, &id, Duration::from_secs(15));
    assert_eq!(d["state"], "cancelled", "{d}");

    // The agent dies; a deployment waits for it; the agent comes back and takes it.
    c.ok(&["project", "create", "Later", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Later",
        "--name",
        "Hi",
        "--script",
        "echo hello from #{Machine.Name}",
    ]);
    c.ok(&["release", "create", "--project", "Later", "--version", "1"]);
    agent.kill();
    wait_for(
        "the Space to notice the agent is gone",
        Duration::from_secs(60),
        || c.json(&["target", "show", "worker"])["connected"] == false,
    );
    let id = start(&c, "Later", "1", "Dev");
    agent.restart();
    let d = wait_state(&c, &id, Duration::from_secs(60));
    assert_eq!(d["state"], "success", "{d}");
    assert!(
        c.ok(&["deployment", "logs", &id])
            .contains("hello from worker")
    );
}

#[test]
fn automatic_phases_deploy_by_themselves() {
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev", "Test", "Prod"]);
    // Dev is automatic: creating a release deploys it there; Test follows Dev by itself;
    // Prod waits for a person.
    c.ok(&[
        "lifecycle",
        "create",
        "Auto",
        "--phase",
        "Dev:Dev:auto",
        "--phase",
        "Test:Test:auto",
        "--phase",
        "Prod:Prod",
    ]);
    let agent = Agent::polling(&s, "box");
    agent.register(&s, &["Dev", "Test", "Prod"], &[]);
    wait_for("the agent to connect", Duration::from_secs(60), || {
        c.json(&["target", "show", "box"])["connected"] == true
    });
    c.ok(&["project", "create", "Auto", "--lifecycle", "Auto"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Auto",
        "--name",
        "Say",
        "--script",
        "echo in #{Environment.Name}",
    ]);
    c.ok(&["release", "create", "--project", "Auto", "--version", "1"]);
    let mut list = serde_json::Value::Null;
    wait_for(
        "Dev and Test to be deployed automatically",
        Duration::from_secs(60),
        || {
            list = c.json(&["deployment", "list", "--project", "Auto"]);
            let done = |env: &str| {
                list.as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["environment"] == env && d["state"] == "success")
            };
            done("Dev") && done("Test")
        },
    );
    let ds = list.as_array().unwrap();
    assert!(
        ds.iter()
            .all(|d| d["created_by"] == "lifecycle (automatic phase)"),
        "{list}"
    );
    assert!(
        ds.iter().all(|d| d["environment"] != "Prod"),
        "Prod is not automatic: {list}"
    );
    c.ok(&[
        "release",
        "deploy",
        "--project",
        "Auto",
        "--version",
        "1",
        "--env",
        "Prod",
    ]);
}

#[test]
fn a_follower_that_falls_behind_a_loud_step_still_gets_every_line_in_order() {
    // 3,000 lines at once: far more than the live buffer holds, so a follower lags and
    // reads the rest from the store; the CLI must still print each line once, in order.
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "L", "--phase", "Dev:Dev"]);
    let _agent = Agent::connected(&s, "loud", &["Dev"], &[]);
    c.ok(&["project", "create", "Loud", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Loud",
        "--name",
        "Shout",
        "--script",
        "i=1; while [ $i -le 3000 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    c.ok(&["release", "create", "--project", "Loud", "--version", "1"]);
    let out = c.ok(&[
        "release",
        "deploy",
        "--project",
        "Loud",
        "--version",
        "1",
        "--env",
        "Dev",
    ]);
    let seen: Vec<u32> = out
        .lines()
        .filter_map(|l| l.split("line-").nth(1))
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    assert_eq!(seen, (1..=3000).collect::<Vec<u32>>(), "lines as followed");
}
