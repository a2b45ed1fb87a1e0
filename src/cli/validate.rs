//! `envctl validate`: every problem in every given definition, or OK lines.

use clap::Args;
use serde::Serialize;

use super::{OutputFormat, RenderInputs};
use crate::definition::{self, Diagnostic};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments (names in ./environments or paths); all of ./environments/*.yaml when none.
    pub envs: Vec<String>,
    /// Validate the copy for this feature branch.
    #[arg(long, short = 'f')]
    pub feature: Option<String>,
    #[command(flatten)]
    pub inputs: RenderInputs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// One file's outcome, for `--output json`.
#[derive(Debug, Serialize)]
struct Report {
    env: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    services: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct Problem {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    col: Option<usize>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Self {
        Self {
            file: d.file.display().to_string(),
            line: d.location.as_ref().map(|l| l.line),
            col: d.location.as_ref().map(|l| l.col),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

pub fn run(args: ValidateArgs) -> anyhow::Result<crate::errors::ExitCode> {
    let envs = super::environments_or_all(&args.envs, "validate")?;
    let opts = args.inputs.load_options(args.feature.as_deref());
    let json = args.output == OutputFormat::Json;
    let mut reports = Vec::new();
    for env in &envs {
        let report = match definition::load(env, &opts) {
            Ok(loaded) => {
                if !json {
                    crate::outln!(
                        "OK {env} ({}: {} services)",
                        loaded.instance,
                        loaded.services.len()
                    );
                }
                Report {
                    env: env.clone(),
                    ok: true,
                    instance: Some(loaded.instance.to_string()),
                    services: Some(loaded.services.len()),
                    problems: Vec::new(),
                }
            }
            Err(err) => {
                if !json {
                    crate::errln!("{}\n", err.rendered);
                    crate::errln!("FAILED {env}");
                }
                let mut problems: Vec<Problem> =
                    err.diagnostics.iter().map(Problem::from).collect();
                if problems.is_empty() {
                    problems.push(Problem {
                        file: env.clone(),
                        line: None,
                        col: None,
                        message: err.to_string(),
                        hint: None,
                    });
                }
                Report {
                    env: env.clone(),
                    ok: false,
                    instance: None,
                    services: None,
                    problems,
                }
            }
        };
        reports.push(report);
    }
    if json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&reports)?))?;
    }
    Ok(crate::errors::ExitCode::from_ok(
        reports.iter().all(|r| r.ok),
    ))
}
