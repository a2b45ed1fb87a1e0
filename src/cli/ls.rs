//! `envctl ls`: the instances on this engine, with services ready/total and age.

use clap::Args;
use serde::Serialize;

use crate::errors::ExitCode;
use crate::ops::inspect::InstanceSummary;
use crate::output::{self, Report};

use super::common;

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value_t)]
    pub output: super::OutputFormat,
}

pub async fn run(args: LsArgs) -> anyhow::Result<ExitCode> {
    let backend = common::connect(None).await?;
    let list = Instances(crate::ops::inspect::list(backend.as_ref()).await?);
    Ok(output::emit(
        &list,
        args.output == super::OutputFormat::Json,
    ))
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Instances(Vec<InstanceSummary>);

impl Report for Instances {
    fn text(&self) -> String {
        if self.0.is_empty() {
            return "no envctl instances\n".into();
        }
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|i| {
                vec![
                    i.instance.clone(),
                    i.env.clone(),
                    i.feature.clone(),
                    format!("{}/{}", i.ready, i.total),
                    i.age.clone(),
                    i.expires.clone(),
                ]
            })
            .collect();
        output::table(
            &["INSTANCE", "ENV", "FEATURE", "READY", "AGE", "EXPIRES"],
            &rows,
        )
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }
}
