//! Command-line interface: clap types here, one small file per command.
//! Each command parses its arguments, calls a use case (`ops`, `definition`) and hands the
//! result to `output::emit`; the exit code is an `errors::ExitCode`.

mod args;
mod common;
mod complete_words;
mod completions;
mod down;
mod endpoints;
mod endpoints_watch;
mod exec;
mod gc;
mod help;
mod import;
mod init;
mod interrupt;
mod logs;
mod ls;
mod plan;
mod ports;
mod render;
mod schema;
mod snapshot;
mod status;
mod template;
mod ui;
mod up;
mod validate;

pub use args::*;
pub use help::{command, parse};

use clap::{Parser, Subcommand};

/// One-click, isolated, reachable test environments on Docker.
///
/// An environment is a YAML file in ./environments rendered by Tera. `envctl up NAME` makes the
/// local Docker engine match it; `--feature F` makes an isolated copy for one feature branch.
#[derive(Debug, Parser)]
#[command(name = "envctl", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The engine to use: a URL (unix:///var/run/docker.sock, tcp://HOST:2375) or a docker
    /// context name. Default: ENVCTL_ENGINE, `engine:` in ./envctl.yaml, DOCKER_HOST,
    /// DOCKER_CONTEXT, the current docker context, then the local socket.
    #[arg(long, global = true, value_name = "URL|CONTEXT")]
    pub engine: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update an instance so the engine matches its definition, then wait until ready.
    Up(up::UpArgs),
    /// Remove an instance's containers and network (volumes only with --volumes).
    Down(down::DownArgs),
    /// Show what `up` would do and why; exits 0 when converged, 2 when changes are pending.
    Plan(plan::PlanArgs),
    /// Print the fully resolved definition (templates applied, defaults filled), or its
    /// Kubernetes manifests with `--target kubernetes`.
    Render(render::RenderArgs),
    /// Check definitions and report every problem found, with file and line.
    Validate(validate::ValidateArgs),
    /// Show the services of one instance and their state.
    Status(status::StatusArgs),
    /// List instances on this engine.
    Ls(ls::LsArgs),
    /// Show the host ports of an instance's services.
    Ports(ports::PortsArgs),
    /// Show (or follow) the logs of an instance's services.
    Logs(logs::LogsArgs),
    /// Show the Dubbo providers and published ports of an instance, as outsiders reach them.
    Endpoints(endpoints::EndpointsArgs),
    /// Remove instances whose lifetime (`up --ttl`) has passed, exactly as `down` would.
    Gc(gc::GcArgs),
    /// Run a command inside a service's container.
    Exec(exec::ExecArgs),
    /// Work with service templates.
    #[command(subcommand)]
    Template(template::TemplateCommand),
    /// Capture, list and remove snapshots of instances' data (`up --from-snapshot` uses them).
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Print the JSON Schema of definition files (for editor completion).
    Schema(schema::SchemaArgs),
    /// Scaffold environments/ and templates/ with a working example.
    Init(init::InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    Completions(completions::CompletionsArgs),
    /// What the completion scripts call: names for the word being completed.
    #[command(name = "__complete", hide = true)]
    Complete(completions::CompleteArgs),
    /// Write an environment from Compose files and report what could not be carried over.
    Import(import::ImportArgs),
    /// Serve a live web page of every instance on this engine (loopback by default).
    Ui(ui::UiArgs),
}

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<crate::errors::ExitCode> {
    // An empty or malformed variable is named before anything is read or created; completion
    // stays quiet and works regardless.
    if !matches!(cli.command, Command::Completions(_) | Command::Complete(_)) {
        crate::settings::check_environment()?;
        // A broken engine setting is named before any command reads or renders anything.
        crate::backend::selection::select(cli.engine)?;
    }
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Down(args) => down::run(args).await,
        Command::Plan(args) => plan::run(args).await,
        Command::Render(args) => render::run(args).await,
        Command::Validate(args) => validate::run(args),
        Command::Status(args) => status::run(args).await,
        Command::Ls(args) => ls::run(args).await,
        Command::Ports(args) => ports::run(args).await,
        Command::Logs(args) => logs::run(args).await,
        Command::Exec(args) => exec::run(args).await,
        Command::Gc(args) => gc::run(args).await,
        Command::Endpoints(args) => endpoints::run(args).await,
        Command::Template(cmd) => template::run(cmd),
        Command::Snapshot(cmd) => snapshot::run(cmd).await,
        Command::Schema(args) => schema::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Complete(args) => completions::complete(args).await,
        Command::Import(args) => import::run(args),
        Command::Ui(args) => ui::run(args).await,
    }
}
