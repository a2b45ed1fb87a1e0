//! `envctl logs`.

use clap::Args;

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: LogsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl logs` is not implemented yet")
}
