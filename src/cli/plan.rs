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
    // Host access is always flagged, converged or not: it is what a reviewer must see.
    let host_access: std::collections::BTreeMap<String, Vec<String>> = outside_access(&env);
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "instance": plan.instance.as_str(),
                "converged": plan.is_empty(),
                "actions": summaries,
                "host_access": host_access,
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
    if args.output == OutputFormat::Text {
        for (service, access) in &host_access {
            println!(
                "  ! {service} has host access: {} (allowed by `allow:`)",
                access.join(", ")
            );
        }
    }
    Ok(if plan.is_empty() { 0 } else { PENDING })
}

/// The host access of each service that has any: `privileged`, `host-network`, `host-pid`,
/// `outside-binds` (naming the paths).
fn outside_access(
    env: &crate::model::Environment,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let dir = env
        .source
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    env.services
        .iter()
        .filter_map(|(name, service)| {
            let mut access: Vec<String> = service
                .host_access
                .needs()
                .into_iter()
                .map(String::from)
                .collect();
            for volume in &service.volumes {
                if let crate::model::VolumeSource::Bind(path) = &volume.source {
                    if !path.starts_with(&dir) {
                        access.push(format!(
                            "{} {}",
                            crate::model::ALLOW_OUTSIDE_BINDS,
                            path.display()
                        ));
                    }
                }
            }
            (!access.is_empty()).then(|| (name.to_string(), access))
        })
        .collect()
}
