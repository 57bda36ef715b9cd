//! `space-server`: parses configuration, binds the listeners and runs one Space.

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use space_server::config::{Config, Overrides};
use space_server::state::SpaceState;

#[derive(Parser)]
#[command(
    name = "space-server",
    version,
    about = "Runs one Space: its API, database and package feed"
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    /// Print the effective configuration and exit.
    #[arg(long, global = true)]
    print_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Space (the default).
    Run,
    /// Create the data directory, keys and admin API key (and enrol with the ODCM when a token
    /// is given), print them, and exit.
    Init,
    /// Replace this Space's ODCM-issued certificate and key (the ODCM accepts the old one for
    /// its rotation overlap). A running server presents the new one after its next start.
    RotateCert,
    /// Write a signed backup of this Space: a running server is asked over its control
    /// socket (online, consistent); a stopped one is read from its data directory.
    Backup(runtime::backup::cli::BackupArgs),
    /// Restore a backup into --data-dir, which must be new or empty, and exit.
    Restore(runtime::backup::cli::RestoreArgs),
}

/// What a Space's backup is signed with: its ODCM identity, else its own TLS key.
const SIGNERS: &[(&str, &str)] = &[
    ("identity/space.crt", "identity/space.key"),
    ("tls.crt", "tls.key"),
];

fn main() {
    runtime::exit::or_exit(real_main());
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.overrides)?;
    if cli.print_config {
        print!("{}", config.printable());
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let _telemetry = runtime::telemetry::init(&config.telemetry())?;
        match &cli.command {
            Some(Command::Backup(a)) => {
                return Ok(runtime::backup::cli::backup("space", &config.name, &config.data_dir, SIGNERS, a)?);
            }
            Some(Command::Restore(a)) => {
                return Ok(runtime::backup::cli::restore(&config.data_dir, a)?);
            }
            _ => {}
        }
        if matches!(cli.command, Some(Command::RotateCert)) {
            let r = space_server::peering::files::rotate(&config.data_dir).await?;
            println!("New certificate: {} (valid until {})", r.fingerprint, r.not_after);
            println!(
                "The old certificate {} is accepted until {}; restart the server to present the new one",
                r.previous_fingerprint, r.previous_accepted_until
            );
            return Ok(());
        }
        let opened = SpaceState::open(&config.data_dir, &config.name, &config.tls_names)
            .with_context(|| {
                format!(
                    "cannot open Space data directory {}",
                    config.data_dir.display()
                )
            })?;
        let fingerprint = opened.state.identity.fingerprint()?;
        match cli.command.unwrap_or(Command::Run) {
            Command::Init => {
                runtime::datadir::announce_new_key(&opened.new_admin_key);
                let endpoint = if config.peer_endpoint.is_empty() && !config.peer_listen.ends_with(":0") {
                    format!("https://{}", config.peer_listen)
                } else {
                    config.peer_endpoint.clone()
                };
                if let Some(p) = space_server::peering::open_or_enrol(&config.data_dir, &enrol_options(&config, &endpoint)).await? {
                    println!("ODCM '{}' identity: {}", p.enrolled.odcm, p.cert.fingerprint);
                }
                println!("Certificate fingerprint: {fingerprint}");
                println!("Data directory: {}", config.data_dir.display());
                Ok(())
            }
            Command::Run => run(config, opened.state, opened.new_admin_key, fingerprint).await,
            Command::RotateCert | Command::Backup(_) | Command::Restore(_) => Ok(()),
        }
    })
}

/// Binds `addr`; with port 0, the port chosen the first time is kept in `file` and asked for
/// again at later starts (agents registered against it keep working), a new one only if it
/// is taken (with a warning).
async fn bind_kept(addr: &str, file: &std::path::Path) -> std::io::Result<tokio::net::TcpListener> {
    let Some(host) = addr.strip_suffix(":0") else {
        return tokio::net::TcpListener::bind(addr).await;
    };
    let kept = std::fs::read_to_string(file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok());
    if let Some(port) = kept {
        match tokio::net::TcpListener::bind(format!("{host}:{port}")).await {
            Ok(l) => return Ok(l),
            Err(e) => {
                tracing::warn!(port, error = %e, "the agent port used before is taken: listening on a new one; agents registered against the old one need `agent register` again");
            }
        }
    }
    let l = tokio::net::TcpListener::bind(addr).await?;
    std::fs::write(file, format!("{}\n", l.local_addr()?.port()))?;
    Ok(l)
}

