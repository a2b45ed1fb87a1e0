//! `envctl plan`: what `up` would do and why. Exit 0 when converged, 2 when not.

use clap::Args;

use crate::plan;

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    /// Plan as `up --local SERVICE` would: SERVICE runs on the host, not in a container.
    #[arg(long, value_name = "SERVICE")]
    pub local: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Exit code when `up` would change something.
pub const PENDING: i32 = 2;

pub async fn run(args: PlanArgs) -> anyhow::Result<i32> {
    let mut env = common::load(&args.instance, &args.render)?;
    common::run_locally(&mut env, &args.local)?;
    let engine = common::connect().await?;
    let observed = plan::observe(engine.as_ref(), &env).await?;
    let plan = plan::plan(&env, &observed, &common::plan_inputs()?)?;
    let summaries = plan.summaries();
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "instance": plan.instance.as_str(),
                "converged": plan.is_empty(),
                "actions": summaries,
            })
        ),
        OutputFormat::Text if plan.is_empty() => {
            println!("{} is converged: nothing to do", plan.instance)
        }
        OutputFormat::Text => {
            println!("{}: {} change(s)", plan.instance, summaries.len());
            for s in &summaries {
                println!("  {s}");
            }
        }
    }
    Ok(if plan.is_empty() { 0 } else { PENDING })
}
