//! `envctl render`.

use clap::Args;

#[derive(Debug, Args)]
pub struct RenderArgs {}

pub fn run(_args: RenderArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl render` is not implemented yet")
}
