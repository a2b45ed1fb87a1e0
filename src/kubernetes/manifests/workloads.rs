//! A service → its Deployment (1 replica), a `kind: job` → its Job; `restart:` decides which
//! restart behaviour the pod gets, or is refused where Kubernetes has none.

use serde_json::{json, Value};

use super::{inputs::MappingInputs, meta::Scope, pod};
use crate::kubernetes::images;
use crate::model::{labels, RestartPolicy, Service, ServiceKind};

/// Where the readiness conditions of `depends_on` are kept: Kubernetes does not order
/// workloads, so the backend reads them and waits as `up` does on Docker.
pub const DEPENDS_ON: &str = "io.envctl.depends-on";
/// Marks an image built on this machine (`images::is_local_only`): a cluster can only pull
/// it from a registry.
pub const LOCAL_IMAGE: &str = "io.envctl.local-image";

/// The service's Deployment or Job, or every problem mapping it.
pub fn workload(
    scope: &Scope,
    service: &Service,
    inputs: &MappingInputs,
) -> Result<Value, Vec<String>> {
    let name = service.name.as_str();
    // `None`: a Deployment; `Some((restartPolicy, backoffLimit))`: a Job.
    let job = match service.kind {
        ServiceKind::Service => check_service_restart(service).map(|()| None),
        ServiceKind::Job => job_restart(service).map(Some),
    };
    let (job, pod_spec) = match (job, pod::pod_spec(service, inputs)) {
        (Ok(restart), Ok(spec)) => (restart, spec),
        (restart, spec) => {
            let mut problems: Vec<String> = restart.err().into_iter().collect();
            problems.extend(spec.err().unwrap_or_default());
            return Err(problems);
        }
    };
    let mut template = json!({
        "metadata": { "labels": scope.labels(Some(name)) },
        "spec": pod_spec,
    });
    let mut doc = match job {
        None => {
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
        Some((restart, retries)) => {
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
    let annotations = annotations(service, inputs);
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

fn annotations(service: &Service, inputs: &MappingInputs) -> Value {
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
    if let Some(note) = images::mapped(service, inputs.registry.as_deref()).local_note {
        a.insert(LOCAL_IMAGE.into(), json!(note));
    }
    json!(a)
}
