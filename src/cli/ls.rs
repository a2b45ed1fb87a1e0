//! `envctl ls`.

use clap::Args;

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value_t)]
    pub output: super::OutputFormat,
}

pub async fn run(_args: LsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl ls` is not implemented yet")
}
