//! `agent`: parses configuration, binds its listener (listening mode) and runs.

use std::sync::Arc;
use std::time::Duration;

use agent::config::{Config, FILE_NAME, Mode, Overrides};
use agent::state::AgentState;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use proto::space::v1 as pb;

#[derive(Parser)]
#[command(
    name = "agent",
    version,
    about = "Runs deployment steps on this machine for the Space it trusts"
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
    /// Create the agent's key and certificate (if needed) and print its fingerprint.
    Init,
    /// Run the agent (the default).
    Run,
    /// Register this agent as a deployment target in a Space (with an API key) and write
    /// agent.toml so that `agent run` needs no flags.
    Register {
        /// The Space's API address (https://HOST:PORT).
        #[arg(long)]
        space: String,
        #[arg(long, env = "DEPLOY_API_KEY", hide_env_values = true)]
        api_key: String,
        /// The Space's certificate fingerprint.
        #[arg(long)]
        space_fingerprint: String,
        /// Target name.
        #[arg(long)]
        name: String,
        #[arg(long = "env", required = true)]
        environments: Vec<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Register as a listening agent reachable at this address (https://HOST:PORT).
        #[arg(long)]
        listening_address: Option<String>,
    },
}

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
        let state =
            AgentState::open(&config.data_dir, &config.applications_dir).with_context(|| {
                format!(
                    "cannot open agent data directory {}",
                    config.data_dir.display()
                )
            })?;
        let fingerprint = state.identity.fingerprint()?;
        match cli.command.unwrap_or(Command::Run) {
            Command::Init => {
                println!("Agent certificate fingerprint: {fingerprint}");
                Ok(())
            }
            Command::Register {
                space,
                api_key,
                space_fingerprint,
                name,
                environments,
                roles,
                listening_address,
            } => {
                register(
                    &config,
                    &fingerprint,
                    space,
                    api_key,
                    space_fingerprint,
                    name,
                    environments,
                    roles,
                    listening_address,
                )
                .await
            }
            Command::Run => run(config, Arc::new(state), fingerprint).await,
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn register(
    config: &Config,
    fingerprint: &str,
    space: String,
    api_key: String,
    space_fingerprint: String,
    name: String,
    environments: Vec<String>,
    roles: Vec<String>,
    listening_address: Option<String>,
) -> anyhow::Result<()> {
    let channel =
        net::tls::connect_pinned(&space, &space_fingerprint, Duration::from_secs(10)).await?;
    let key: tonic::metadata::MetadataValue<_> = format!("Bearer {api_key}")
        .parse()
        .context("the API key contains characters that cannot be sent")?;
    let mut client = pb::targets_client::TargetsClient::with_interceptor(
        channel,
        move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", key.clone());
            Ok(r)
        },
    );
    let mut req = tonic::Request::new(pb::Target {
        name: name.clone(),
        fingerprint: fingerprint.to_string(),
        listening_address: listening_address.clone().unwrap_or_default(),
        environments,
        roles,
        connected: false,
        last_seen: None,
        ..Default::default()
    });
    req.set_timeout(Duration::from_secs(30));
    client
        .create(req)
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?;
    let mut file = Config {
        data_dir: config.data_dir.clone(),
        server_fingerprint: net::tls::normalize_fingerprint(&space_fingerprint)?,
        applications_dir: config.applications_dir.clone(),
        ..Config::default()
    };
    match listening_address {
        Some(addr) => {
            file.mode = Mode::Listening;
            let (host, port) = net::tls::parse_address(&addr)?;
            file.listen = format!("{host}:{port}");
        }
        None => {
            let mut req = tonic::Request::new(pb::Empty {});
            req.set_timeout(Duration::from_secs(30));
            let ep = client
                .agent_endpoint(req)
                .await
                .map_err(|s| anyhow::anyhow!("{}", s.message()))?
                .into_inner();
            file.mode = Mode::Polling;
            file.server = ep.address;
        }
    }
    let path = config.data_dir.join(FILE_NAME);
    std::fs::write(&path, file.printable())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "Registered target '{name}' ({fingerprint}); configuration written to {}",
        path.display()
    );
    Ok(())
}

async fn run(config: Config, state: Arc<AgentState>, fingerprint: String) -> anyhow::Result<()> {
    config.check_runnable()?;
    let _telemetry = runtime::telemetry::init(&runtime::telemetry::TelemetryConfig {
        log_format: config.log_format,
        otlp_endpoint: (!config.otlp_endpoint.is_empty()).then(|| config.otlp_endpoint.clone()),
        service_name: "agent".into(),
    })?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        runtime::shutdown::requested().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    match config.mode {
        Mode::Polling => {
            println!(
                "Agent polling {} (certificate {fingerprint})",
                config.server
            );
            agent::polling::run(
                state,
                config.server.clone(),
                config.server_fingerprint.clone(),
                stopped(),
            )
            .await;
        }
        Mode::Listening => {
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let addr = listener.local_addr()?;
            println!("Agent listening on https://{addr} (certificate {fingerprint})");
            let serve = agent::listening::serve(
                state,
                listener,
                config.server_fingerprint.clone(),
                stopped(),
            );
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => r?,
                _ = async { stopped().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                    tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "connections still open after the grace period; stopping");
                }
            }
        }
    }
    if config.server_fingerprint.is_empty() {
        bail!("no Space to trust");
    }
    Ok(())
}

/// How long open connections may take to close after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
