//! `deploy`: the command-line tool for people and scripts (`deploy <noun> <verb>`).

mod client;
mod cmd;
mod context;
mod output;

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cmd::Env;
use output::Format;

/// Heading of the options every command takes.
const GLOBAL: &str = "Global options";
/// Heading of the options that pick the Space a command talks to.
const SPACE: &str = "Space connection (every command but odcm, context, drop)";
/// The Space-connection options, hidden under `deploy odcm` (it connects to an ODCM instead).
const SPACE_FLAGS: [&str; 4] = ["context", "server", "api_key", "server_fingerprint"];

#[derive(Parser)]
#[command(
    name = "deploy",
    version,
    about = "Release promotion and deployment across Spaces"
)]
struct Cli {
    /// Use this context instead of the current one.
    #[arg(long, global = true, env = "DEPLOY_CONTEXT", help_heading = SPACE)]
    context: Option<String>,
    /// Server address (overrides the context).
    #[arg(long, global = true, env = "DEPLOY_SERVER", help_heading = SPACE)]
    server: Option<String>,
    /// API key (overrides the context).
    #[arg(
        long,
        global = true,
        env = "DEPLOY_API_KEY",
        hide_env_values = true,
        help_heading = SPACE
    )]
    api_key: Option<String>,
    /// Server certificate fingerprint (overrides the context).
    #[arg(long, global = true, env = "DEPLOY_FINGERPRINT", help_heading = SPACE)]
    server_fingerprint: Option<String>,
    /// Output format.
    #[arg(
        long,
        short = 'o',
        global = true,
        value_enum,
        default_value = "table",
        help_heading = GLOBAL
    )]
    output: Format,
    /// Deadline for each call, in seconds.
    #[arg(long, global = true, default_value_t = 30, help_heading = GLOBAL)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Named server contexts (address, API key, certificate fingerprint).
    #[command(subcommand)]
    Context(cmd::config::ContextCmd),
    /// Show the Space and identity the current context reaches.
    Whoami,
    /// Users and service accounts (admin keys only).
    #[command(subcommand)]
    User(cmd::access::UserCmd),
    /// API keys of users and service accounts (admin keys only).
    #[command(subcommand, name = "apikey")]
    ApiKey(cmd::access::ApiKeyCmd),
    /// Tenants of this Space and the projects and environments they are connected to.
    #[command(subcommand)]
    Tenant(cmd::tenants::TenantCmd),
    /// Teams: members and the roles granted to them, per project and environment.
    #[command(subcommand)]
    Team(cmd::teams::TeamCmd),
    /// Roles: built-in and custom sets of permissions (docs/permissions.md).
    #[command(subcommand)]
    Role(cmd::teams::RoleCmd),
    /// The Space's audit trail: every write and every refusal (admin keys only).
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// Environments.
    #[command(subcommand, alias = "environment")]
    Env(cmd::config::EnvCmd),
    /// Lifecycles.
    #[command(subcommand)]
    Lifecycle(cmd::lifecycle::LifecycleCmd),
    /// Projects.
    #[command(subcommand)]
    Project(cmd::project::ProjectCmd),
    /// Channels of a project.
    #[command(subcommand)]
    Channel(cmd::project::ChannelCmd),
    /// Steps of a project's deployment process.
    #[command(subcommand)]
    Step(cmd::step::StepCmd),
    /// Project variables.
    #[command(subcommand, alias = "var")]
    Variable(cmd::variable::VariableCmd),
    /// Variable templates.
    #[command(subcommand)]
    Template(cmd::variable::TemplateCmd),
    /// The built-in package feed.
    #[command(subcommand)]
    Package(cmd::package::PackageCmd),
    /// Releases.
    #[command(subcommand)]
    Release(cmd::release::ReleaseCmd),
    /// Deployment targets (agents).
    #[command(subcommand)]
    Target(cmd::target::TargetCmd),
    /// Deployments: history, details, logs, cancel.
    #[command(subcommand)]
    Deployment(cmd::deployment::DeploymentCmd),
    /// Projects x environments: the latest release and its state in each.
    Dashboard,
    /// Offline drops: run one on this machine, write its result (no server needed).
    #[command(subcommand)]
    Drop(cmd::drop::DropCmd),
    /// Results that cross: signed Deployment Receipts out and in, offline drop results in.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCmd),
    /// Release Bundles received from another Space: add, inspect, import, import by itself.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCmd),
    /// Automatic promotions to other Spaces and where each stands.
    #[command(subcommand)]
    Promotion(cmd::automation::PromotionCmd),
    /// This Space's links to other Spaces: ODCM identity, trust set, peer calls.
    #[command(subcommand)]
    Space(cmd::space::SpaceCmd),
    /// Administer an ODCM: Spaces, Remote Spaces, trusts, audit log.
    Odcm(cmd::odcm::OdcmCmd),
    /// Print shell completions.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

