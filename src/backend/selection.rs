//! The engine this process talks to, chosen once at startup (`select`, from `--engine` and the
//! settings `engine::target` orders) with its host's address resolved: `host_address` and
//! `connect` both use it, so a definition renders with the same address the probes dial.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::OnceLock;

use crate::advertise::HostAddress;
use crate::engine::target::{self, EngineTarget, Selection, TargetError};
use crate::project::ProjectError;

/// The engine could not be chosen: a bad setting, or an engine host name that does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("engine {target}: the host `{host}` does not resolve: {reason}")]
    Resolve {
        target: String,
        host: String,
        reason: String,
    },
}

/// The chosen engine and, for a remote one, the address this machine dials its host on.
#[derive(Debug, Clone)]
pub struct Selected {
    pub target: EngineTarget,
    pub engine_ip: Option<IpAddr>,
}

static SELECTED: OnceLock<Selected> = OnceLock::new();

/// Chooses the engine for this process (`flag` is `--engine`); the first call wins.
pub fn select(flag: Option<String>) -> Result<&'static Selected, SelectError> {
    if let Some(done) = SELECTED.get() {
        return Ok(done);
    }
    let chosen = choose(flag)?;
    Ok(SELECTED.get_or_init(|| chosen))
}

/// The engine chosen by `select`, or the one the environment names when nothing was selected
/// (library users such as tests).
pub fn selected() -> Result<&'static Selected, SelectError> {
    select(None)
}

fn choose(flag: Option<String>) -> Result<Selected, SelectError> {
    let project = crate::project::engine_entry()?;
    let target = target::resolve(&Selection::from_process(flag, project))?;
    let engine_ip = match target.remote_host() {
        None => None,
        Some(host) => Some(resolve_host(host).map_err(|reason| SelectError::Resolve {
            target: target.to_string(),
            host: host.to_string(),
            reason,
        })?),
    };
    Ok(Selected { target, engine_ip })
}

/// The first address of `host` (an IP literal as is), preferring IPv4 as Docker publishes
/// ports on it first.
pub(crate) fn resolve_host(host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| "no addresses".to_string())
}

impl Selected {
    /// Where published ports are dialled: a local engine on loopback, outsiders told
    /// `advertise` or the detected primary address; a remote engine on its host's address from
    /// here, outsiders told `advertise` or the host as the engine URL names it.
    pub fn host_address(&self, advertise: Option<&str>) -> HostAddress {
        match (self.target.remote_host(), self.engine_ip) {
            (Some(host), Some(ip)) => HostAddress {
                local: ip,
                advertise: advertise.unwrap_or(host).to_string(),
            },
            _ => HostAddress::local_engine(advertise),
        }
    }

    /// Whether the engine runs on another machine than envctl.
    pub fn is_remote(&self) -> bool {
        self.engine_ip.is_some_and(|ip| !ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::engine::target::{EngineUrl, TargetSource};

    fn remote(host: &str, ip: [u8; 4]) -> Selected {
        Selected {
            target: EngineTarget {
                url: EngineUrl::Tcp {
                    host: host.into(),
                    port: 2375,
                    tls: None,
                },
                source: TargetSource::DockerHost,
            },
            engine_ip: Some(IpAddr::V4(Ipv4Addr::from(ip))),
        }
    }

    #[test]
    fn a_remote_engine_is_dialled_and_advertised_at_its_host() {
        let sel = remote("server.test", [10, 1, 2, 3]);
        let host = sel.host_address(None);
        assert_eq!(host.local.to_string(), "10.1.2.3");
        assert_eq!(host.advertise, "server.test");
        assert_eq!(sel.host_address(Some("gw.test")).advertise, "gw.test");
        assert!(sel.is_remote());
    }

    #[test]
    fn a_local_engine_is_dialled_on_loopback() {
        let sel = Selected {
            target: EngineTarget::local(),
            engine_ip: None,
        };
        assert!(sel.host_address(None).local.is_loopback());
        assert!(!sel.is_remote());
        assert_eq!(resolve_host("127.0.0.1").unwrap().to_string(), "127.0.0.1");
    }
}
