//! `envctl exec`: runs a command in a service's container and exits with its status.

use clap::Args;

use crate::errors::ExitCode;

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

pub async fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let backend = common::connect(None).await?;
    let containers = crate::ops::inspect::existing_instance(backend.as_ref(), &instance).await?;
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
            crate::ops::state_word(container.state)
        );
    }
    let out = backend.exec(container, &args.command).await?;
    crate::output::stream::write_stdout_bytes(out.output.as_bytes());
    Ok(ExitCode::of_command(out.exit_code))
}
