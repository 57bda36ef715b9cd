//! `odcm`: parses configuration, opens the data directory, binds the listener and serves.

use anyhow::Context;
use clap::{Parser, Subcommand};
use odcm::config::{Config, Overrides};
use odcm::state::OdcmState;

#[derive(Parser)]
#[command(
    name = "odcm",
    version,
    about = "Data Center Manager: enrols Spaces, manages trusts and the audit log"
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
    /// Serve (the default).
    Run,
    /// Create the data directory, CA, TLS identity and admin API key, print them, and exit.
    Init,
    /// Write a signed backup of this ODCM: a running one is asked over its control socket
    /// (online, consistent); a stopped one is read from its data directory.
    Backup(runtime::backup::cli::BackupArgs),
    /// Restore a backup into --data-dir, which must be new or empty, and exit.
    Restore(runtime::backup::cli::RestoreArgs),
}

/// What an ODCM's backup is signed with: its CA.
const SIGNERS: &[(&str, &str)] = &[("ca.crt", "ca.key")];

/// jemalloc rather than glibc's malloc: in the soak (issue 14) glibc's many per-thread arenas
/// let resident memory grow about twice as fast per promotion as jemalloc, and as glibc
/// limited to two arenas (`docs/integrity.md`, "Soak").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
                return Ok(runtime::backup::cli::backup("odcm", &config.name, &config.data_dir, SIGNERS, a)?);
            }
            Some(Command::Restore(a)) => {
                return Ok(runtime::backup::cli::restore(&config.data_dir, a)?);
            }
            _ => {}
        }
        let opened = OdcmState::open(&config).with_context(|| {
            format!(
                "cannot open ODCM data directory {}",
                config.data_dir.display()
            )
        })?;
        let fingerprint = opened.state.identity.fingerprint()?;
        let ca = opened.state.ca.cert().fingerprint.clone();
        match cli.command.unwrap_or(Command::Run) {
            Command::Init => {
                runtime::datadir::announce_new_key(&opened.new_admin_key);
                println!("Certificate fingerprint: {fingerprint}");
                println!("CA fingerprint: {ca}");
                println!("Data directory: {}", config.data_dir.display());
                Ok(())
            }
            Command::Backup(_) | Command::Restore(_) => Ok(()),
            Command::Run => {
                let listener = tokio::net::TcpListener::bind(&config.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", config.listen))?;
                let addr = listener.local_addr()?;
                if !config.web_listen.is_empty() {
                    let web = tokio::net::TcpListener::bind(&config.web_listen)
                        .await
                        .with_context(|| format!("cannot listen on {} (web UI)", config.web_listen))?;
                    println!("Web UI: https://{}", web.local_addr()?);
                    let state = opened.state.clone();
                    tokio::spawn(async move {
                        if let Err(e) = odcm::web::serve(state, web, runtime::shutdown::requested()).await {
                            tracing::error!(error = %e, "the web UI failed");
                        }
                    });
                }
                let control = runtime::control::bind(&config.data_dir).with_context(|| {
                    format!("cannot create the control socket in {}", config.data_dir.display())
                })?;
                let (cstate, cconfig) = (opened.state.clone(), config.clone());
                let control_task = tokio::spawn(runtime::control::serve(
                    control,
                    std::sync::Arc::new(move |req| {
                        runtime::backup::run("odcm", &cconfig.name, &cconfig.data_dir, cstate.store.as_ref(), SIGNERS, req)
                            .map_err(|e| e.to_string())
                    }),
                    runtime::shutdown::requested(),
                ));
                runtime::datadir::announce_new_key(&opened.new_admin_key);
                println!("CA fingerprint: {ca}");
                println!(
                    "ODCM '{}' listening on https://{addr} (certificate {fingerprint})",
                    config.name
                );
                tracing::info!(odcm = %config.name, address = %addr, data_dir = %config.data_dir.display(), "odcm started");
                odcm::serve(opened.state, listener, async {
                    runtime::shutdown::requested().await;
                    tracing::info!("shutdown requested: finishing requests in flight");
                })
                .await?;
                // The control socket's file goes with the server.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), control_task).await;
                Ok(())
            }
        }
    })
}
