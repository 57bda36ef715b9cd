//! `deploy odcm ...`: administer an ODCM — Spaces and their enrolment tokens, Remote Spaces,
//! trusts and the audit log. Connects with `--odcm-server`, `--odcm-api-key` and
//! `--odcm-fingerprint` (or `ODCM_SERVER`, `ODCM_API_KEY`, `ODCM_FINGERPRINT`).

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use proto::odcm::v1 as pb;
use serde_json::json;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

mod items;

use crate::client::status_error;
use crate::output::{Format, emit_one};

/// Heading of the options that reach the ODCM.
const ODCM: &str = "ODCM connection";

#[derive(Args)]
pub struct OdcmCmd {
    /// ODCM address (https://HOST:PORT).
    #[arg(long, global = true, env = "ODCM_SERVER", help_heading = ODCM)]
    odcm_server: Option<String>,
    /// ODCM admin API key.
    #[arg(
        long,
        global = true,
        env = "ODCM_API_KEY",
        hide_env_values = true,
        help_heading = ODCM
    )]
    odcm_api_key: Option<String>,
    /// ODCM server certificate fingerprint (sha256:...).
    #[arg(long, global = true, env = "ODCM_FINGERPRINT", help_heading = ODCM)]
    odcm_fingerprint: Option<String>,
    #[command(subcommand)]
    command: OdcmSub,
}

#[derive(Subcommand)]
enum OdcmSub {
    /// Show the ODCM's name and CA fingerprint.
    Info,
    /// Spaces of this ODCM.
    #[command(subcommand)]
    Space(SpaceCmd),
    /// Spaces of other networks, known by their certificates.
    #[command(subcommand)]
    RemoteSpace(RemoteCmd),
    /// Trusts between Spaces.
    #[command(subcommand)]
    Trust(TrustCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand)]
enum SpaceCmd {
    /// Create a Space and print its one-time enrolment token.
    Create {
        name: String,
        /// Address of the Space's peer service (https://HOST:PORT).
        #[arg(long, default_value = "")]
        endpoint: String,
    },
    /// List Spaces.
    List,
    /// Print (or write) a Space's certificate as PEM, to register it in another network.
    ExportCert {
        name: String,
        /// Write the PEM to this file instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum RemoteCmd {
    /// Register another network's Space from its PEM certificate; prints its fingerprint.
    Add {
        name: String,
        /// The Space's certificate, a PEM file (`odcm space export-cert` in its network).
        #[arg(long)]
        cert: std::path::PathBuf,
        /// Address of the Remote Space's peer service (https://HOST:PORT).
        #[arg(long, default_value = "")]
        endpoint: String,
    },
    /// List Remote Spaces.
    List,
    /// Remove a Remote Space (and the trusts naming it).
    Remove { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// The target accepts release bundles from the source.
    Releases,
    /// The source accepts deployment receipts from the target.
    Receipts,
}

#[derive(Args)]
struct TrustArgs {
    /// The source Space (where releases come from).
    #[arg(long = "from")]
    from: String,
    /// The target Space (where releases are promoted to).
    #[arg(long = "to")]
    to: String,
    /// What the trust covers.
    #[arg(long, value_enum)]
    kind: Kind,
}

impl TrustArgs {
    fn request(&self) -> pb::TrustRequest {
        pb::TrustRequest {
            source: self.from.clone(),
            target: self.to.clone(),
            kind: match self.kind {
                Kind::Releases => pb::TrustKind::Releases,
                Kind::Receipts => pb::TrustKind::Receipts,
            } as i32,
        }
    }
}

#[derive(Subcommand)]
enum TrustCmd {
    /// Add a trust (releases: --to accepts bundles from --from; receipts: --from accepts
    /// receipts from --to).
    Add(TrustArgs),
    /// List trusts.
    List,
    /// Revoke a trust; Spaces stop honouring it within a second.
    Revoke(TrustArgs),
}

#[derive(Subcommand)]
enum AuditCmd {
    /// List audit entries in order.
    List,
    /// Recompute the hash chain and signatures, and check the log's length against the newest
    /// audit checkpoint given or collected from Spaces; fails naming the first broken entry.
    Verify {
        /// An audit checkpoint file a Space holds (`deploy space checkpoint --out FILE`);
        /// repeatable.
        #[arg(long, value_name = "FILE")]
        checkpoint: Vec<std::path::PathBuf>,
    },
}

#[derive(Clone)]
struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut().insert("authorization", self.0.clone());
        Ok(r)
    }
}

type Admin = pb::admin_client::AdminClient<InterceptedService<Channel, Bearer>>;

struct Conn {
    server: String,
    deadline: Duration,
    admin: Admin,
}

impl Conn {
    async fn call<T>(
        &self,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.deadline, fut).await {
            Err(_) => bail!(
                "{} did not answer within {}s (raise it with --timeout)",
                self.server,
                self.deadline.as_secs()
            ),
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(status_error(&self.server, s)),
        }
    }
    fn req<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(self.deadline);
        r
    }
}

async fn connect(c: &OdcmCmd, deadline: Duration) -> anyhow::Result<Conn> {
    let server = c.odcm_server.clone().ok_or_else(|| {
        anyhow!("no ODCM address: pass --odcm-server https://HOST:PORT or set ODCM_SERVER")
    })?;
    let fp = c.odcm_fingerprint.clone().ok_or_else(|| {
        anyhow!("no ODCM certificate fingerprint: pass --odcm-fingerprint sha256:... or set ODCM_FINGERPRINT (the odcm prints it at start)")
    })?;
    let key = c
        .odcm_api_key
        .clone()
        .ok_or_else(|| anyhow!("no ODCM API key: pass --odcm-api-key or set ODCM_API_KEY"))?;
    let ch = net::tls::connect_pinned(&server, &fp, Duration::from_secs(10))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let bearer = MetadataValue::try_from(format!("Bearer {key}"))
        .map_err(|_| anyhow!("the ODCM API key contains characters that cannot be sent"))?;
    Ok(Conn {
        server,
        deadline,
        admin: pb::admin_client::AdminClient::with_interceptor(ch, Bearer(bearer)),
    })
}

pub async fn run(cmd: OdcmCmd, output: Format, timeout_secs: u64) -> anyhow::Result<()> {
    let c = connect(&cmd, Duration::from_secs(timeout_secs.max(1))).await?;
    let mut api = c.admin.clone();
    match cmd.command {
        OdcmSub::Info => {
            let i = c.call(api.info(c.req(pb::Empty {}))).await?;
            let fp = net::pki::CertInfo::from_pem(&i.ca_pem)
                .map(|x| x.fingerprint)
                .unwrap_or_default();
            emit_one(
                output,
                json!({"name": i.name, "ca_fingerprint": fp, "server_version": i.server_version}),
                vec![
                    ("odcm", i.name.clone()),
                    ("ca fingerprint", fp.clone()),
                    ("server version", i.server_version.clone()),
                ],
            );
        }
        OdcmSub::Space(s) => items::space(s, &c, &mut api, output).await?,
        OdcmSub::RemoteSpace(r) => items::remote(r, &c, &mut api, output).await?,
        OdcmSub::Trust(t) => items::trust(t, &c, &mut api, output).await?,
        OdcmSub::Audit(a) => items::audit(a, &c, &mut api, output).await?,
    }
    Ok(())
}
