//! `down` on a cluster: an instance is its namespace. With `--volumes` (or when it holds no
//! claims) the namespace is deleted (Foreground: its contents first) and `down` waits until
//! it is gone. Without `--volumes` the claims must survive, and a namespace cannot be deleted
//! without its contents: everything else of the instance is deleted, the namespace and its
//! claims stay (and its lease goes), so the next `up` finds the data in place.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::api::Kube;
use super::kinds::{CLAIM, DEPLOYMENT, JOB, LEASE, MANAGED, NAMESPACE};
use super::leases;
use super::observe::{instance_selector, name_of};
use super::progress::Progress;
use crate::apply::{DownReport, DownScope, Failure, Phase};
use crate::engine::EngineResult;
use crate::kubernetes::manifests::namespace_name;
use crate::model::labels;

/// How `down` paces its wait for a namespace to go.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll: Duration,
    pub timeout: Duration,
}

pub async fn down(
    kube: &Kube,
    scope: &DownScope,
    volumes: bool,
    progress: &Progress,
    pace: Pace,
) -> EngineResult<DownReport> {
    let mut report = DownReport {
        on_cluster: true,
        ..DownReport::default()
    };
    for namespace in namespaces(kube, scope).await? {
        let ns = name_of(&namespace).to_string();
        let Some(instance) = namespace["metadata"]["labels"][labels::INSTANCE].as_str() else {
            continue;
        };
        report.instances.insert(instance.to_string());
        let selector = instance_selector(instance);
        let claims: Vec<String> = kube
            .list(&CLAIM, Some(&ns), &selector)
            .await?
            .iter()
            .map(|c| name_of(c).to_string())
            .collect();
        if volumes || claims.is_empty() {
            // Named in the report: the workloads that go with the namespace.
            for kind in [DEPLOYMENT, JOB] {
                let workloads = kube.list(&kind, Some(&ns), &selector).await?;
                report
                    .containers
                    .extend(workloads.iter().map(|w| name_of(w).to_string()));
            }
            remove_namespace(kube, &ns, progress, pace, &mut report).await?;
            report.volumes.extend(claims);
        } else {
            keep_claims(kube, &ns, &selector, progress, &mut report).await?;
            report.kept_volumes.extend(claims);
        }
    }
    Ok(report)
}

/// The namespaces `scope` names that exist and carry envctl's instance label.
async fn namespaces(kube: &Kube, scope: &DownScope) -> EngineResult<Vec<Value>> {
    match scope {
        DownScope::Instance(instance) => Ok(kube
            .get(&NAMESPACE, None, &namespace_name(instance))
            .await?
            .into_iter()
            .collect()),
        DownScope::AllOf { env } => {
            let selector = format!("{}={env},{}", labels::ENV, labels::INSTANCE);
            kube.list(&NAMESPACE, None, &selector).await
        }
    }
}

async fn remove_namespace(
    kube: &Kube,
    ns: &str,
    progress: &Progress,
    pace: Pace,
    report: &mut DownReport,
) -> EngineResult<()> {
    let target = format!("namespace {ns}");
    progress.emit(&target, Phase::Removing);
    kube.delete(&NAMESPACE, None, ns, true).await?;
    let deadline = Instant::now() + pace.timeout;
    loop {
        let Some(left) = kube.get(&NAMESPACE, None, ns).await? else {
            progress.emit(&target, Phase::Removed);
            report.networks.push(ns.to_string());
            return Ok(());
        };
        if Instant::now() >= deadline {
            let phase = left["status"]["phase"].as_str().unwrap_or("still there");
            let reason = format!(
                "namespace {ns} is still {phase} after {}s; something in it holds a finalizer (`kubectl get all -n {ns}`); run down again to keep waiting",
                pace.timeout.as_secs()
            );
            failed(progress, report, target, reason);
            return Ok(());
        }
        tokio::time::sleep(pace.poll).await;
    }
}

async fn keep_claims(
    kube: &Kube,
    ns: &str,
    selector: &str,
    progress: &Progress,
    report: &mut DownReport,
) -> EngineResult<()> {
    for kind in MANAGED.iter().filter(|k| **k != CLAIM) {
        for object in kube.list(kind, Some(ns), selector).await? {
            let name = name_of(&object).to_string();
            let workload = *kind == DEPLOYMENT || *kind == JOB;
            let target = match object["metadata"]["labels"][labels::SERVICE].as_str() {
                Some(service) if workload => service.to_string(),
                _ => format!("{} {name}", kind.kind),
            };
            progress.emit(&target, Phase::Removing);
            // Background: the object goes at once (its pods after it), so an `up` right
            // after this creates it anew instead of meeting it half-deleted.
            match kube.delete(kind, Some(ns), &name, false).await {
                Ok(()) => {
                    progress.emit(&target, Phase::Removed);
                    if workload {
                        report.containers.push(name);
                    }
                }
                Err(err) => {
                    let reason = format!("removing {} {name}: {err}", kind.kind);
                    failed(progress, report, target, reason);
                }
            }
        }
    }
    leases::clear(kube, ns).await
}

/// Reports `target` as not removed, for `reason`.
fn failed(progress: &Progress, report: &mut DownReport, target: String, reason: String) {
    progress.emit(
        &target,
        Phase::Failed {
            reason: reason.clone(),
            logs: Vec::new(),
        },
    );
    report.failures.push(Failure {
        service: target,
        reason,
        logs: Vec::new(),
    });
}

/// Deletes namespace `namespace` when only the instance lock (`try_lock`) ever made it: it
/// is envctl's, `up` never applied it (no spec hash), it is not being deleted, and nothing
/// is in it (no object of a kind envctl writes, no lock). A namespace `up` applied costs one
/// GET here.
pub async fn remove_if_never_applied(kube: &Kube, namespace: &str) -> EngineResult<()> {
    let Some(ns) = kube.get(&NAMESPACE, None, namespace).await? else {
        return Ok(());
    };
    let metadata = &ns["metadata"];
    let envctls = metadata["labels"][labels::MANAGED_BY_KEY] == labels::MANAGED_BY_VALUE;
    let applied = !metadata["annotations"][labels::SPEC_HASH].is_null();
    if !envctls || applied || !metadata["deletionTimestamp"].is_null() {
        return Ok(());
    }
    for kind in MANAGED.iter().chain([&LEASE]) {
        if !kube.list(kind, Some(namespace), "").await?.is_empty() {
            return Ok(());
        }
    }
    kube.delete(&NAMESPACE, None, namespace, false).await
}
