//! `envctl schema`: the JSON Schema of definition (or template) files, for editor completion.

use clap::Args;

use crate::definition;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of service template files instead of environment definitions.
    #[arg(long)]
    pub template: bool,
}

pub fn run(args: SchemaArgs) -> anyhow::Result<crate::errors::ExitCode> {
    let schema = if args.template {
        definition::template_schema()
    } else {
        definition::definition_schema()
    };
    super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&schema)?))?;
    Ok(crate::errors::ExitCode::Ok)
}
