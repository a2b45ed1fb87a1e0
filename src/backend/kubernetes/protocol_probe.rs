//! The health checks the kubelet cannot run (it speaks neither protocol), run by envctl once
//! the pod is Ready, as on Docker (one attempt, bounded by the check's `timeout`):
//! `zookeeper` dials the port's node port from this machine when it has one, else goes through
//! a port-forward to the pod; `dubbo` reads its registry (the ZooKeeper's node port, else a
//! port-forward to the ZooKeeper's pod). `tcp`/`http`/`cmd` are the manifest's readinessProbe:
//! the kubelet runs them, so the pod's Ready condition is their result (probing them again from
//! here would cost a connection, or a port-forward, per check and prove nothing more).

use std::net::IpAddr;

use serde_json::Value;

use super::api::Kube;
use super::kinds::POD;
use super::observe::{instance_selector, name_of};
use super::workloads::pod_ready;
use crate::apply::NotReady;
use crate::dubbo::registry::{self, Candidate};
use crate::kubernetes::pod_io;
use crate::model::{labels, DubboProbe, HealthCheck, Probe, Protocol};
use crate::plan::ServiceTarget;
use crate::probe::{self, ProbeFailed, ProbeTarget};

/// How probes reach an instance from this machine.
#[derive(Debug, Clone, Copy)]
pub struct Reach<'a> {
    /// Where node ports are dialled (`HostAddress::local`).
    pub published_at: IpAddr,
    /// The services that may be the instance's ZooKeeper, for dubbo probes.
    pub registry: &'a [Candidate],
}

/// Whether `target`'s health check is one envctl runs (what needs `Reach`): `zookeeper`,
/// `dubbo`.
pub fn runs_here(target: &ServiceTarget) -> bool {
    target
        .healthcheck
        .as_ref()
        .is_some_and(|hc| matches!(hc.probe, Probe::Zookeeper { .. } | Probe::Dubbo(_)))
}

/// One attempt of `target`'s health check against its Ready `pod`; a pod that is not Ready
/// fails without one. Without a health check, or with one the kubelet runs, Ready is ready.
pub async fn check_protocol_probe(
    kube: &Kube,
    target: &ServiceTarget,
    pod: &Value,
    reach: Reach<'_>,
) -> Result<(), NotReady> {
    let pod_name = name_of(pod);
    if !pod_ready(pod) {
        return Err(NotReady(format!("pod {pod_name} is not Ready")));
    }
    let Some(hc) = &target.healthcheck else {
        return Ok(());
    };
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let at = Pod {
        kube,
        namespace,
        name: pod_name,
    };
    let result = match &hc.probe {
        Probe::Tcp { .. } | Probe::Http { .. } | Probe::Cmd(_) => return Ok(()),
        Probe::Dubbo(dubbo) => check_dubbo(&at, pod, target, hc, dubbo, reach).await,
        Probe::Zookeeper { port } => check_port(&at, target, hc, *port, reach).await,
    };
    result.map_err(|failed| NotReady(failed.0))
}

/// A pod, and where it lives.
struct Pod<'a> {
    kube: &'a Kube,
    namespace: &'a str,
    name: &'a str,
}

/// The target's TCP node ports: container port -> node port.
fn node_ports(target: &ServiceTarget) -> std::collections::BTreeMap<u16, u16> {
    target
        .ports
        .iter()
        .filter(|((_, protocol), _)| *protocol == Protocol::Tcp)
        .map(|((container, _), node)| (*container, *node))
        .collect()
}

/// A probe on the pod's `port` (`zookeeper`; `tcp`/`http` alike): at the port's node port
/// when it has one, else port-forwarded.
async fn check_port(
    pod: &Pod<'_>,
    target: &ServiceTarget,
    hc: &HealthCheck,
    port: u16,
    reach: Reach<'_>,
) -> Result<(), ProbeFailed> {
    let probe = &hc.probe;
    let host_ports = node_ports(target);
    if host_ports.contains_key(&port) {
        let at = ProbeTarget {
            host_ports,
            published_at: reach.published_at,
            ..ProbeTarget::default()
        };
        return probe::check(probe, &at, hc.timeout).await;
    }
    let client = pod.kube.client();
    pod_io::probe_via_port_forward(client, pod.namespace, pod.name, probe, hc.timeout).await
}

/// `dubbo`: the registry's node port when it has one (or the probe's own registry address
/// names reachable servers), else a port-forward to the registry service's pod. Registrations
/// count as the service's own at its pod IP or its node ports.
async fn check_dubbo(
    pod: &Pod<'_>,
    pod_object: &Value,
    target: &ServiceTarget,
    hc: &HealthCheck,
    dubbo: &DubboProbe,
    reach: Reach<'_>,
) -> Result<(), ProbeFailed> {
    let probe = &hc.probe;
    let own = ProbeTarget {
        container_ip: pod_object["status"]["podIP"]
            .as_str()
            .and_then(|ip| ip.parse().ok()),
        host_ports: node_ports(target),
        published_at: reach.published_at,
        registry: Vec::new(),
        own_registrations: target.own_registrations,
    };
    // Validated when the definition loaded; a bad address here finds no server.
    let address = dubbo
        .registry
        .as_deref()
        .map(crate::dubbo::address::parse)
        .transpose()
        .unwrap_or_default();
    let published = registry::servers(address.as_ref(), reach.registry, reach.published_at);
    if !published.is_empty() {
        let at = ProbeTarget {
            registry: published,
            ..own
        };
        return probe::check(probe, &at, hc.timeout).await;
    }
    let Some((service, port)) = pod_io::registry_service(dubbo, reach.registry) else {
        return Err("no ZooKeeper registry is known for this instance".into());
    };
    let instance = pod_object["metadata"]["labels"][labels::INSTANCE]
        .as_str()
        .unwrap_or_default();
    let registry_pod = ready_pod(pod.kube, pod.namespace, instance, &service)
        .await?
        .ok_or_else(|| format!("the registry `{service}` has no Ready pod"))?;
    pod_io::probe_dubbo_via_port_forward(
        pod.kube.client(),
        pod.namespace,
        &registry_pod,
        port,
        probe,
        own,
        hc.timeout,
    )
    .await
}

/// The name of a Ready pod of `service` (found by its labels in the instance's namespace).
async fn ready_pod(
    kube: &Kube,
    namespace: &str,
    instance: &str,
    service: &str,
) -> Result<Option<String>, ProbeFailed> {
    let selector = format!(
        "{},{}={service}",
        instance_selector(instance),
        labels::SERVICE
    );
    let pods = kube
        .list(&POD, Some(namespace), &selector)
        .await
        .map_err(|e| ProbeFailed(e.to_string()))?;
    Ok(pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .find(|p| pod_ready(p))
        .map(|p| name_of(p).to_string()))
}
