//! `envctl exec`.

use clap::Args;

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: ExecArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl exec` is not implemented yet")
}
