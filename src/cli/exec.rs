//! `envctl exec`: runs a command in a service's container and exits with its status.

use std::io::Write;

use clap::Args;

use super::common;

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    /// The service whose container runs the command.
    pub service: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub async fn run(args: ExecArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&args.instance)?;
    let engine = common::connect().await?;
    let containers = common::instance_containers(engine.as_ref(), &instance).await?;
    let container = containers.get(&args.service).ok_or_else(|| {
        anyhow::anyhow!(
            "instance {instance} has no container for service `{}`",
            args.service
        )
    })?;
    if !container.state.is_running() {
        anyhow::bail!(
            "service `{}` of {instance} is not running ({})",
            args.service,
            common::state_word(container.state)
        );
    }
    let out = engine.exec(&container.id, &args.command).await?;
    let mut stdout = std::io::stdout();
    stdout.write_all(out.output.as_bytes())?;
    stdout.flush()?;
    Ok(i32::try_from(out.exit_code).unwrap_or(1))
}
