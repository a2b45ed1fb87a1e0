//! Where an instance's published ports are reached: from this machine (probes, `--local`
//! settings, reading the registry) and from outside (`advertise_host`: Dubbo registrations,
//! `endpoints`). A backend says which (`backend::Backend::host_address`); everything that
//! dials or prints a published port asks this one value.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// The two addresses of an instance's published ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    /// Where this machine dials a published port (loopback for a local engine).
    pub local: IpAddr,
    /// What outsiders dial: an IP or a host name, never loopback.
    pub advertise: String,
}

impl HostAddress {
    /// A local engine: loopback from here; outside, `advertise` when given, else the host's
    /// primary address (`detect`).
    pub fn local_engine(advertise: Option<&str>) -> Self {
        Self {
            local: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise: advertise
                .map(str::to_string)
                .unwrap_or_else(|| detect().to_string()),
        }
    }

    /// `host_port` as this machine dials it.
    pub fn local_socket(&self, host_port: u16) -> SocketAddr {
        SocketAddr::new(self.local, host_port)
    }

    /// `host_port` as outsiders dial it (`[v6]:port` for IPv6).
    pub fn outside(&self, host_port: u16) -> String {
        join_host_port(&self.advertise, host_port)
    }
}

/// `host:port`, bracketing an IPv6 address.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

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

    #[test]
    fn local_engine_addresses() {
        let host = super::HostAddress::local_engine(Some("::1"));
        assert_eq!(host.local_socket(41000).to_string(), "127.0.0.1:41000");
        assert_eq!(host.outside(41000), "[::1]:41000");
        let detected = super::HostAddress::local_engine(None);
        assert_eq!(detected.advertise, super::detect().to_string());
    }
}
