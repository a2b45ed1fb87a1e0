//! `envctl plan`: what `up` would do and why. Exit 0 when converged, 2 when not.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use crate::errors::ExitCode;
use crate::output::{self, Report};
use crate::plan::ActionSummary;

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    #[command(flatten)]
    pub overlay: super::args::OverlayArgs,
    /// Plan as `up --local SERVICE` would: SERVICE runs on the host, not in a container.
    #[arg(long, value_name = "SERVICE")]
    pub local: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let mut env = common::load_with_overlay(&args.instance, &args.render, &args.overlay)?;
    common::run_locally(&mut env, &args.local)?;
    let backend = common::connect(args.render.advertise_host.as_deref()).await?;
    let plan = backend.plan(&env, &common::plan_inputs()?).await?;
    let report = PlanReport {
        instance: plan.instance.to_string(),
        converged: plan.is_empty(),
        actions: plan.summaries(),
        overlay: env.overlay.as_ref().map(|o| OverlayView {
            base: o.base.to_string(),
            tag: o.tag.clone(),
            services: env.services.keys().map(ToString::to_string).collect(),
        }),
        // Host access is always flagged, converged or not: it is what a reviewer must see.
        host_access: outside_access(&env),
    };
    Ok(output::emit(&report, args.output == OutputFormat::Json))
}

#[derive(Debug, Serialize)]
struct PlanReport {
    instance: String,
    converged: bool,
    actions: Vec<ActionSummary>,
    /// Set for an overlay: its base, tag and the services it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    overlay: Option<OverlayView>,
    host_access: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Serialize)]
struct OverlayView {
    base: String,
    tag: String,
    services: Vec<String>,
}

impl Report for PlanReport {
    fn text(&self) -> String {
        let overlay = self.overlay.as_ref().map(|o| {
            format!(
                "{} is an overlay on {} (tag {}): {}\n",
                self.instance,
                o.base,
                o.tag,
                o.services.join(", ")
            )
        });
        let mut text = overlay.unwrap_or_default();
        text += &if self.converged {
            format!("{} is converged: nothing to do\n", self.instance)
        } else {
            let mut text = format!("{}: {} change(s)\n", self.instance, self.actions.len());
            for s in &self.actions {
                text.push_str(&format!("  {s}\n"));
            }
            text
        };
        for (service, access) in &self.host_access {
            text.push_str(&format!(
                "  ! {service} has host access: {} (allowed by `allow:`)\n",
                access.join(", ")
            ));
        }
        text
    }
    /// 2 (changes pending) when `up` would change something.
    fn exit_code(&self) -> ExitCode {
        if self.converged {
            ExitCode::Ok
        } else {
            ExitCode::ChangesPending
        }
    }
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
