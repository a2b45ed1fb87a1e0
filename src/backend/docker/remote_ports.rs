//! Free host ports on a remote engine's host. Binding a port here says nothing about another
//! machine, so a port is free there when no container on that engine publishes it (envctl's
//! own and everyone else's); what other instances recorded in their labels is already taken
//! by the planner. A port some other process on the server holds shows up when the container
//! starts (the engine refuses the bind).
//!
//! A `--local` service runs on this machine: the server's containers reach it at this
//! machine's address on the route to the server (`reach_back`), not at the server's gateway.

use std::collections::BTreeSet;
use std::net::{IpAddr, UdpSocket};

use crate::engine::{Engine, EngineResult, LabelFilter};
use crate::model::Protocol;

/// Every host port a container on the engine publishes now.
pub(super) async fn published(engine: &dyn Engine) -> EngineResult<BTreeSet<(u16, Protocol)>> {
    let all = engine.list_containers(&LabelFilter::default()).await?;
    Ok(all
        .iter()
        .flat_map(|c| c.ports.iter().map(|p| (p.host, p.protocol)))
        .collect())
}

/// This machine's address on its route to `engine`: where the server's containers dial a
/// `--local` service. Connecting a UDP socket only asks the kernel for the route; nothing is
/// sent. Loopback means the engine is reached through a tunnel: nothing routes back then.
pub(super) fn reach_back(engine: IpAddr) -> Result<IpAddr, String> {
    let any = if engine.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(any).map_err(|e| e.to_string())?;
    socket
        .connect((engine, 9))
        .map_err(|e| format!("no route to {engine}: {e}"))?;
    let here = socket.local_addr().map_err(|e| e.to_string())?.ip();
    if here.is_loopback() || here.is_unspecified() {
        return Err(format!(
            "this machine reaches the engine over {here}, an address the server cannot dial back"
        ));
    }
    Ok(here)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reach_back_is_a_routable_address_or_a_reason() {
        let here = super::reach_back("192.0.2.1".parse().unwrap());
        if let Ok(ip) = here {
            assert!(!ip.is_loopback(), "{ip}");
        }
        let err = super::reach_back("127.0.0.1".parse().unwrap()).unwrap_err();
        assert!(err.contains("cannot dial back"), "{err}");
    }
}
