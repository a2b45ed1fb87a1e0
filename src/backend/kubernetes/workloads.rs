//! Instances and their running workloads as the rest of envctl sees them: a service's pod
//! becomes an `ObservedContainer` (its node ports as published ports, its pod IP), an
//! instance namespace a `FoundInstance`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::api::Kube;
use super::kinds::{Kind, CLAIM, MANAGED, NAMESPACE, POD, SERVICE};
use super::leases::lease_of;
use super::observe::{annotations_of, created, instance_selector, labels_of, name_of};
use super::plan::node_ports_of;
use crate::backend::FoundInstance;
use crate::engine::{ContainerState, EngineResult, ObservedContainer, PublishedPort};
use crate::kubernetes::manifests::namespace_name;
use crate::model::{labels, InstanceId};
use crate::plan::ports::encode_label;

/// The pod of each service of `instance` (the Ready, else the newest, when a rollout shows
/// two), by service name.
pub async fn services(
    kube: &Kube,
    instance: &InstanceId,
) -> EngineResult<BTreeMap<String, ObservedContainer>> {
    let ns = namespace_name(instance.as_str());
    let selector = instance_selector(instance.as_str());
    let pods = kube.list(&POD, Some(&ns), &selector).await?;
    let services = kube.list(&SERVICE, Some(&ns), &selector).await?;
    Ok(by_service(&pods, &services))
}

fn by_service(pods: &[Value], services: &[Value]) -> BTreeMap<String, ObservedContainer> {
    let mut chosen: BTreeMap<String, &Value> = BTreeMap::new();
    for pod in pods {
        let Some(service) = pod["metadata"]["labels"][labels::SERVICE].as_str() else {
            continue;
        };
        let better = match chosen.get(service) {
            None => true,
            Some(old) => (pod_ready(pod), created(pod)) > (pod_ready(old), created(old)),
        };
        if better {
            chosen.insert(service.to_string(), pod);
        }
    }
    chosen
        .into_iter()
        .map(|(service, pod)| {
            let node_ports = node_ports_of(services.iter(), &service);
            let ports = node_ports
                .iter()
                .map(|(&(container, protocol), &host)| PublishedPort {
                    container,
                    host,
                    protocol,
                })
                .collect();
            let mut container = container_of(pod, ports);
            // Where `ports` and `status` read a workload's host ports, as on Docker.
            if !node_ports.is_empty() {
                container
                    .labels
                    .insert(labels::PORTS.into(), encode_label(&node_ports));
            }
            (service, container)
        })
        .collect()
}

fn container_of(pod: &Value, ports: Vec<PublishedPort>) -> ObservedContainer {
    let name = name_of(pod).to_string();
    let mut labels = labels_of(pod);
    let owner = pod["metadata"]["ownerReferences"][0]["kind"].as_str();
    let kind = if owner == Some("Job") {
        "job"
    } else {
        "service"
    };
    labels.insert(labels::KIND.into(), kind.into());
    let status = &pod["status"]["containerStatuses"][0];
    let mut ips = BTreeMap::new();
    if let Some(ip) = pod["status"]["podIP"].as_str() {
        ips.insert("pod".to_string(), ip.to_string());
    }
    ObservedContainer {
        id: name.clone(),
        name,
        image: pod["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        image_id: status["imageID"].as_str().unwrap_or_default().to_string(),
        labels,
        state: state_of(pod),
        ports,
        ips,
        created: created(pod),
    }
}

/// A pod's phase and container status in Docker's words.
pub fn state_of(pod: &Value) -> ContainerState {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return ContainerState::Removing;
    }
    let container = &pod["status"]["containerStatuses"][0];
    let exit_code = container["state"]["terminated"]["exitCode"].as_i64();
    match pod["status"]["phase"].as_str() {
        Some("Running") if !container["state"]["waiting"].is_null() => ContainerState::Restarting,
        Some("Running") => ContainerState::Running,
        Some("Succeeded") => ContainerState::Exited {
            code: exit_code.unwrap_or(0),
        },
        Some("Failed") => ContainerState::Exited {
            code: exit_code.unwrap_or(1),
        },
        Some("Pending") => ContainerState::Created,
        _ => ContainerState::Dead,
    }
}

