//! `envctl up`.

use clap::Args;

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: UpArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl up` is not implemented yet")
}
