//! `envctl ls`: the instances on this engine, with services ready/total and age.

use clap::Args;
use serde::Serialize;

use crate::errors::ExitCode;
use crate::ops::inspect::InstanceSummary;
use crate::output::{self, Report};

use super::common;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only the instances you made (owner `user@host`, or `ENVCTL_OWNER`).
    #[arg(long)]
    pub mine: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: super::OutputFormat,
}

pub async fn run(args: LsArgs) -> anyhow::Result<ExitCode> {
    let backend = common::connect(None).await?;
    let mut list = crate::ops::inspect::list(backend.as_ref()).await?;
    if args.mine {
        let me = crate::owner::current();
        list.retain(|i| i.owner.as_deref() == Some(me.as_str()));
    }
    let list = Instances(list.into_iter().map(common::OnEngine::new).collect());
    Ok(output::emit(
        &list,
        args.output == super::OutputFormat::Json,
    ))
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Instances(Vec<common::OnEngine<InstanceSummary>>);

impl Report for Instances {
    fn text(&self) -> String {
        let engine = common::engine_text();
        if self.0.is_empty() {
            return format!("no envctl instances on {engine}\n");
        }
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|i| &i.report)
            .map(|i| {
                vec![
                    i.instance.clone(),
                    i.env.clone(),
                    i.feature.clone(),
                    i.base.clone().unwrap_or_else(|| "-".into()),
                    format!("{}/{}", i.ready, i.total),
                    i.age.clone(),
                    i.expires.clone(),
                    i.owner.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let table = output::table(
            &[
                "INSTANCE", "ENV", "FEATURE", "BASE", "READY", "AGE", "EXPIRES", "OWNER",
            ],
            &rows,
        );
        format!("{table}engine: {engine}\n")
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }
}
