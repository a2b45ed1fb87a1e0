//! `envctl status`: the services of one instance, their state, readiness and ports.

use clap::Args;
use serde::Serialize;

use crate::model::labels;
use crate::output;
use crate::plan::ports::decode_label;

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct Row {
    service: String,
    container: String,
    state: String,
    ready: bool,
    /// `host->container/proto`.
    ports: Vec<String>,
    image: String,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&args.instance)?;
    let engine = common::connect().await?;
    let containers = common::instance_containers(engine.as_ref(), &instance).await?;
    let rows: Vec<Row> = containers
        .iter()
        .map(|(service, c)| Row {
            service: service.clone(),
            container: c.name.clone(),
            state: common::state_word(c.state),
            ready: common::ready_by_state(c),
            ports: c
                .labels
                .get(labels::PORTS)
                .map(|l| decode_label(l))
                .unwrap_or_default()
                .iter()
                .map(|((container, proto), host)| format!("{host}->{container}/{}", proto.as_str()))
                .collect(),
            image: c.image.clone(),
        })
        .collect();
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({ "instance": instance.as_str(), "services": rows })
        ),
        OutputFormat::Text if rows.is_empty() => {
            println!("{instance}: no containers (not up, or removed)")
        }
        OutputFormat::Text => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.service.clone(),
                        r.state.clone(),
                        if r.ready { "yes" } else { "no" }.to_string(),
                        r.ports.join(", "),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["SERVICE", "STATE", "READY", "PORTS"], &table)
            );
        }
    }
    Ok(0)
}
