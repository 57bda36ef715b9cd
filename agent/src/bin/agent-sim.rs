//! `agent-sim`: many polling agents in one process, each with its own certificate and data
//! directory, running the real agent session and executor. For benchmarks: it registers the
//! agents with a Space, connects them all, prints `connected N`, and serves until killed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::state::AgentState;
use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use proto::space::v1 as pb;

#[derive(Parser)]
#[command(
    name = "agent-sim",
    about = "Simulates many polling agents for benchmarks"
)]
struct Cli {
    /// The Space's API address (https://HOST:PORT), for registering the agents.
    #[arg(long)]
    space: String,
    #[arg(long, env = "DEPLOY_API_KEY", hide_env_values = true)]
    api_key: String,
    #[arg(long)]
    space_fingerprint: String,
    /// Where the agents connect (deploy target endpoint).
    #[arg(long)]
    agent_endpoint: String,
    #[arg(long, default_value_t = 100)]
    agents: usize,
    #[arg(long = "env")]
    environment: String,
    #[arg(long, default_value = "sim")]
    role: String,
    #[arg(long, default_value = "sim")]
    prefix: String,
    /// Parent of the agents' data directories.
    #[arg(long)]
    data_dir: std::path::PathBuf,
    /// Registrations and connections in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let states: Vec<Arc<AgentState>> = futures::stream::iter(0..cli.agents)
        .map(|i| {
            let dir = cli.data_dir.join(format!("{}-{i:05}", cli.prefix));
            tokio::task::spawn_blocking(move || {
                AgentState::open(&dir, &dir.join("applications")).map(Arc::new)
            })
        })
        .buffered(cli.concurrency)
        .map(|r| {
            r.map_err(anyhow::Error::from)
                .and_then(|s| s.map_err(anyhow::Error::from))
        })
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    eprintln!(
        "{} identities ready in {:?}",
        states.len(),
        started.elapsed()
    );

    let channel =
        net::tls::connect_pinned(&cli.space, &cli.space_fingerprint, Duration::from_secs(10))
            .await?;
    let key: tonic::metadata::MetadataValue<_> = format!("Bearer {}", cli.api_key).parse()?;
    let client = pb::targets_client::TargetsClient::with_interceptor(
        channel,
        move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", key.clone());
            Ok(r)
        },
    );
    let t0 = Instant::now();
    let results = futures::stream::iter(states.iter().enumerate())
        .map(|(i, s)| {
            let mut client = client.clone();
            let target = pb::Target {
                name: format!("{}-{i:05}", cli.prefix),
                fingerprint: s.identity.fingerprint().unwrap_or_default(),
                listening_address: String::new(),
                environments: vec![cli.environment.clone()],
                roles: vec![cli.role.clone()],
                connected: false,
                last_seen: None,
                ..Default::default()
            };
            async move {
                match client.create(target).await {
                    Ok(_) => Ok(()),
                    Err(s)
                        if s.code() == tonic::Code::AlreadyExists
                            || s.message().contains("already registered") =>
                    {
                        Ok(())
                    }
                    Err(s) => Err(anyhow::anyhow!("register: {}", s.message())),
                }
            }
        })
        .buffer_unordered(cli.concurrency)
        .collect::<Vec<_>>()
        .await;
    results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("registering agents")?;
    eprintln!("{} targets registered in {:?}", states.len(), t0.elapsed());

    let t1 = Instant::now();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut handles = Vec::new();
    for s in &states {
        let (s, server, fp) = (
            s.clone(),
            cli.agent_endpoint.clone(),
            cli.space_fingerprint.clone(),
        );
        let mut stop = stop_tx.subscribe();
        handles.push(tokio::spawn(async move {
            agent::polling::run(s, server, fp, async move {
                let _ = stop.recv().await;
            })
            .await
        }));
        // Pace the handshakes a little so the Space is not hit by all of them at once.
        if handles.len() % cli.concurrency == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("{} agents started in {:?}", handles.len(), t1.elapsed());
    println!("started {}", handles.len());
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}