async fn connect(cli: &Cli) -> anyhow::Result<Env> {
    let ctx = context::resolve(
        cli.context.as_deref(),
        cli.server.as_deref(),
        cli.api_key.as_deref(),
        cli.server_fingerprint.as_deref(),
    )?;
    Ok(Env {
        client: client::Client::connect(&ctx, Duration::from_secs(cli.timeout.max(1))).await?,
        output: cli.output,
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = cli.output;
    match cli.command {
        Command::Context(c) => return cmd::config::context(c, output),
        Command::Odcm(c) => return cmd::odcm::run(c, output, cli.timeout).await,
        Command::Drop(c) => return cmd::drop::run(c).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "deploy", &mut std::io::stdout());
            return Ok(());
        }
        _ => {}
    }
    let x = connect(&cli).await?;
    match cli.command {
        Command::Context(_) | Command::Completions { .. } | Command::Odcm(_) | Command::Drop(_) => {
            Ok(())
        }
        Command::Whoami => cmd::access::whoami(&x).await,
        Command::User(c) => cmd::access::users(c, x).await,
        Command::ApiKey(c) => cmd::access::keys(c, x).await,
        Command::Audit(c) => cmd::audit::run(c, x).await,
        Command::Team(c) => cmd::teams::teams(c, x).await,
        Command::Tenant(c) => cmd::tenants::run(c, x).await,
        Command::Role(c) => cmd::teams::roles(c, x).await,
        Command::Env(c) => cmd::config::env(c, x).await,
        Command::Lifecycle(c) => cmd::lifecycle::run(c, x).await,
        Command::Project(c) => cmd::project::project(c, x).await,
        Command::Channel(c) => cmd::project::channel(c, x).await,
        Command::Step(c) => cmd::step::step(c, x).await,
        Command::Variable(c) => cmd::variable::variable(c, x).await,
        Command::Template(c) => cmd::variable::template(c, x).await,
        Command::Package(c) => cmd::package::run(c, x).await,
        Command::Release(c) => cmd::release::run(c, x).await,
        Command::Target(c) => cmd::target::run(c, x).await,
        Command::Deployment(c) => cmd::deployment::run(c, x).await,
        Command::Dashboard => cmd::dashboard::dashboard(x).await,
        Command::Space(c) => cmd::space::run(c, x).await,
        Command::Receipt(c) => cmd::receipt::run(c, x).await,
        Command::Bundle(c) => cmd::bundle::run(c, x).await,
        Command::Promotion(c) => cmd::automation::promotions(c, x).await,
    }
}

/// The command line: `Cli` with the Space-connection options hidden under `deploy odcm` (a
/// hidden copy there stops clap from propagating the visible one).
fn command() -> clap::Command {
    let c = Cli::command();
    let hidden: Vec<clap::Arg> = c
        .get_arguments()
        .filter(|a| SPACE_FLAGS.contains(&a.get_id().as_str()))
        .map(|a| a.clone().hide(true))
        .collect();
    c.mut_subcommand("odcm", |o| o.args(hidden))
}

fn main() {
    let cli = match Cli::from_arg_matches_mut(&mut command().get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime::exit::or_exit(rt.block_on(run(cli)));
}

#[cfg(test)]
#[path = "tests/help.rs"]
mod help_tests;