/// Every instance namespace with workloads or a lease (a namespace `down` left only claims
/// in is data kept for the next `up`, not an instance).
pub async fn instances(kube: &Kube) -> EngineResult<Vec<FoundInstance>> {
    let selector = format!(
        "{}={},{}",
        labels::MANAGED_BY_KEY,
        labels::MANAGED_BY_VALUE,
        labels::INSTANCE
    );
    let namespaces = kube.list(&NAMESPACE, None, &selector).await?;
    let pods = kube.list(&POD, None, labels::INSTANCE).await?;
    let mut found = Vec::new();
    for namespace in &namespaces {
        let Some(owner) = labels::Ownership::read(&labels_of(namespace)) else {
            continue;
        };
        let own: Vec<Value> = pods
            .iter()
            .filter(|p| p["metadata"]["namespace"].as_str() == Some(name_of(namespace)))
            .cloned()
            .collect();
        let containers = by_service(&own, &[]);
        if containers.is_empty() && lease_of(namespace).is_none() {
            continue;
        }
        found.push(FoundInstance {
            owner,
            created: created(namespace),
            services: containers.len(),
            ready: containers.values().filter(|c| c.ready_by_state()).count(),
            owned_by: annotations_of(namespace).get(labels::OWNER).cloned(),
        });
    }
    Ok(found)
}

/// Whether anything of the instance but claims is left: a namespace with a lease or with any
/// object envctl applies.
pub async fn has_remains(kube: &Kube, instance: &InstanceId) -> EngineResult<bool> {
    let ns = namespace_name(instance.as_str());
    let Some(namespace) = kube.get(&NAMESPACE, None, &ns).await? else {
        return Ok(false);
    };
    if lease_of(&namespace).is_some() {
        return Ok(true);
    }
    let selector = instance_selector(instance.as_str());
    let kinds: Vec<&Kind> = MANAGED.iter().filter(|k| **k != CLAIM).collect();
    for kind in kinds {
        if !kube.list(kind, Some(&ns), &selector).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The pod's own namespace, from the instance label envctl put on it.
pub fn namespace_of(workload: &ObservedContainer) -> String {
    namespace_name(
        workload
            .labels
            .get(labels::INSTANCE)
            .map(String::as_str)
            .unwrap_or_default(),
    )
}

/// Whether a pod's Ready condition is true.
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pod_phases_map_to_container_states() {
        let pod = |phase: &str, state: Value| json!({ "metadata": {}, "status": { "phase": phase, "containerStatuses": [{ "state": state }] } });
        let cases = [
            (
                pod("Running", json!({ "running": {} })),
                ContainerState::Running,
            ),
            (
                pod(
                    "Running",
                    json!({ "waiting": { "reason": "CrashLoopBackOff" } }),
                ),
                ContainerState::Restarting,
            ),
            (pod("Pending", json!({})), ContainerState::Created),
            (
                pod("Succeeded", json!({ "terminated": { "exitCode": 0 } })),
                ContainerState::Exited { code: 0 },
            ),
            (
                pod("Failed", json!({ "terminated": { "exitCode": 3 } })),
                ContainerState::Exited { code: 3 },
            ),
            (pod("Unknown", json!({})), ContainerState::Dead),
        ];
        for (pod, state) in cases {
            assert_eq!(state_of(&pod), state, "{pod}");
        }
        let mut leaving = pod("Running", json!({ "running": {} }));
        leaving["metadata"]["deletionTimestamp"] = json!("2026-12-03T06:00:00Z");
        assert_eq!(state_of(&leaving), ContainerState::Removing);
    }
}
