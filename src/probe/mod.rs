//! Readiness probes that envctl runs itself, so images need no tools inside.
//! (`cmd` probes run inside the container through the engine and live in `apply`.)

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::model::Probe;

/// Where a probe may reach the service from the host.
#[derive(Debug, Clone, Default)]
pub struct ProbeTarget {
    /// The container's address on its instance network (reachable from the host on Linux).
    pub container_ip: Option<IpAddr>,
    /// Published TCP ports: container port -> host port on loopback.
    pub host_ports: BTreeMap<u16, u16>,
    /// The instance's ZooKeeper registry as reachable from the host, for `dubbo` probes.
    pub registry: Option<SocketAddr>,
}

impl ProbeTarget {
    /// The address to reach `container_port` at: loopback when published, else the container IP.
    pub fn address(&self, container_port: u16) -> Option<SocketAddr> {
        if let Some(host) = self.host_ports.get(&container_port) {
            return Some(SocketAddr::from(([127, 0, 0, 1], *host)));
        }
        self.container_ip
            .map(|ip| SocketAddr::new(ip, container_port))
    }
}

/// Runs one probe attempt. `Err` carries a short reason for progress output and failures.
pub async fn check(probe: &Probe, target: &ProbeTarget, timeout: Duration) -> Result<(), String> {
    match probe {
        Probe::Tcp { port } => tcp(target, *port, timeout).await,
        Probe::Cmd(_) => Err("cmd probes run through the engine".into()),
        other => Err(format!("probe {other:?} is not implemented yet")),
    }
}

async fn tcp(target: &ProbeTarget, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = target
        .address(port)
        .ok_or_else(|| format!("port {port} is neither published nor reachable by address"))?;
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("{addr}: {err}")),
        Err(_) => Err(format!("{addr}: no answer within {timeout:?}")),
    }
}
