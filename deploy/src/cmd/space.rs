//! `deploy space ...`: the current Space's links to other Spaces — its ODCM identity and trust
//! set (`status`), a call to a named peer over mutual TLS, made by the Space server (`ping`),
//! and the audit checkpoint it holds from its ODCM (`checkpoint`).

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{emit, emit_one, join, time};

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Releases,
    Receipts,
}

#[derive(Subcommand)]
pub enum SpaceCmd {
    /// This Space's ODCM identity, ODCM link, and the peers and trusts it enforces.
    Status,
    /// Have this Space call a peer Space (mutual TLS) and show who each side sees.
    Ping {
        /// The peer Space's name.
        #[arg(long)]
        peer: String,
        /// Also check that the peer trusts this Space for this kind.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
    /// The newest audit checkpoint this Space holds from its ODCM (its signed statement of the
    /// audit log's length), to give `deploy odcm audit verify --checkpoint FILE` later.
    Checkpoint {
        /// Write the checkpoint file here (default: print it).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

pub async fn run(cmd: SpaceCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.peers.clone();
    match cmd {
        SpaceCmd::Status => {
            let s = c.call(api.status(c.req(pb::Empty {}))).await?;
            if !s.enrolled {
                emit_one(
                    x.output,
                    json!({"enrolled": false}),
                    vec![(
                        "enrolled",
                        "no (start the server with --enrolment-token)".into(),
                    )],
                );
                return Ok(());
            }
            let peers: Vec<_> = s
                .peers
                .iter()
                .map(|p| json!({"name": p.name, "odcm": p.odcm, "remote": p.remote, "endpoint": p.endpoint, "fingerprints": p.fingerprints,
                    "last_contact": p.last_contact.as_ref().map(|t| time(t.seconds)), "stale": p.stale,
                    "relay_waiting": p.relay_waiting}))
                .collect();
            emit_one(
                x.output,
                json!({"enrolled": true, "space": s.space, "odcm": s.odcm, "odcm_url": s.odcm_url,
                    "fingerprint": s.fingerprint, "not_after": time(s.not_after), "peer_endpoint": s.peer_endpoint,
                    "trust_set_version": s.trust_set_version, "odcm_connected": s.odcm_connected,
                    "peers": peers, "trusts": s.trusts, "restored": (!s.restored.is_empty()).then_some(&s.restored),
                    "checkpoint": s.checkpoint.as_ref().map(|c| json!({"entries": c.entries, "head_hash": c.head_hash,
                        "issued_at": time(c.issued_at), "problem": (!c.problem.is_empty()).then_some(&c.problem)}))}),
                vec![
                    ("space", s.space.clone()),
                    ("odcm", format!("{} ({})", s.odcm, s.odcm_url)),
                    ("odcm connected", s.odcm_connected.to_string()),
                    ("certificate", s.fingerprint.clone()),
                    ("valid until", time(s.not_after)),
                    ("peer endpoint", s.peer_endpoint.clone()),
                    ("trust set version", s.trust_set_version.to_string()),
                    (
                        "peers",
                        join(
                            &s.peers
                                .iter()
                                .map(|p| {
                                    let heard = match &p.last_contact {
                                        Some(t) if p.stale => {
                                            format!("silent since {}", time(t.seconds))
                                        }
                                        Some(t) => format!("heard {}", time(t.seconds)),
                                        None => "never heard from".into(),
                                    };
                                    let relay = match p.relay_waiting {
                                        0 => String::new(),
                                        n => format!(", {n} receipts file(s) to relay"),
                                    };
                                    format!("{} {} ({heard}{relay})", p.name, p.endpoint)
                                })
                                .collect::<Vec<_>>(),
                        ),
                    ),
                    ("trusts", join(&s.trusts)),
                    ("audit checkpoint", held(s.checkpoint.as_ref())),
                    (
                        "restored",
                        if s.restored.is_empty() {
                            "no".into()
                        } else {
                            s.restored.clone()
                        },
                    ),
                ],
            );
        }
        SpaceCmd::Checkpoint { out } => {
            let f = c
                .call(api.get_audit_checkpoint(c.req(pb::Empty {})))
                .await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &f.checkpoint)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("audit checkpoint written to {}", path.display());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&f.checkpoint)?;
                }
            }
        }
        SpaceCmd::Ping { peer, kind } => {
            let kind = match kind {
                None => "",
                Some(Kind::Releases) => "releases",
                Some(Kind::Receipts) => "receipts",
            };
            let r = c
                .call(api.ping(c.req(pb::PingPeerRequest {
                    peer,
                    kind: kind.into(),
                })))
                .await?;
            emit(
                x.output,
                json!({"peer": r.peer, "endpoint": r.endpoint, "peer_odcm": r.peer_odcm,
                    "seen_as": {"space": r.seen_as_space, "odcm": r.seen_as_odcm, "fingerprint": r.seen_as_fingerprint},
                    "trusted_for": r.trusted_for, "millis": r.millis}),
                &["PEER", "ENDPOINT", "SEES US AS", "TRUSTS US FOR", "TIME"],
                vec![vec![
                    format!("{} ({})", r.peer, r.peer_odcm),
                    r.endpoint.clone(),
                    format!(
                        "{} ({}, {})",
                        r.seen_as_space, r.seen_as_odcm, r.seen_as_fingerprint
                    ),
                    join(&r.trusted_for),
                    format!("{} ms", r.millis),
                ]],
            );
        }
    }
    Ok(())
}

/// "212 entries, signed 2026-12-07 10:00:00 UTC", with a problem first when there is one.
fn held(c: Option<&pb::HeldCheckpoint>) -> String {
    match c {
        None => "none yet (given once connected to the ODCM)".into(),
        Some(c) if !c.problem.is_empty() => format!(
            "PROBLEM: {} (held: {} entries, signed {})",
            c.problem,
            c.entries,
            time(c.issued_at)
        ),
        Some(c) => format!("{} entries, signed {}", c.entries, time(c.issued_at)),
    }
}
