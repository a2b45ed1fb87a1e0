//! Carrying out a plan: server-side apply of each missing or changed object in the mapping's
//! order (Namespace, Secret, claims, Services, workloads in dependency order, NetworkPolicy),
//! then deleting the orphans. Unforced: a field someone else owns stops `up` with the
//! conflict named, never silently taken over.

use std::time::Duration;

use tokio::time::Instant;

use super::api::Kube;
use super::kinds::{JOB, NAMESPACE};
use super::plan::{KubePlan, ToApply};
use super::progress::Progress;
use crate::apply::{Interrupt, Phase};
use crate::engine::{EngineError, EngineResult};
use crate::model::labels;

/// How far applying got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    All,
    /// The interrupt was set: later objects were left as they were.
    Interrupted,
}

/// Applies the plan's objects, then prunes; stops at the first failure (its error names the
/// object) or, between two writes, at the interrupt.
pub async fn apply(
    kube: &Kube,
    kplan: &KubePlan,
    progress: &Progress,
    interrupt: &Interrupt,
    poll: Duration,
) -> EngineResult<Applied> {
    let namespace = crate::kubernetes::manifests::namespace_name(kplan.plan.instance.as_str());
    for ToApply { object, changed } in &kplan.applies {
        if interrupt.is_set() {
            return Ok(Applied::Interrupted);
        }
        let target = target_of(object);
        let workload = matches!(object["kind"].as_str(), Some("Deployment" | "Job"));
        if workload {
            let phase = match changed {
                Some(changed) => Phase::Recreating {
                    changed: changed.clone(),
                },
                None => Phase::Creating,
            };
            progress.emit(&target, phase);
        }
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if object["kind"] == JOB.kind && changed.is_some() {
            replace_job(kube, &namespace, name, poll).await?;
        }
        kube.apply(object, false).await?;
        if !workload {
            progress.emit(&target, Phase::Created);
        }
    }
    for (kind, name) in &kplan.deletes {
        if interrupt.is_set() {
            return Ok(Applied::Interrupted);
        }
        let target = format!("orphan {}/{name}", kind.kind);
        progress.emit(&target, Phase::Removing);
        kube.delete(kind, Some(&namespace), name, false).await?;
        progress.emit(&target, Phase::Removed);
    }
    Ok(Applied::All)
}

/// How long a deleted Job may take to go before its replacement is applied.
const JOB_GONE_TIMEOUT: Duration = Duration::from_secs(60);

/// Deletes a changed Job (its pods go in the background) and waits until the Job itself is
/// gone, so the apply that follows creates it anew rather than meeting it half-deleted.
async fn replace_job(kube: &Kube, namespace: &str, name: &str, poll: Duration) -> EngineResult<()> {
    kube.delete(&JOB, Some(namespace), name, false).await?;
    let deadline = Instant::now() + JOB_GONE_TIMEOUT;
    while kube.get(&JOB, Some(namespace), name).await?.is_some() {
        if Instant::now() >= deadline {
            return Err(EngineError::Api {
                context: format!("Kubernetes: replacing job `{name}` in namespace `{namespace}`"),
                message: format!(
                    "it is still there {}s after it was deleted; run up again",
                    JOB_GONE_TIMEOUT.as_secs()
                ),
            });
        }
        tokio::time::sleep(poll).await;
    }
    Ok(())
}

/// What events call an object: a workload by its service, anything else by kind and name.
fn target_of(object: &serde_json::Value) -> String {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    match object["metadata"]["labels"][labels::SERVICE].as_str() {
        Some(service) if matches!(kind, "Deployment" | "Job") => service.to_string(),
        _ if kind == NAMESPACE.kind => format!("namespace {name}"),
        _ => format!("{kind} {name}"),
    }
}
