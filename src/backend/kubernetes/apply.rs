//! Carrying out a plan: server-side apply of each missing or changed object in the mapping's
//! order (Namespace, Secret, claims, Services, workloads in dependency order, NetworkPolicy),
//! then deleting the orphans. Unforced: a field someone else owns stops `up` with the
//! conflict named, never silently taken over.

use super::api::Kube;
use super::kinds::NAMESPACE;
use super::plan::KubePlan;
use super::progress::Progress;
use crate::apply::{Interrupt, Phase};
use crate::engine::EngineResult;
use crate::model::labels;
use crate::plan::Action;

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
) -> EngineResult<Applied> {
    let reasons = kplan.plan.actions.iter().filter_map(|a| match a {
        Action::ApplyObject { reason, .. } => Some(reason.as_str()),
        _ => None,
    });
    for (object, reason) in kplan.applies.iter().zip(reasons) {
        if interrupt.is_set() {
            return Ok(Applied::Interrupted);
        }
        let target = target_of(object);
        let workload = matches!(object["kind"].as_str(), Some("Deployment" | "Job"));
        if workload {
            let phase = match reason.strip_prefix("changed: ") {
                Some(changed) => Phase::Recreating {
                    changed: changed
                        .split("; ")
                        .next()
                        .unwrap_or_default()
                        .split(", ")
                        .map(str::to_string)
                        .collect(),
                },
                None => Phase::Creating,
            };
            progress.emit(&target, phase);
        }
        kube.apply(object, false).await?;
        if !workload {
            progress.emit(&target, Phase::Created);
        }
    }
    let namespace = crate::kubernetes::manifests::namespace_name(kplan.plan.instance.as_str());
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
