//! `envctl render`: the fully resolved definition (templates applied, defaults filled).

use clap::{Args, ValueEnum};

use super::{InstanceArgs, RenderInputs};
use crate::definition::{self, EnvironmentView, LoadOptions};
use crate::errors::ExitCode;

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[command(flatten)]
    pub inputs: RenderInputs,
    /// Output format: the resolved environment as YAML or JSON, or the Tera-rendered text
    /// before parsing (to debug templates).
    #[arg(long, short = 'o', value_enum, default_value_t = RenderFormat::Yaml)]
    pub output: RenderFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Yaml,
    Json,
    /// The file after Tera rendering, before YAML parsing.
    Text,
}

impl RenderInputs {
    /// The load options for one instance: `--set` values, `--advertise-host` or the detected
    /// host address.
    pub fn load_options(&self, feature: Option<&str>) -> LoadOptions {
        LoadOptions {
            feature: feature.map(str::to_string),
            set: self.set.iter().cloned().collect(),
            advertise_host: self
                .advertise_host
                .clone()
                .unwrap_or_else(|| crate::advertise::detect().to_string()),
        }
    }
}

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let opts = args.inputs.load_options(args.instance.feature.as_deref());
    if args.output == RenderFormat::Text {
        return Ok(match definition::render_text(&args.instance.env, &opts) {
            Ok(text) => {
                emit(&text)?;
                ExitCode::Ok
            }
            Err(err) => report(&err),
        });
    }
    let env = match definition::load(&args.instance.env, &opts) {
        Ok(env) => env,
        Err(err) => return Ok(report(&err)),
    };
    let view = EnvironmentView::new(&env);
    match args.output {
        RenderFormat::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&view)?))?,
        _ => emit(&serde_yaml::to_string(&view)?)?,
    }
    Ok(ExitCode::Ok)
}

/// Prints the diagnostics, exactly as `main` would print the error, and fails.
pub(super) fn report(err: &definition::DefinitionError) -> ExitCode {
    crate::errln!("{}", err.rendered);
    ExitCode::Failed
}

/// Writes to stdout; a closed pipe (`envctl render x | head`) is not an error.
/// Writes a document to stdout through the pipe-safe stream.
pub(super) fn emit(text: &str) -> anyhow::Result<()> {
    crate::out!("{text}");
    Ok(())
}
