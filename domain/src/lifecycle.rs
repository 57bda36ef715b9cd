//! Lifecycle progression: which environments a release may be deployed to, given where it
//! has already been deployed successfully, and which automatic phases become due.

use crate::model::{Lifecycle, Phase, PhaseRule};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProgressionError {
    #[error("environment '{environment}' is not part of lifecycle '{lifecycle}'")]
    NotInLifecycle {
        environment: String,
        lifecycle: String,
    },
    #[error(
        "phase '{phase}' of lifecycle '{lifecycle}' is not complete: it needs {needed} (done: {done})"
    )]
    PhaseIncomplete {
        phase: String,
        lifecycle: String,
        needed: String,
        done: String,
    },
}

fn contains(list: &[String], name: &str) -> bool {
    list.iter().any(|e| e.eq_ignore_ascii_case(name))
}

/// Index of the phase holding `environment`.
pub fn phase_of(l: &Lifecycle, environment: &str) -> Option<usize> {
    l.phases
        .iter()
        .position(|p| contains(&p.environments, environment))
}

/// Whether a phase lets the release progress past it, given the environments with a
/// successful deployment.
pub fn phase_complete(p: &Phase, succeeded: &[String]) -> bool {
    let done = p
        .environments
        .iter()
        .filter(|e| contains(succeeded, e))
        .count();
    match p.rule {
        PhaseRule::Optional => true,
        PhaseRule::All => done == p.environments.len(),
        PhaseRule::AtLeast(n) => done >= n as usize,
    }
}

/// Checks that a release that succeeded in `succeeded` may be deployed to `environment`.
pub fn check_can_deploy(
    l: &Lifecycle,
    environment: &str,
    succeeded: &[String],
) -> Result<(), ProgressionError> {
    let k = phase_of(l, environment).ok_or_else(|| ProgressionError::NotInLifecycle {
        environment: environment.to_string(),
        lifecycle: l.name.clone(),
    })?;
    for p in &l.phases[..k] {
        if !phase_complete(p, succeeded) {
            let missing: Vec<&str> = p
                .environments
                .iter()
                .filter(|e| !contains(succeeded, e))
                .map(String::as_str)
                .collect();
            let done: Vec<&str> = p
                .environments
                .iter()
                .filter(|e| contains(succeeded, e))
                .map(String::as_str)
                .collect();
            let needed = match p.rule {
                PhaseRule::AtLeast(n) => format!(
                    "a successful deployment to at least {n} of {}",
                    p.environments.join(", ")
                ),
                _ => format!("a successful deployment to {}", missing.join(", ")),
            };
            return Err(ProgressionError::PhaseIncomplete {
                phase: p.name.clone(),
                lifecycle: l.name.clone(),
                needed,
                done: if done.is_empty() {
                    "none".into()
                } else {
                    done.join(", ")
                },
            });
        }
    }
    Ok(())
}

/// The lifecycle as one tenant progresses through it: each phase keeps the environments the
/// tenant is connected to, a phase left with none is skipped, and "at least N" asks for no
/// more than the environments left. (A tenant connected only to Test and Production moves
/// from Test to Production; another tenant's deployments do not count.)
pub fn for_tenant(l: &Lifecycle, connected: impl Fn(&str) -> bool) -> Lifecycle {
    let phases = l
        .phases
        .iter()
        .filter_map(|p| {
            let environments: Vec<String> = p
                .environments
                .iter()
                .filter(|e| connected(e))
                .cloned()
                .collect();
            if environments.is_empty() {
                return None;
            }
            let rule = match p.rule {
                PhaseRule::AtLeast(n) => PhaseRule::AtLeast(n.min(environments.len() as u32)),
                r => r,
            };
            Some(Phase {
                environments,
                rule,
                ..p.clone()
            })
        })
        .collect();
    Lifecycle {
        phases,
        ..l.clone()
    }
}

/// Environments of automatic phases that are now reachable and were never attempted.
/// `attempted` lists every environment with any deployment of the release.
pub fn automatic_due(l: &Lifecycle, succeeded: &[String], attempted: &[String]) -> Vec<String> {
    let mut due = Vec::new();
    for (k, p) in l.phases.iter().enumerate() {
        let reachable = l.phases[..k].iter().all(|q| phase_complete(q, succeeded));
        if !reachable {
            break;
        }
        if p.automatic {
            due.extend(
                p.environments
                    .iter()
                    .filter(|e| !contains(attempted, e))
                    .cloned(),
            );
        }
    }
    due
}

#[cfg(test)]
#[path = "tests/lifecycle.rs"]
mod tests;
