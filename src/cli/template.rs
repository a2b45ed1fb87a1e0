//! `envctl template list|show`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the templates on the search path.
    List,
    /// Show one template: its description and parameters.
    Show { name: String },
}

pub fn run(_cmd: TemplateCommand) -> anyhow::Result<i32> {
    anyhow::bail!("`envctl template` is not implemented yet")
}
