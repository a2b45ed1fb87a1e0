//! Node-port allocation: stable per instance, unique in the cluster, as host ports are on
//! Docker (`plan::ports`). The first choice is derived from a hash of (instance, service,
//! container port), so an instance that goes down and comes back lands on the same ports and
//! a developer's saved address keeps working; a port in use is skipped by probing linearly.
//! An instance's current allocations are kept as they are, whatever the hash says.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{labels, Environment};

/// (service, container port) → node port.
pub type NodePorts = BTreeMap<(String, u16), u16>;

/// The environment variable naming the cluster's node-port range, `FIRST-LAST`.
pub const RANGE_VAR: &str = crate::settings::NODE_PORT_RANGE;

/// Kubernetes' default `--service-node-port-range`.
pub const DEFAULT_RANGE: RangeInclusive<u16> = 30000..=32767;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodePortError {
    #[error("{RANGE_VAR}=`{0}` is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535 (the cluster's --service-node-port-range, default 30000-32767)")]
    BadRange(String),
    #[error("service `{service}`: no free node port left in {}-{} for container port {port} ({taken} of them are used in the cluster); free some (`envctl down` an instance) or widen the range ({RANGE_VAR}, and the API server's --service-node-port-range)", .range.start(), .range.end())]
    Exhausted {
        service: String,
        port: u16,
        range: RangeInclusive<u16>,
        taken: usize,
    },
    #[error("service `{service}`: pinned host port {host} (for container port {port}) is outside the cluster's node-port range {}-{}; on Kubernetes a pinned port is a node port: pin one inside the range, or drop the pin (`ports: [{port}]`) for an allocated one", .range.start(), .range.end())]
    PinnedOutsideRange {
        service: String,
        port: u16,
        host: u16,
        range: RangeInclusive<u16>,
    },
    #[error("service `{service}`: pinned host port {host} (for container port {port}) is already a node port of another Service in the cluster")]
    PinnedTaken {
        service: String,
        port: u16,
        host: u16,
    },
    #[error("service `{service}`: host port {host} is pinned twice in this environment")]
    PinnedTwice { service: String, host: u16 },
}

/// The node-port range from `ENVCTL_NODE_PORT_RANGE`, default 30000-32767. An empty value
/// is refused like a malformed one: it is nearly always a script's unset variable.
pub fn range_from_env() -> Result<RangeInclusive<u16>, NodePortError> {
    match std::env::var(RANGE_VAR) {
        Ok(text) => parse_range(&text),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_RANGE),
        Err(std::env::VarError::NotUnicode(raw)) => {
            Err(NodePortError::BadRange(raw.to_string_lossy().into_owned()))
        }
    }
}

/// Parses `FIRST-LAST`.
pub fn parse_range(text: &str) -> Result<RangeInclusive<u16>, NodePortError> {
    let bad = || NodePortError::BadRange(text.to_string());
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let first: u16 = a.trim().parse().map_err(|_| bad())?;
    let last: u16 = b.trim().parse().map_err(|_| bad())?;
    if first == 0 || first > last {
        return Err(bad());
    }
    Ok(first..=last)
}

/// Node ports for `wanted` (service, container port) of `instance`: an entry of `keep` (the
/// instance's current allocations) stays as it is; any other starts at its hash's place in
/// `range` and probes past `taken` (node ports used by anything in the cluster), the ports
/// kept and the ports handed out before it.
pub fn allocate(
    instance: &str,
    wanted: &[(String, u16)],
    keep: &NodePorts,
    taken: &BTreeSet<u16>,
    range: RangeInclusive<u16>,
) -> Result<NodePorts, NodePortError> {
    let wanted: BTreeSet<&(String, u16)> = wanted.iter().collect();
    let mut out = NodePorts::new();
    // Node ports handed out so far, kept ones first: a new port never probes into one that a
    // later key keeps.
    let mut given = BTreeSet::new();
    for &key in &wanted {
        if let Some(&port) = keep.get(key) {
            if given.insert(port) {
                out.insert(key.clone(), port);
            }
        }
    }
    let first = u32::from(*range.start());
    let len = u32::from(*range.end()) - first + 1;
    for key @ (service, port) in wanted {
        if out.contains_key(key) {
            continue;
        }
        let start = preference(instance, service, *port) % len;
        let free = (0..len)
            .map(|step| (first + (start + step) % len) as u16)
            .find(|p| !taken.contains(p) && !given.contains(p));
        let Some(node_port) = free else {
            return Err(NodePortError::Exhausted {
                service: service.clone(),
                port: *port,
                range,
                taken: taken.len(),
            });
        };
        given.insert(node_port);
        out.insert(key.clone(), node_port);
    }
    Ok(out)
}

