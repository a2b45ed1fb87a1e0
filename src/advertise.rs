//! The address outsiders use to reach an environment (`advertise_host`).

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// The host's primary routable IPv4, never loopback.
///
/// Connecting a UDP socket only asks the kernel for a route; no packet is sent. Falls back to
/// the default Docker bridge gateway, which both the host and containers can reach.
pub fn detect() -> IpAddr {
    let routed = UdpSocket::bind("0.0.0.0:0").and_then(|socket| {
        // TEST-NET-1 (RFC 5737): never routed anywhere; used only for the route lookup.
        socket.connect("192.0.2.1:9")?;
        socket.local_addr()
    });
    match routed {
        Ok(addr) if !addr.ip().is_loopback() && !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::V4(Ipv4Addr::new(172, 17, 0, 1)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_loopback() {
        let ip = super::detect();
        assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
    }
}