async fn run(
    config: Config,
    state: Arc<SpaceState>,
    new_key: Option<String>,
    fingerprint: String,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let agent_listener = bind_kept(&config.agent_listen, &config.data_dir.join("agent-port"))
        .await
        .with_context(|| format!("cannot listen on {} (agent endpoint)", config.agent_listen))?;
    let agent_addr = agent_listener.local_addr()?;
    let web_listener = if config.web_listen.is_empty() {
        None
    } else {
        let l = tokio::net::TcpListener::bind(&config.web_listen)
            .await
            .with_context(|| format!("cannot listen on {} (web UI)", config.web_listen))?;
        println!("Web UI: https://{}", l.local_addr()?);
        Some(l)
    };
    let metrics = runtime::telemetry::Metrics::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let peering = start_peering(&config, &state, &stop_rx).await?;
    let mut metrics_task = None;
    if !config.metrics_listen.is_empty() {
        let ml = tokio::net::TcpListener::bind(&config.metrics_listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.metrics_listen))?;
        let maddr = ml.local_addr()?;
        println!("Metrics: http://{maddr}/metrics");
        let mut rx = stop_rx.clone();
        let m = metrics.clone();
        metrics_task = Some(tokio::spawn(async move {
            runtime::telemetry::serve_metrics(ml, m, async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .await
        }));
    }
    let control = runtime::control::bind(&config.data_dir).with_context(|| {
        format!(
            "cannot create the control socket in {}",
            config.data_dir.display()
        )
    })?;
    let (cstate, cconfig, mut crx) = (state.clone(), config.clone(), stop_rx.clone());
    let control_task = tokio::spawn(runtime::control::serve(
        control,
        Arc::new(move |req| {
            runtime::backup::run(
                "space",
                &cconfig.name,
                &cconfig.data_dir,
                cstate.store.as_ref(),
                SIGNERS,
                req,
            )
            .map_err(|e| e.to_string())
        }),
        async move {
            let _ = crx.wait_for(|v| *v).await;
        },
    ));
    runtime::datadir::announce_new_key(&new_key);
    println!("Agents connect to https://{agent_addr}");
    println!(
        "Space '{}' listening on https://{addr} (certificate {fingerprint})",
        config.name
    );
    tracing::info!(space = %config.name, address = %addr, data_dir = %config.data_dir.display(), "space server started");
    tokio::spawn(async move {
        runtime::shutdown::requested().await;
        tracing::info!("shutdown requested: finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    let mut rx = stop_rx.clone();
    let mut options = config.options();
    options.peering = peering;
    let store = state.store.clone();
    let serve = space_server::server::serve(
        state,
        listener,
        agent_listener,
        web_listener,
        metrics,
        options,
        async move {
            let _ = rx.wait_for(|v| *v).await;
        },
    );
    tokio::pin!(serve);
    let mut stopping = stop_rx.clone();
    tokio::select! {
        r = &mut serve => r?,
        _ = async {
            let _ = stopping.wait_for(|v| *v).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "connections still open after the grace period; stopping");
            if let Err(e) = store.flush() {
                tracing::error!(error = %e, "flushing the database at shutdown failed");
            }
        }
    }
    if let Some(t) = metrics_task {
        t.await??;
    }
    // The control socket's file goes with the server.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), control_task).await;
    Ok(())
}

fn enrol_options<'a>(c: &'a Config, endpoint: &'a str) -> space_server::peering::EnrolOptions<'a> {
    space_server::peering::EnrolOptions {
        name: &c.name,
        odcm_url: &c.odcm_url,
        odcm_fingerprint: &c.odcm_fingerprint,
        token: &c.enrolment_token,
        endpoint,
    }
}

/// Enrols (first start with a token) or loads the ODCM identity, then serves the peer
/// listener and keeps the trust set current. `None` when this Space has no ODCM.
async fn start_peering(
    config: &Config,
    state: &Arc<SpaceState>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<Arc<space_server::peering::Peering>>> {
    use space_server::peering;
    if !peering::wanted(&config.data_dir, &config.enrolment_token) {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(&config.peer_listen)
        .await
        .with_context(|| format!("cannot listen on {} (peer endpoint)", config.peer_listen))?;
    let addr = listener.local_addr()?;
    let endpoint = if config.peer_endpoint.is_empty() {
        format!("https://{addr}")
    } else {
        config.peer_endpoint.clone()
    };
    let Some(p) = peering::open_or_enrol(&config.data_dir, &enrol_options(config, &endpoint))
        .await
        .context("cannot set up this Space's ODCM identity")?
    else {
        return Ok(None);
    };
    let p = Arc::new(p);
    let _ = state.peering.set(p.clone());
    println!(
        "Peers connect to https://{addr} (Space '{}' of ODCM '{}', certificate {})",
        p.me, p.enrolled.odcm, p.cert.fingerprint
    );
    peering::watch::spawn(p.clone(), stop.clone());
    space_server::promotion::restored::spawn(state.clone(), p.clone(), stop.clone());
    let mut rx = stop.clone();
    let served = p.clone();
    let state = state.clone();
    tokio::spawn(async move {
        let r = peering::service::serve(served, state, listener, async move {
            let _ = rx.wait_for(|v| *v).await;
        })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "peer endpoint failed");
        }
    });
    Ok(Some(p))
}

/// How long requests in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
