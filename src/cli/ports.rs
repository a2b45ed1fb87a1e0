//! `envctl ports`.

use clap::Args;

#[derive(Debug, Args)]
pub struct PortsArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
}

pub async fn run(_args: PortsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl ports` is not implemented yet")
}
