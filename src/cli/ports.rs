//! `envctl ports`: the host ports of an instance's services (from their labels, so stopped
//! containers show the ports they will get back).

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::model::labels;
use crate::output;
use crate::plan::ports::decode_label;

use super::common;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PortsFormat {
    #[default]
    Table,
    /// `SERVICE_PORT_CONTAINERPORT=HOSTPORT` lines, for `.env` files.
    Dotenv,
    Json,
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[arg(long, value_enum, default_value_t)]
    pub output: PortsFormat,
}

#[derive(Debug, Serialize)]
struct Row {
    service: String,
    container_port: u16,
    host_port: u16,
    protocol: &'static str,
}

pub async fn run(args: PortsArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&args.instance)?;
    let engine = common::connect().await?;
    let containers = common::instance_containers(engine.as_ref(), &instance).await?;
    let mut rows = Vec::new();
    for (service, c) in &containers {
        let ports = c
            .labels
            .get(labels::PORTS)
            .map(|l| decode_label(l))
            .unwrap_or_default();
        for ((container, proto), host) in ports {
            rows.push(Row {
                service: service.clone(),
                container_port: container,
                host_port: host,
                protocol: proto.as_str(),
            });
        }
    }
    match args.output {
        PortsFormat::Json => println!("{}", serde_json::to_string(&rows)?),
        PortsFormat::Dotenv => {
            for r in &rows {
                println!(
                    "{}={}",
                    dotenv_key(&r.service, r.container_port),
                    r.host_port
                );
            }
        }
        PortsFormat::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.service.clone(),
                        format!("{}/{}", r.container_port, r.protocol),
                        r.host_port.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["SERVICE", "CONTAINER", "HOST"], &table)
            );
        }
    }
    Ok(0)
}

/// `order-service`, 20880 -> `ORDER_SERVICE_PORT_20880`.
fn dotenv_key(service: &str, port: u16) -> String {
    format!("{}_PORT_{port}", service.to_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dotenv_keys_are_shell_names() {
        assert_eq!(
            super::dotenv_key("order-service", 20880),
            "ORDER_SERVICE_PORT_20880"
        );
    }
}
