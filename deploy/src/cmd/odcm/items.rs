//! The `deploy odcm` nouns: space, remote-space, trust, audit.

use anyhow::{Context, bail};
use proto::odcm::v1 as pb;
use serde_json::json;

use super::{Admin, AuditCmd, Conn, RemoteCmd, SpaceCmd, TrustCmd};
use crate::cmd::all_pages;
use crate::output::{Format, emit, time};

fn page(token: String) -> pb::PageRequest {
    pb::PageRequest {
        page_size: 500,
        page_token: token,
    }
}

use proto::json::odcm::trust_kind as kind_name;

fn meaning(t: &pb::Trust) -> String {
    let what = match pb::TrustKind::try_from(t.kind) {
        Ok(pb::TrustKind::Releases) => "release bundles",
        _ => "deployment receipts",
    };
    format!("{} accepts {what} from {}", t.truster, t.trusted)
}

pub async fn space(cmd: SpaceCmd, c: &Conn, api: &mut Admin, output: Format) -> anyhow::Result<()> {
    match cmd {
        SpaceCmd::Create { name, endpoint } => {
            let r = c
                .call(api.create_space(c.req(pb::CreateSpaceRequest { name, endpoint })))
                .await?;
            let s = r.space.unwrap_or_default();
            if output == Format::Json {
                emit(
                    output,
                    json!({"name": s.name, "enrolment_token": r.enrolment_token, "token_expires_at": time(r.token_expires_at)}),
                    &[],
                    vec![],
                );
            } else {
                eprintln!(
                    "Space '{}' created; its one-time enrolment token (shown once, valid until {}):",
                    s.name,
                    time(r.token_expires_at)
                );
                println!("{}", r.enrolment_token);
            }
        }
        SpaceCmd::List => {
            let all = all_pages(|t| {
                let mut api = api.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list_spaces(r)).await?;
                    Ok((r.spaces, r.next_page_token))
                }
            })
            .await?;
            let rows = all
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        if s.enrolled { "yes" } else { "no" }.into(),
                        if s.fingerprint.is_empty() {
                            "-".into()
                        } else {
                            s.fingerprint.clone()
                        },
                        if s.enrolled {
                            time(s.not_after)
                        } else {
                            "-".into()
                        },
                        if s.endpoint.is_empty() {
                            "-".into()
                        } else {
                            s.endpoint.clone()
                        },
                    ]
                })
                .collect();
            let json = proto::json::odcm::spaces(&all);
            emit(
                output,
                json,
                &["NAME", "ENROLLED", "FINGERPRINT", "EXPIRES", "ENDPOINT"],
                rows,
            );
        }
        SpaceCmd::ExportCert { name, out } => {
            let r = c
                .call(api.export_space_cert(c.req(pb::ByName { name })))
                .await?;
            match out {
                Some(path) => {
                    std::fs::write(&path, &r.cert_pem)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "certificate of Space '{}' written to {} ({})",
                        r.name,
                        path.display(),
                        r.fingerprint
                    );
                }
                None => {
                    eprintln!("certificate of Space '{}' ({})", r.name, r.fingerprint);
                    print!("{}", r.cert_pem);
                }
            }
        }
    }
    Ok(())
}

pub async fn remote(
    cmd: RemoteCmd,
    c: &Conn,
    api: &mut Admin,
    output: Format,
) -> anyhow::Result<()> {
    match cmd {
        RemoteCmd::Add {
            name,
            cert,
            endpoint,
        } => {
            let cert_pem = std::fs::read_to_string(&cert)
                .with_context(|| format!("cannot read certificate file {}", cert.display()))?;
            let r = c
                .call(api.add_remote_space(c.req(pb::AddRemoteSpaceRequest {
                    name,
                    cert_pem,
                    endpoint,
                })))
                .await?;
            if output == Format::Json {
                emit(
                    output,
                    json!({"name": r.name, "odcm": r.odcm, "fingerprint": r.fingerprint, "subject": r.subject}),
                    &[],
                    vec![],
                );
            } else {
                eprintln!(
                    "Remote Space '{}' ({}) registered; compare this fingerprint with the one its own ODCM shows:",
                    r.name, r.subject
                );
                println!("{}", r.fingerprint);
            }
        }
        RemoteCmd::List => {
            let all = all_pages(|t| {
                let mut api = api.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list_remote_spaces(r)).await?;
                    Ok((r.remote_spaces, r.next_page_token))
                }
            })
            .await?;
            let rows = all
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.odcm.clone(),
                        r.fingerprint.clone(),
                        time(r.not_after),
                        if r.endpoint.is_empty() {
                            "-".into()
                        } else {
                            r.endpoint.clone()
                        },
                    ]
                })
                .collect();
            let json = proto::json::odcm::remote_spaces(&all);
            emit(
                output,
                json,
                &["NAME", "ODCM", "FINGERPRINT", "EXPIRES", "ENDPOINT"],
                rows,
            );
        }
        RemoteCmd::Remove { name } => {
            c.call(api.remove_remote_space(c.req(pb::ByName { name: name.clone() })))
                .await?;
            eprintln!("Remote Space '{name}' removed, with the trusts naming it");
        }
    }
    Ok(())
}