/// Every published port of `env` with its node port: pinned host ports (`"8080:80"`) as
/// pinned, checked against `range` and `taken`; the others by `allocate`.
pub fn allocate_for_env(
    env: &Environment,
    keep: &NodePorts,
    taken: &BTreeSet<u16>,
    range: RangeInclusive<u16>,
) -> Result<NodePorts, NodePortError> {
    let mut pinned = NodePorts::new();
    let mut wanted = Vec::new();
    for service in env.services.values() {
        let name = service.name.as_str();
        for port in &service.ports {
            let key = (name.to_string(), port.container);
            match port.host {
                Some(host) => {
                    let host = check_pinned(name, port.container, host, &range)?;
                    // Ours already (the instance holds it) or someone else's.
                    let ours = keep.values().any(|&p| p == host);
                    if taken.contains(&host) && !ours {
                        return Err(NodePortError::PinnedTaken {
                            service: name.into(),
                            port: port.container,
                            host,
                        });
                    }
                    if pinned.get(&key) != Some(&host) && pinned.values().any(|&p| p == host) {
                        return Err(NodePortError::PinnedTwice {
                            service: name.into(),
                            host,
                        });
                    }
                    pinned.insert(key, host);
                }
                None => wanted.push(key),
            }
        }
    }
    // A port both pinned and not (tcp and udp of one container port) is the pinned one.
    wanted.retain(|key| !pinned.contains_key(key));
    let mut reserved = taken.clone();
    reserved.extend(pinned.values());
    let keep: NodePorts = keep
        .iter()
        .filter(|(_, port)| !pinned.values().any(|p| p == *port))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let mut out = allocate(env.instance.as_str(), &wanted, &keep, &reserved, range)?;
    out.extend(pinned);
    Ok(out)
}

/// A pinned host port is the node port on Kubernetes, which must lie in the cluster's range.
pub fn check_pinned(
    service: &str,
    port: u16,
    host: u16,
    range: &RangeInclusive<u16>,
) -> Result<u16, NodePortError> {
    if range.contains(&host) {
        Ok(host)
    } else {
        Err(NodePortError::PinnedOutsideRange {
            service: service.into(),
            port,
            host,
            range: range.clone(),
        })
    }
}

/// The current allocations of an instance, from its Services as the cluster returns them
/// (`keep` of `allocate`): each `<service>-nodeport` Service's `nodePort` per port, keyed
/// by its `io.envctl.service` label and port.
pub fn current(services: &[Value]) -> NodePorts {
    services
        .iter()
        .filter(|s| s["spec"]["type"] == "NodePort")
        .filter_map(|s| {
            let service = s["metadata"]["labels"][labels::SERVICE].as_str()?;
            Some(
                node_ports_of(s)
                    .map(move |(port, node_port)| ((service.to_string(), port), node_port)),
            )
        })
        .flatten()
        .collect()
}

/// Every node port the given Services use (`taken` of `allocate`): pass every Service of
/// the cluster, of any owner, since node ports are unique cluster-wide.
pub fn in_use(services: &[Value]) -> BTreeSet<u16> {
    services
        .iter()
        .flat_map(node_ports_of)
        .map(|(_, node_port)| node_port)
        .collect()
}

/// (port, nodePort) of each port of a Service that has one.
fn node_ports_of(service: &Value) -> impl Iterator<Item = (u16, u16)> + '_ {
    service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let port = u16::try_from(p["port"].as_u64()?).ok()?;
            let node_port = u16::try_from(p["nodePort"].as_u64()?).ok()?;
            Some((port, node_port))
        })
}

/// A deterministic starting point in the range for one published port of one instance.
fn preference(instance: &str, service: &str, port: u16) -> u32 {
    let digest = Sha256::digest(format!("{instance}/{service}/{port}"));
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests;
