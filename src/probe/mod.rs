//! Readiness probes that envctl runs itself, so images need no tools inside.
//! (`cmd` probes run inside the container through the engine and live in `apply`.)

mod answers;
mod dubbo;
mod http;
mod tcp;
mod zookeeper;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::model::Probe;

/// Where a probe may reach the service from the host.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The container's address on its instance network (reachable from the host on Linux).
    pub container_ip: Option<IpAddr>,
    /// Published TCP ports: container port -> host port on `published_at`.
    pub host_ports: BTreeMap<u16, u16>,
    /// Where this machine dials published ports (`HostAddress::local`; loopback by default).
    pub published_at: IpAddr,
    /// The ZooKeeper servers of a `dubbo` probe's registry as reachable from the host, in the
    /// order to try them (main, then backups).
    pub registry: Vec<SocketAddr>,
    /// A `dubbo` probe counts only registrations at this target's own addresses (its
    /// container address or one of its host ports): an overlay's provider shares its
    /// registry with the base's provider of the same interface.
    pub own_registrations: bool,
}

impl Default for ProbeTarget {
    fn default() -> Self {
        Self {
            container_ip: None,
            host_ports: BTreeMap::new(),
            published_at: IpAddr::from([127, 0, 0, 1]),
            registry: Vec::new(),
            own_registrations: false,
        }
    }
}

impl ProbeTarget {
    /// The address to reach `container_port` at: the published port when there is one, else
    /// the container IP.
    pub fn address(&self, container_port: u16) -> Option<SocketAddr> {
        if let Some(host) = self.host_ports.get(&container_port) {
            return Some(SocketAddr::new(self.published_at, *host));
        }
        self.container_ip
            .map(|ip| SocketAddr::new(ip, container_port))
    }

    /// Whether a registered `host:port` is this target's.
    fn is_own(&self, host: &str, port: u16) -> bool {
        let ip = host.parse::<IpAddr>().ok();
        (ip.is_some() && ip == self.container_ip) || self.host_ports.values().any(|p| *p == port)
    }

    fn require_address(&self, container_port: u16) -> Result<SocketAddr, ProbeFailed> {
        self.address(container_port).ok_or_else(|| {
            format!("port {container_port} is neither published nor reachable by address").into()
        })
    }
}

/// Why a probe attempt did not pass: a short reason for progress output and failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailed(pub String);

impl From<String> for ProbeFailed {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for ProbeFailed {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}

/// Runs one probe attempt, bounded by `timeout` as a whole.
pub async fn check(
    probe: &Probe,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let attempt = async {
        match probe {
            Probe::Tcp { port } => tcp::check(target.require_address(*port)?, timeout).await,
            Probe::Http { port, path } => {
                http::check(target.require_address(*port)?, path, timeout).await
            }
            Probe::Zookeeper { port } => {
                zookeeper::check(target.require_address(*port)?, timeout).await
            }
            Probe::Dubbo(dubbo) => {
                if target.registry.is_empty() {
                    return Err("no ZooKeeper registry is known for this instance".into());
                }
                let own = |host: &str, port: u16| target.is_own(host, port);
                let own = target.own_registrations.then_some(&own as &dubbo::Own);
                dubbo::check(&target.registry, dubbo, own, timeout).await
            }
            Probe::Cmd(_) => Err("cmd probes run through the engine".into()),
        }
    };
    // Each step has its own bound too; this one keeps a slow multi-step probe honest.
    tokio::time::timeout(timeout + Duration::from_millis(100), attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_prefers_the_published_port() {
        let mut target = ProbeTarget {
            container_ip: Some("172.18.0.4".parse().unwrap()),
            ..ProbeTarget::default()
        };
        assert_eq!(target.address(80).unwrap().to_string(), "172.18.0.4:80");
        target.host_ports.insert(80, 41000);
        assert_eq!(target.address(80).unwrap().to_string(), "127.0.0.1:41000");
        // A backend whose ports are published elsewhere (a remote engine) says where.
        target.published_at = "192.0.2.10".parse().unwrap();
        assert_eq!(target.address(80).unwrap().to_string(), "192.0.2.10:41000");
        assert!(ProbeTarget::default().require_address(80).is_err());
    }

    #[tokio::test]
    async fn cmd_and_missing_registry_are_reported_not_run() {
        let t = ProbeTarget::default();
        let d = Duration::from_secs(1);
        assert!(check(&Probe::Cmd(vec!["true".into()]), &t, d)
            .await
            .is_err());
        let err = check(
            &Probe::Dubbo(crate::model::DubboProbe::interface("a.B")),
            &t,
            d,
        )
        .await
        .unwrap_err();
        assert!(err.0.contains("no ZooKeeper registry"), "{err}");
    }
}
