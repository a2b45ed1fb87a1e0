//! Which service of an instance is its Dubbo registry (ZooKeeper), and where this host reaches
//! it. One rule, used by `up` (dubbo probes), `status` and `endpoints`, so they never disagree:
//!
//! 1. a service whose health check is a `zookeeper` probe, on that port;
//! 2. a service made from the `zookeeper` template, on 2181;
//! 3. a service named `zookeeper`, on 2181;
//! 4. a service whose image names zookeeper, on 2181;
//!
//! each only when the port is published (the registry is read from the host).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::RegistryAddress;
use crate::engine::ObservedContainer;
use crate::model::{labels, Environment, Probe, Protocol};

pub use super::address::ZOOKEEPER_PORT;

/// What the rule looks at in one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    pub service: String,
    /// The port of its `zookeeper` health check, if it has one.
    pub probe_port: Option<u16>,
    pub template: Option<String>,
    pub image: String,
    /// Published TCP ports: container port -> host port.
    pub published: BTreeMap<u16, u16>,
}

/// The registry's service and address, by the rule above; `local` is where this machine
/// dials published ports (`HostAddress::local`).
pub fn locate(candidates: &[Candidate], local: IpAddr) -> Option<(String, SocketAddr)> {
    by_rule(candidates, |c, port| {
        c.published
            .get(&port)
            .map(|host| (c.service.clone(), SocketAddr::new(local, *host)))
    })
}

/// The rule above, in order: each gives a candidate's ZooKeeper port when it applies.
const RULES: [fn(&Candidate) -> Option<u16>; 4] = [
    |c| c.probe_port,
    |c| (c.template.as_deref() == Some("zookeeper")).then_some(ZOOKEEPER_PORT),
    |c| (c.service == "zookeeper").then_some(ZOOKEEPER_PORT),
    |c| c.image.contains("zookeeper").then_some(ZOOKEEPER_PORT),
];

/// The first rule, then the first candidate, for which `found(candidate, port)` gives
/// something: `locate` needs the port published, a port-forward (Kubernetes) does not.
pub fn by_rule<T>(
    candidates: &[Candidate],
    found: impl Fn(&Candidate, u16) -> Option<T>,
) -> Option<T> {
    RULES.iter().find_map(|rule| {
        candidates
            .iter()
            .find_map(|c| rule(c).and_then(|port| found(c, port)))
    })
}

/// The ZooKeeper servers a registry address names, as this host reaches them: a host naming a
/// service of the instance is its published port, an IP address is used as is, anything else
/// is skipped (not resolvable from here). Without an address: the instance's registry by the
/// rule above.
pub fn servers(
    address: Option<&RegistryAddress>,
    candidates: &[Candidate],
    local: IpAddr,
) -> Vec<SocketAddr> {
    let Some(address) = address else {
        return locate(candidates, local)
            .map(|(_, a)| a)
            .into_iter()
            .collect();
    };
    address
        .servers
        .iter()
        .filter_map(|server| {
            if let Ok(ip) = server.host.parse::<std::net::IpAddr>() {
                return Some(SocketAddr::new(ip, server.port));
            }
            candidates
                .iter()
                .find(|c| c.service == server.host)
                .and_then(|c| c.published.get(&server.port))
                .map(|host| SocketAddr::new(local, *host))
        })
        .collect()
}

/// The candidates of running containers; `env`, when the definition loads, adds each
/// service's health check and template.
pub fn from_containers<'a>(
    containers: impl IntoIterator<Item = &'a ObservedContainer>,
    env: Option<&Environment>,
) -> Vec<Candidate> {
    containers
        .into_iter()
        .map(|c| {
            let service = super::endpoints::service_of(c);
            let defined =
                env.and_then(|e| e.services.values().find(|s| s.name.as_str() == service));
            Candidate {
                probe_port: zookeeper_probe(
                    defined
                        .and_then(|s| s.healthcheck.as_ref())
                        .map(|h| &h.probe),
                ),
                template: c
                    .labels
                    .get(labels::TEMPLATE)
                    .cloned()
                    .or_else(|| defined.and_then(|s| s.template.clone())),
                image: c.image.clone(),
                published: c
                    .ports
                    .iter()
                    .filter(|p| p.protocol == Protocol::Tcp)
                    .map(|p| (p.container, p.host))
                    .collect(),
                service,
            }
        })
        .collect()
}

/// Whether a defined service may be an instance's registry by the rule above (its port aside):
/// an overlay never takes one as its own, whoever depends on it.
pub fn may_be_registry(service: &crate::model::Service) -> bool {
    zookeeper_probe(service.healthcheck.as_ref().map(|h| &h.probe)).is_some()
        || service.template.as_deref() == Some("zookeeper")
        || service.name.as_str() == "zookeeper"
        || service.image.contains("zookeeper")
}

/// The port of a `zookeeper` health check.
pub fn zookeeper_probe(probe: Option<&Probe>) -> Option<u16> {
    match probe? {
        Probe::Zookeeper { port } => Some(*port),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as seen from this machine of a local engine.
    fn find(candidates: &[Candidate]) -> Option<(String, SocketAddr)> {
        locate(candidates, IpAddr::from([127, 0, 0, 1]))
    }

    fn candidate(service: &str, image: &str, published: &[(u16, u16)]) -> Candidate {
        Candidate {
            service: service.into(),
            image: image.into(),
            published: published.iter().copied().collect(),
            ..Candidate::default()
        }
    }

    #[test]
    fn the_rules_apply_in_order() {
        let by_image = candidate("reg", "envctl/zookeeper:3.9", &[(2181, 41001)]);
        let by_name = candidate("zookeeper", "mycorp/registry:1", &[(2181, 41002)]);
        let mut by_probe = candidate("coordinator", "mycorp/coord:1", &[(9999, 41003)]);
        by_probe.probe_port = Some(9999);
        let port = |found: Option<(String, SocketAddr)>| found.map(|(_, a)| a.port());
        assert_eq!(port(find(std::slice::from_ref(&by_image))), Some(41001));
        assert_eq!(
            port(find(&[by_image.clone(), by_name.clone()])),
            Some(41002)
        );
        assert_eq!(
            port(find(&[by_image, by_name, by_probe.clone()])),
            Some(41003)
        );
        let mut templated = candidate("reg", "mycorp/registry:1", &[(2181, 41004)]);
        assert_eq!(find(std::slice::from_ref(&templated)), None);
        templated.template = Some("zookeeper".into());
        assert_eq!(port(find(&[templated])), Some(41004));
        // Unpublished: not reachable from the host, so not the registry.
        by_probe.published.clear();
        assert_eq!(find(&[by_probe]), None);
    }

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn an_address_names_services_by_their_published_ports() {
        let zk1 = candidate("zk1", "envctl/zookeeper:3.8", &[(2181, 41001)]);
        let zk2 = candidate("zk2", "envctl/zookeeper:3.8", &[(2181, 41002)]);
        let address =
            crate::dubbo::address::parse("zookeeper://zk2:2181?backup=zk1,nowhere,10.1.1.1:2182")
                .unwrap();
        let found = servers(Some(&address), &[zk1.clone(), zk2], LOOPBACK);
        let found: Vec<String> = found.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            found,
            ["127.0.0.1:41002", "127.0.0.1:41001", "10.1.1.1:2182"]
        );
        assert_eq!(servers(None, &[zk1], LOOPBACK).len(), 1);
    }
}
