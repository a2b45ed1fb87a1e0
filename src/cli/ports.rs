//! `envctl ports`: the host ports of an instance's services (from their labels, so stopped
//! containers show the ports they will get back). An instance that does not exist is an error.

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::errors::ExitCode;
use crate::ops::inspect::PortRow;
use crate::output::{self, Report};

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

pub async fn run(args: PortsArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let backend = common::connect(None).await?;
    let rows = Ports {
        rows: crate::ops::inspect::ports(backend.as_ref(), &instance).await?,
        dotenv: args.output == PortsFormat::Dotenv,
    };
    Ok(output::emit(&rows, args.output == PortsFormat::Json))
}

/// Serialised as the list of rows.
#[derive(Debug)]
struct Ports {
    rows: Vec<PortRow>,
    dotenv: bool,
}

impl Serialize for Ports {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.rows.serialize(s)
    }
}

impl Report for Ports {
    fn text(&self) -> String {
        if self.dotenv {
            return self
                .rows
                .iter()
                .map(|r| {
                    format!(
                        "{}={}\n",
                        dotenv_key(&r.service, r.container_port),
                        r.host_port
                    )
                })
                .collect();
        }
        let table: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.service.clone(),
                    format!("{}/{}", r.container_port, r.protocol),
                    r.host_port.to_string(),
                    r.address.clone(),
                ]
            })
            .collect();
        output::table(&["SERVICE", "CONTAINER", "HOST", "ADDRESS"], &table)
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }
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
