//! `envctl status`.

use clap::Args;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: StatusArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl status` is not implemented yet")
}
