//! `envctl validate`.

use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl validate` is not implemented yet")
}
