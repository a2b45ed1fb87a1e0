//! `envctl status`: the services of one instance, their state, readiness and ports.
//!
//! Works from labels alone; when the definition loads, readiness is checked with each
//! service's own health check (one attempt) and pending changes are shown as `up` would make
//! them. An instance that does not exist is an error.

use clap::Args;

use crate::errors::ExitCode;
use crate::ops::inspect::Status;
use crate::output::{self, Report};

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let backend = common::connect(args.render.advertise_host.as_deref()).await?;
    // The definition is optional: without it, status still reports what the labels say.
    let env = common::load(&args.instance, &args.render).ok();
    let status = crate::ops::inspect::status(
        backend.as_ref(),
        &instance,
        env.as_ref(),
        &common::plan_inputs()?,
    )
    .await?;
    let status = common::OnEngine::new(status);
    Ok(output::emit(&status, args.output == OutputFormat::Json))
}

impl Report for common::OnEngine<Status> {
    fn text(&self) -> String {
        let engine = &self.engine;
        let this = &self.report;
        if this.services.is_empty() {
            return format!(
                "{}: no containers (not up, or removed) on {engine}\n",
                this.instance
            );
        }
        let table: Vec<Vec<String>> = this
            .services
            .iter()
            .map(|r| {
                vec![
                    r.service.clone(),
                    r.state.clone(),
                    if r.ready { "yes" } else { "no" }.to_string(),
                    r.ports.join(", "),
                    r.pending.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut text = match &this.overlay {
            Some(o) => format!(
                "{}: overlay on {} (Dubbo tag {}); other services are the base's\n",
                this.instance, o.base, o.tag
            ),
            None => String::new(),
        };
        text += &output::table(&["SERVICE", "STATE", "READY", "PORTS", "PENDING"], &table);
        if let Some(lease) = &this.lease {
            let left = crate::lifetime::remaining(lease.expires_at, chrono::Utc::now());
            text.push_str(&format!(
                "expires at {} ({left}); `envctl up` renews it\n",
                crate::lifetime::format_time(lease.expires_at)
            ));
        }
        text.push_str(&format!("engine: {engine}\n"));
        text
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }
}
