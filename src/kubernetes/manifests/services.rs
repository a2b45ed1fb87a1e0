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

use super::inputs::MappingInputs;
use super::meta::{check_name, Scope};
use crate::kubernetes::node_ports;
use crate::model::{Environment, PortSpec, Probe, Protocol, Service};

/// Suffix of the NodePort Service of a service with published ports.
pub const NODEPORT_SUFFIX: &str = "-nodeport";

/// Every Service of the instance, or one problem per clashing or unusable name.
pub fn services(
    scope: &Scope,
    env: &Environment,
    inputs: &MappingInputs,
) -> Result<Vec<Value>, Vec<String>> {
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
            match node_port(scope, owner, &service.ports, inputs) {
                Ok(doc) => docs.push(doc),
                Err(mut more) => problems.append(&mut more),
            }
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

/// The `<service>-nodeport` Service. Its `nodePort`s are the given ones (`up`), else left to
/// the cluster (render).
fn node_port(
    scope: &Scope,
    service: &str,
    ports: &[PortSpec],
    inputs: &MappingInputs,
) -> Result<Value, Vec<String>> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut sorted: Vec<&PortSpec> = ports.iter().collect();
    sorted.sort_by_key(|p| (p.container, p.protocol));
    for port in sorted {
        if !seen.insert((port.container, port.protocol)) {
            continue;
        }
        let mut entry = port_entry(port.container, port.protocol);
        match chosen_node_port(service, port, inputs) {
            Ok(Some(node_port)) => entry["nodePort"] = json!(node_port),
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
        entries.push(entry);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": scope.metadata(&format!("{service}{NODEPORT_SUFFIX}"), Some(service)),
        "spec": {
            "type": "NodePort",
            "selector": scope.selector(service),
            "ports": entries,
        },
    }))
}

/// A published port's node port: a pinned host port is one (inside the cluster's range), an
/// allocated one comes from the inputs; with no range given (render) the cluster picks.
fn chosen_node_port(
    service: &str,
    port: &PortSpec,
    inputs: &MappingInputs,
) -> Result<Option<u16>, String> {
    let Some(range) = &inputs.node_port_range else {
        return Ok(inputs.node_port(service, port.container));
    };
    if let Some(host) = port.host {
        return node_ports::check_pinned(service, port.container, host, range)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    match inputs.node_port(service, port.container) {
        Some(node_port) => Ok(Some(node_port)),
        None => Err(format!(
            "service `{service}`: no node port was allocated for container port {} (node_ports::allocate_for_env gives every published port one)",
            port.container
        )),
    }
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
