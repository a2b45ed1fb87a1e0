//! `envctl down`.

use clap::Args;

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: DownArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl down` is not implemented yet")
}
