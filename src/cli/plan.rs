//! `envctl plan`.

use clap::Args;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: PlanArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl plan` is not implemented yet")
}
