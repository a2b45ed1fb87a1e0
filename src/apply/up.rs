//! `up` as one operation: observe -> plan -> apply, retried when a host port was taken by
//! someone else between planning and starting (another instance coming up at the same time).

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::time::Instant;

use crate::engine::{Engine, EngineError};
use crate::model::{Environment, Protocol};
use crate::plan::{self, Plan, PlanErrors, PlanInputs};

use super::{
    apply_until, ApplyOptions, ApplyReport, EventSink, Failure, Interrupt, Phase, ServiceEvent,
};

/// How often `up` re-plans after losing a host port to a concurrent `up`.
pub const PORT_RETRIES: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    /// The definition cannot be expressed on Kubernetes (that backend's plans only).
    #[error(transparent)]
    Mapping(#[from] crate::kubernetes::MappingError),
    /// What the Kubernetes mapping needs from this machine (node ports, secrets, registry).
    #[error(transparent)]
    KubeInputs(#[from] crate::kubernetes::up_inputs::UpInputsError),
    /// Images built here could not be pushed to the registry the cluster pulls from.
    #[error(transparent)]
    Publish(#[from] crate::kubernetes::registry::PublishError),
    /// Images the engine lacks and could get from nowhere (`fetch_missing_images`), found
    /// before anything was created.
    #[error("{}\nnothing of the instance was created", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Images(Vec<EngineError>),
    #[error("interrupted while fetching image {images} for the engine; nothing of the instance was created")]
    FetchInterrupted { images: String },
    /// `--local` services the engine's containers could not reach (see `backend::docker`).
    #[error("--local {services}: containers on the engine at {engine} could not reach this machine ({reason}); run the service in its container (drop --local), or run envctl on a machine the server can reach")]
    LocalUnreachable {
        services: String,
        engine: String,
        reason: String,
    },
}

/// What `up` did.
#[derive(Debug)]
pub struct UpOutcome {
    /// The last plan applied.
    pub plan: Plan,
    pub report: ApplyReport,
    /// Plans applied (more than one after a port clash).
    pub attempts: u32,
}

/// Makes the engine match `env` and waits per `opts`.
pub async fn up(
    engine: Arc<dyn Engine>,
    env: &Environment,
    inputs: &PlanInputs<'_>,
    opts: &ApplyOptions,
    sink: EventSink,
) -> Result<UpOutcome, UpError> {
    up_until(engine, env, inputs, opts, sink, Interrupt::never()).await
}

/// `up`, stopping early (see `apply_until`) when `interrupt` is set.
pub async fn up_until(
    engine: Arc<dyn Engine>,
    env: &Environment,
    inputs: &PlanInputs<'_>,
    opts: &ApplyOptions,
    sink: EventSink,
    interrupt: Interrupt,
) -> Result<UpOutcome, UpError> {
    let began = Instant::now();
    let mut attempts = 0;
    // Host ports the engine refused to bind: whoever holds them (on a remote server, a process
    // the planner cannot see) keeps them, and the next plan moves the service elsewhere.
    let mut refused: BTreeSet<(u16, Protocol)> = BTreeSet::new();
    loop {
        attempts += 1;
        let observed = plan::observe(engine.as_ref(), env).await?;
        let free = |port, protocol| {
            !refused.contains(&(port, protocol)) && (inputs.host_free)(port, protocol)
        };
        let plan = plan::plan(env, &observed, &inputs.with_host_free(&free))?;
        let remaining = ApplyOptions {
            wait_timeout: opts.wait_timeout.saturating_sub(began.elapsed()),
            ..opts.clone()
        };
        let report = apply_until(
            engine.clone(),
            &plan,
            &remaining,
            sink.clone(),
            interrupt.clone(),
        )
        .await;
        let clash = !interrupt.is_set() && report.failures.iter().any(is_port_clash);
        if clash && attempts <= PORT_RETRIES {
            for failure in report.failures.iter().filter(|f| is_port_clash(f)) {
                if let Some(target) = plan.service(&failure.service) {
                    refused.extend(
                        target
                            .ports
                            .iter()
                            .map(|((_, proto), host)| (*host, *proto)),
                    );
                }
            }
            sink(ServiceEvent {
                service: env.instance.to_string(),
                phase: Phase::Waiting {
                    reason: "a host port was taken by someone else meanwhile; planning again"
                        .into(),
                },
                elapsed: began.elapsed(),
            });
            continue;
        }
        return Ok(UpOutcome {
            plan,
            report,
            attempts,
        });
    }
}

/// Whether a failure is the engine refusing a host port someone else bound meanwhile.
fn is_port_clash(failure: &Failure) -> bool {
    let reason = failure.reason.to_lowercase();
    reason.contains("port is already allocated") || reason.contains("address already in use")
}
