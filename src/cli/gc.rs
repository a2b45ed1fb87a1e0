//! `envctl gc`: removes instances whose lifetime (`up --ttl`) has passed, exactly as `down`
//! would, and nothing else (see `ops::gc`).

use clap::Args;
use serde::Serialize;

use crate::apply;
use crate::errors::ExitCode;
use crate::ops::gc::{Expired, GcOutcome};
use crate::output::{self, Report};

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the expired instances' named volumes (their data is lost).
    #[arg(long)]
    pub volumes: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: GcArgs) -> anyhow::Result<ExitCode> {
    let engine = common::connect().await?;
    let json = args.output == OutputFormat::Json;
    let renderer = output::SharedRenderer::new(json);
    // JSON output is one document; progress lines are for humans only.
    let sink = if json {
        apply::discard()
    } else {
        renderer.sink()
    };
    let instances = crate::ops::gc::gc(engine, args.dry_run, args.volumes, sink).await;
    renderer.finish();
    let collected = Collected {
        instances: instances?,
    };
    Ok(output::emit(&collected, json))
}

#[derive(Debug, Serialize)]
struct Collected {
    instances: Vec<Expired>,
}

impl Report for Collected {
    fn text(&self) -> String {
        if self.instances.is_empty() {
            return "nothing to collect: no expired instances\n".into();
        }
        self.instances
            .iter()
            .map(|r| {
                let why = r
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                format!(
                    "{} {} (expired at {}){why}\n",
                    r.result.word(),
                    r.instance,
                    r.expires_at
                )
            })
            .collect()
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::from_ok(!self.instances.iter().any(|r| r.result == GcOutcome::Failed))
    }
}