pub async fn trust(cmd: TrustCmd, c: &Conn, api: &mut Admin, output: Format) -> anyhow::Result<()> {
    match cmd {
        TrustCmd::Add(a) => {
            let t = c.call(api.add_trust(c.req(a.request()))).await?;
            eprintln!("trust added: {}", meaning(&t));
        }
        TrustCmd::Revoke(a) => {
            c.call(api.revoke_trust(c.req(a.request()))).await?;
            eprintln!(
                "trust revoked: {} -> {} ({})",
                a.from,
                a.to,
                kind_name(a.request().kind)
            );
        }
        TrustCmd::List => {
            let all = all_pages(|t| {
                let mut api = api.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list_trusts(r)).await?;
                    Ok((r.trusts, r.next_page_token))
                }
            })
            .await?;
            let rows = all
                .iter()
                .map(|t| {
                    vec![
                        t.source.clone(),
                        t.target.clone(),
                        kind_name(t.kind).into(),
                        meaning(t),
                    ]
                })
                .collect();
            let json = proto::json::odcm::trusts(&all);
            emit(output, json, &["SOURCE", "TARGET", "KIND", "MEANING"], rows);
        }
    }
    Ok(())
}

pub async fn audit(cmd: AuditCmd, c: &Conn, api: &mut Admin, output: Format) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::List => {
            let all = all_pages(|t| {
                let mut api = api.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list_audit(r)).await?;
                    Ok((r.entries, r.next_page_token))
                }
            })
            .await?;
            let rows = all
                .iter()
                .map(|e| {
                    vec![
                        e.index.to_string(),
                        time(e.at),
                        e.kind.clone(),
                        e.actor.clone(),
                        e.subject.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect();
            let json = proto::json::odcm::audit(&all);
            emit(
                output,
                json,
                &["#", "TIME", "KIND", "ACTOR", "SUBJECT", "DETAIL"],
                rows,
            );
        }
        AuditCmd::Verify { checkpoint } => {
            let mut checkpoints = Vec::new();
            for f in &checkpoint {
                checkpoints.push(read_checkpoint(f)?);
            }
            let v = c
                .call(api.verify_audit(c.req(pb::VerifyAuditRequest { checkpoints })))
                .await?;
            let against = (v.checkpoint_entries > 0).then(|| {
                format!(
                    "{} entries at {} ({})",
                    v.checkpoint_entries,
                    time(v.checkpoint_issued_at),
                    v.checkpoint_source
                )
            });
            if output == Format::Json {
                emit(
                    output,
                    json!({"ok": v.ok, "entries": v.entries, "broken_index": v.broken_index, "reason": v.reason,
                        "checkpoint": against.as_ref().map(|_| json!({"entries": v.checkpoint_entries, "issued_at": time(v.checkpoint_issued_at), "source": v.checkpoint_source}))}),
                    &[],
                    vec![],
                );
            }
            if !v.ok {
                bail!(
                    "the audit log is broken at entry {}: {}",
                    v.broken_index,
                    v.reason
                );
            }
            if output != Format::Json {
                println!(
                    "audit log verified: {} entries, hash chain and signatures intact",
                    v.entries
                );
                match against {
                    Some(a) => println!("matches the newest checkpoint: {a}"),
                    None => println!(
                        "no checkpoint to check its length against (give one with --checkpoint FILE, from `deploy space checkpoint --out FILE`)"
                    ),
                }
            }
        }
    }
    Ok(())
}

/// Reads a checkpoint file for `audit verify` (the ODCM checks its signature).
fn read_checkpoint(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read checkpoint file {}", path.display()))?;
    if meta.len() > exchange::checkpoint::MAX_BYTES as u64 {
        bail!(
            "{} is not an audit checkpoint: larger than {} bytes",
            path.display(),
            exchange::checkpoint::MAX_BYTES
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read checkpoint file {}", path.display()))
}
