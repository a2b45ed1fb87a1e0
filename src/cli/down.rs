//! `envctl down`: removes an instance by its labels; needs no definition file.

use clap::Args;

use crate::apply::{self, DownScope};
use crate::lock::{self, WaitPolicy};
use crate::output;

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    /// Remove every instance of the environment, all features included.
    #[arg(long, conflicts_with = "feature")]
    pub all_features: bool,
    /// Also remove the instance's named volumes (their data is lost).
    #[arg(long)]
    pub volumes: bool,
    /// Fail at once when another envctl works on this instance, instead of waiting.
    #[arg(long)]
    pub no_wait_lock: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: DownArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&args.instance)?;
    let engine = common::connect().await?;
    let json = args.output == OutputFormat::Json;
    let (scope, _lock) = if args.all_features {
        let env = common::env_name(&args.instance.env);
        (DownScope::AllOf { env }, None)
    } else {
        let policy = if args.no_wait_lock {
            WaitPolicy::FailFast
        } else {
            WaitPolicy::Wait(apply::DEFAULT_WAIT_TIMEOUT)
        };
        let lock = lock::acquire(&instance, "down", policy, &mut |holder| {
            if !json {
                eprintln!("waiting for instance {instance}: {holder}");
            }
        })?;
        (DownScope::Instance(instance.to_string()), Some(lock))
    };

    let renderer = output::SharedRenderer::new(json);
    let sink = renderer.sink();
    let report = apply::down(engine, &scope, args.volumes, sink).await?;
    renderer.finish();

    let target = match &scope {
        DownScope::Instance(i) => i.clone(),
        DownScope::AllOf { env } => format!("every instance of {env}"),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "result": if report.failures.is_empty() { "removed" } else { "failed" },
                "instances": report.instances,
                "containers": report.containers,
                "networks": report.networks,
                "volumes": report.volumes,
            })
        );
    } else if report.instances.is_empty() && report.volumes.is_empty() {
        println!("nothing to remove: no envctl resources for {target}");
    } else {
        println!(
            "removed {target}: {} container(s), {} network(s), {} volume(s)",
            report.containers.len(),
            report.networks.len(),
            report.volumes.len()
        );
    }
    if !report.failures.is_empty() {
        eprint!("{}", output::failure_report(&report.failures));
        return Ok(1);
    }
    Ok(0)
}
