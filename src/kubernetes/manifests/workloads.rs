//! A service → its Deployment (1 replica), a `kind: job` → its Job; `restart:` decides which
//! restart behaviour the pod gets, or is refused where Kubernetes has none.

use serde_json::{json, Value};

use super::{meta::Scope, pod};
use crate::model::{labels, RestartPolicy, Service, ServiceKind};

/// Where the readiness conditions of `depends_on` are kept: Kubernetes does not order
/// workloads, so the backend reads them and waits as `up` does on Docker.
pub const DEPENDS_ON: &str = "io.envctl.depends-on";
/// Marks an image envctl builds locally: a cluster can only pull it from a registry.
pub const LOCAL_IMAGE: &str = "io.envctl.local-image";

pub fn workload(scope: &Scope, service: &Service) -> Result<Value, String> {
    let name = service.name.as_str();
    let mut template = json!({
        "metadata": { "labels": scope.labels(Some(name)) },
        "spec": pod::pod_spec(service),
    });
    let mut doc = match service.kind {
        ServiceKind::Service => {
            check_service_restart(service)?;
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": scope.metadata(name, Some(name)),
                "spec": {
                    "replicas": 1,
                    // Replace, never run two: a volume's ReadWriteOnce claim and a Dubbo
                    // registration both assume a single instance, as on Docker.
                    "strategy": { "type": "Recreate" },
                    "selector": { "matchLabels": scope.selector(name) },
                    "template": template,
                },
            })
        }
        ServiceKind::Job => {
            let (restart, retries) = job_restart(service)?;
            template["spec"]["restartPolicy"] = json!(restart);
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": scope.metadata(name, Some(name)),
                "spec": {
                    "backoffLimit": retries,
                    "template": template,
                },
            })
        }
    };
    doc["metadata"]["labels"][labels::KIND] = json!(kind(service.kind));
    let annotations = annotations(service);
    if !annotations.as_object().is_some_and(|a| a.is_empty()) {
        doc["metadata"]["annotations"] = annotations;
    }
    Ok(doc)
}

fn kind(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Service => "service",
        ServiceKind::Job => "job",
    }
}

/// A Deployment's pods always restart. `always`/`unless-stopped` mean that; `no` (the
/// default) differs only after a crash, which Kubernetes restarts (docs/kubernetes.md);
/// `on-failure` stops after a clean exit, which a Deployment cannot do.
fn check_service_restart(service: &Service) -> Result<(), String> {
    match service.restart {
        RestartPolicy::No | RestartPolicy::Always | RestartPolicy::UnlessStopped => Ok(()),
        RestartPolicy::OnFailure => Err(format!(
            "service `{}`: `restart: on-failure` has no Kubernetes equivalent for a long-running service (a Deployment restarts its pod however it exits); use `restart: always`, or `kind: job` for something that runs to completion",
            service.name
        )),
    }
}

/// The pod's restart policy and the Job's `backoffLimit`: `no` runs once as Docker does;
/// `on-failure` restarts in place, counted against Kubernetes' default limit of 6.
fn job_restart(service: &Service) -> Result<(&'static str, u32), String> {
    match service.restart {
        RestartPolicy::No => Ok(("Never", 0)),
        RestartPolicy::OnFailure => Ok(("OnFailure", 6)),
        other => Err(format!(
            "service `{}`: `restart: {}` has no Kubernetes equivalent for `kind: job` (a Job's pod restarts `Never` or `OnFailure`); use `no` or `on-failure`",
            service.name,
            other.as_str()
        )),
    }
}

fn annotations(service: &Service) -> Value {
    let mut a = serde_json::Map::new();
    if !service.depends_on.is_empty() {
        let deps: Vec<String> = service
            .depends_on
            .iter()
            .map(|(dep, condition)| format!("{dep}={}", condition.as_str()))
            .collect();
        a.insert(DEPENDS_ON.into(), json!(deps.join(",")));
    }
    if let Some(template) = &service.template {
        a.insert(labels::TEMPLATE.into(), json!(template));
    }
    if service.build.is_some() {
        a.insert(
            LOCAL_IMAGE.into(),
            json!("built by envctl on this machine: push it to a registry the cluster pulls from"),
        );
    }
    json!(a)
}
