//! Services: the names other services dial, and the NodePorts outsiders dial.
//!
//! On the Docker network a service's name (and each alias) resolves to its container and any
//! port answers. The closest Kubernetes equivalent is a headless Service (`clusterIP: None`)
//! per name: DNS gives the pod's address, so every port the pod listens on is reachable, and
//! `publishNotReadyAddresses` resolves the name before readiness, as Docker does once the
//! container runs. Its listed ports (published ones and the health-check port) document the
//! service and give SRV records. Published ports also get a `<service>-nodeport` Service.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::meta::{check_name, Scope};
use crate::model::{Environment, PortSpec, Probe, Protocol, Service};

/// Suffix of the NodePort Service of a service with published ports.
pub const NODEPORT_SUFFIX: &str = "-nodeport";

/// Every Service of the instance, or one problem per clashing or unusable name.
pub fn services(scope: &Scope, env: &Environment) -> Result<Vec<Value>, Vec<String>> {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    // Service name → the service it was made for, to report a clash with both names.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for service in env.services.values() {
        let owner = service.name.as_str();
        let mut names = vec![owner.to_string()];
        names.extend(service.aliases.iter().cloned());
        let published = !service.ports.is_empty();
        if published {
            names.push(format!("{owner}{NODEPORT_SUFFIX}"));
        }
        for name in &names {
            if let Err(problem) = check_name("Service", name) {
                problems.push(format!("service `{owner}`: {problem}"));
            } else if let Some(first) = taken.insert(name.clone(), owner.to_string()) {
                problems.push(format!(
                    "service `{owner}`: Service name `{name}` is already used by service `{first}`"
                ));
            }
        }
        let ports = in_cluster_ports(service);
        for name in names.iter().take(1 + service.aliases.len()) {
            docs.push(headless(scope, name, owner, &ports));
        }
        if published {
            docs.push(node_port(scope, owner, &service.ports));
        }
    }
    if problems.is_empty() {
        Ok(docs)
    } else {
        Err(problems)
    }
}

/// The ports a headless Service lists: published container ports and the health-check port.
pub fn in_cluster_ports(service: &Service) -> BTreeSet<(u16, Protocol)> {
    let mut ports: BTreeSet<(u16, Protocol)> = service
        .ports
        .iter()
        .map(|p| (p.container, p.protocol))
        .collect();
    if let Some(port) = service
        .healthcheck
        .as_ref()
        .and_then(|h| probe_port(&h.probe))
    {
        ports.insert((port, Protocol::Tcp));
    }
    ports
}

fn probe_port(probe: &Probe) -> Option<u16> {
    match probe {
        Probe::Tcp { port } | Probe::Http { port, .. } | Probe::Zookeeper { port } => Some(*port),
        Probe::Cmd(_) | Probe::Dubbo(_) => None,
    }
}

fn headless(scope: &Scope, name: &str, service: &str, ports: &BTreeSet<(u16, Protocol)>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": scope.metadata(name, Some(service)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": scope.selector(service),
            "ports": ports.iter().map(|&(port, protocol)| port_entry(port, protocol)).collect::<Vec<_>>(),
        },
    })
}

/// Node ports are left to the cluster here: stable allocation per instance (as host ports
/// are on Docker) belongs to the backend step.
fn node_port(scope: &Scope, service: &str, ports: &[PortSpec]) -> Value {
    let ports: BTreeSet<(u16, Protocol)> =
        ports.iter().map(|p| (p.container, p.protocol)).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": scope.metadata(&format!("{service}{NODEPORT_SUFFIX}"), Some(service)),
        "spec": {
            "type": "NodePort",
            "selector": scope.selector(service),
            "ports": ports.iter().map(|&(port, protocol)| port_entry(port, protocol)).collect::<Vec<_>>(),
        },
    })
}

/// A Service port; named (`tcp-3306`) because a Service with several ports needs names.
fn port_entry(port: u16, protocol: Protocol) -> Value {
    json!({
        "name": format!("{}-{port}", protocol.as_str()),
        "port": port,
        "targetPort": port,
        "protocol": kube_protocol(protocol),
    })
}

pub fn kube_protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}
