//! `envctl down`: removes an instance by its labels; needs no definition file.

use clap::Args;
use serde::Serialize;

use crate::apply::{self, DownReport};
use crate::errors::ExitCode;
use crate::lock::WaitPolicy;
use crate::ops::down::DownTarget;
use crate::output::{self, Report};

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
    /// Also remove the overlays attached to the instance (`up --only`), first; without it,
    /// `down` of a base with overlays refuses and lists them.
    #[arg(long, conflicts_with = "all_features")]
    pub cascade: bool,
    /// Remove it even when someone else made it (`envctl ls` shows owners).
    #[arg(long)]
    pub force: bool,
    /// Fail at once when another envctl works on this instance, instead of waiting.
    #[arg(long)]
    pub no_wait_lock: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: DownArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let backend = common::connect(None).await?;
    let json = args.output == OutputFormat::Json;
    let (target, described) = if args.all_features {
        let env = common::env_name(&args.instance.env);
        (
            DownTarget::AllOf(env.clone()),
            format!("every instance of {env}"),
        )
    } else {
        let policy = if args.no_wait_lock {
            WaitPolicy::FailFast
        } else {
            WaitPolicy::Wait(apply::DEFAULT_WAIT_TIMEOUT)
        };
        (
            DownTarget::Instance {
                id: instance.clone(),
                policy,
                cascade: args.cascade,
            },
            instance.to_string(),
        )
    };
    if !args.force {
        let env = common::env_name(&args.instance.env);
        let wanted = |found: &crate::backend::FoundInstance| {
            if args.all_features {
                found.owner.env == env
            } else {
                // --cascade removes the overlays too: someone else's are refused as well.
                found.owner.instance == instance.as_str()
                    || (args.cascade && found.owner.base.as_deref() == Some(instance.as_str()))
            }
        };
        let me = crate::owner::current();
        crate::ops::owners::refuse_others(backend.as_ref(), &wanted, &me).await?;
    }
    let renderer = output::SharedRenderer::new(json);
    let result = crate::ops::down::down(
        backend.as_ref(),
        target,
        args.volumes,
        renderer.sink(),
        &mut common::note_lock_wait(&instance, json),
    )
    .await;
    renderer.finish();
    let report = Removed {
        target: described,
        report: result?,
    };
    Ok(output::emit(&report, json))
}

/// What `down` removed, and the named volumes it kept.
#[derive(Debug)]
struct Removed {
    target: String,
    report: DownReport,
}

impl Serialize for Removed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.report;
        serde_json::json!({
            "result": if r.failures.is_empty() { "removed" } else { "failed" },
            "instances": r.instances,
            "containers": r.containers,
            "networks": r.networks,
            "volumes": r.volumes,
            "kept_volumes": r.kept_volumes,
        })
        .serialize(s)
    }
}

impl Report for Removed {
    fn text(&self) -> String {
        let r = &self.report;
        let mut text =
            if r.instances.is_empty() && r.volumes.is_empty() && r.kept_volumes.is_empty() {
                format!(
                    "nothing to remove: no envctl resources for {}\n",
                    self.target
                )
            } else {
                format!("removed {}: {}\n", self.target, r.summary())
            };
        if !r.kept_volumes.is_empty() {
            text.push_str(&format!(
                "kept {} named volume(s) with their data: {} (`envctl down --volumes` removes them)\n",
                r.kept_volumes.len(),
                r.kept_volumes.join(", ")
            ));
        }
        text
    }
    fn problems(&self) -> String {
        output::failure_report(&self.report.failures)
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::from_ok(self.report.failures.is_empty())
    }
}
