//! Host-port allocation: free on the host, unique across envctl instances, stable across re-ups.
//!
//! Allocations are recorded in `io.envctl.ports` as `container/proto=host`, comma-separated.
//! An unpinned port keeps the host port its current container has; otherwise the search starts
//! at a preference derived from `instance/service/port`, so re-creating after `down` tends to
//! land on the same port again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{TcpListener, UdpSocket};

use sha2::{Digest, Sha256};

use crate::model::{PortRange, PortSpec, Protocol};

/// Whether a host port can be bound right now, on all IPv4 and all IPv6 interfaces. A port
/// bound on IPv6 only (`[::]:PORT` with `IPV6_V6ONLY`, or `[::1]:PORT`) leaves `0.0.0.0` free
/// but is busy all the same. A host without IPv6 (the bind fails for another reason than
/// "in use") is judged by IPv4 alone.
pub fn host_port_free(port: u16, protocol: Protocol) -> bool {
    let bind = |address: &str| match protocol {
        Protocol::Tcp => TcpListener::bind((address, port)).map(drop),
        Protocol::Udp => UdpSocket::bind((address, port)).map(drop),
    };
    bind("0.0.0.0").is_ok()
        && !matches!(bind("::"), Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
}

/// An allocated (not pinned) host port that could not be kept, and where it went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortMove {
    pub service: String,
    pub container: u16,
    pub protocol: &'static str,
    pub from: u16,
    pub to: u16,
}

impl fmt::Display for PortMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host port {} (for {}/{}) is in use by another process: moved to {}",
            self.from, self.container, self.protocol, self.to
        )
    }
}

/// Key of one published port of a service: container port and protocol.
pub type PortKey = (u16, Protocol);

/// Encodes allocations for the `io.envctl.ports` label.
pub fn encode_label(ports: &BTreeMap<PortKey, u16>) -> String {
    ports
        .iter()
        .map(|((container, proto), host)| format!("{container}/{}={host}", proto.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Decodes an `io.envctl.ports` label; malformed entries are ignored.
pub fn decode_label(text: &str) -> BTreeMap<PortKey, u16> {
    text.split(',')
        .filter_map(|entry| {
            let (left, host) = entry.trim().split_once('=')?;
            let (container, proto) = left.split_once('/').unwrap_or((left, "tcp"));
            let proto = match proto {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => return None,
            };
            Some(((container.parse().ok()?, proto), host.parse().ok()?))
        })
        .collect()
}

/// Who holds a host port already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Instance of the holding container.
    pub instance: String,
    /// Container name.
    pub container: String,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "container {} (instance {})",
            self.container, self.instance
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("service `{service}`: pinned host port {host} (for container port {container}) is already allocated to {holder}")]
    PinnedTaken {
        service: String,
        host: u16,
        container: u16,
        holder: Holder,
    },
    #[error("service `{service}`: pinned host port {host} (for container port {container}) is already in use on this host")]
    PinnedInUse {
        service: String,
        host: u16,
        container: u16,
    },
    #[error("service `{service}`: host port {host} is pinned twice in this environment")]
    PinnedTwice { service: String, host: u16 },
    #[error("service `{service}`: no free host port left in {first}-{last} for container port {container}")]
    Exhausted {
        service: String,
        container: u16,
        first: u16,
        last: u16,
    },
}

/// Allocates host ports for one instance.
pub struct Allocator<'a> {
    pub range: PortRange,
    /// Host ports held by envctl containers that stay (other instances, and of this instance
    /// everything not being planned, e.g. orphans).
    pub taken: BTreeMap<(u16, Protocol), Holder>,
    /// Whether the host can bind a port (skipped for ports a service already holds).
    pub host_free: &'a (dyn Fn(u16, Protocol) -> bool + Sync),
    /// Ports held by containers this plan removes first (orphans): free to hand out, even
    /// though the host still reports them bound.
    pub reclaimable: BTreeSet<(u16, Protocol)>,
    /// Ports this instance's existing containers hold: kept for them, never searched into
    /// by another service (a stopped container does not bind its port on the host).
    pub reserved: BTreeSet<(u16, Protocol)>,
    /// Ports handed out in this plan so far.
    given: BTreeSet<(u16, Protocol)>,
    /// Allocated ports that had to move (their container was stopped and the host port was
    /// taken meanwhile), in allocation order.
    pub moved: Vec<PortMove>,
}

impl<'a> Allocator<'a> {
    pub fn new(
        range: PortRange,
        taken: BTreeMap<(u16, Protocol), Holder>,
        host_free: &'a (dyn Fn(u16, Protocol) -> bool + Sync),
    ) -> Self {
        Self {
            range,
            taken,
            host_free,
            reclaimable: BTreeSet::new(),
            reserved: BTreeSet::new(),
            given: BTreeSet::new(),
            moved: Vec::new(),
        }
    }

    /// Host ports for one service whose existing container runs: `current` is what it holds
    /// (from its label), which it keeps without a host check since it is the one binding them.
    pub fn allocate(
        &mut self,
        instance: &str,
        service: &str,
        ports: &[PortSpec],
        current: &BTreeMap<PortKey, u16>,
    ) -> Result<BTreeMap<PortKey, u16>, PortError> {
        self.allocate_for(instance, service, ports, current, true)
    }

    /// Host ports for one service. `bound`: whether its existing container runs, and so binds
    /// `current` itself. A stopped container binds nothing: another process may have taken its
    /// ports meanwhile, so they are checked on the host like any other; an allocated port that
    /// is busy moves (recorded in `moved`), a pinned one is an error.
    pub fn allocate_for(
        &mut self,
        instance: &str,
        service: &str,
        ports: &[PortSpec],
        current: &BTreeMap<PortKey, u16>,
        bound: bool,
    ) -> Result<BTreeMap<PortKey, u16>, PortError> {
        let held: BTreeSet<u16> = current.values().copied().filter(|_| bound).collect();
        let mut out = BTreeMap::new();
        // Pinned ports first, so an unpinned one never grabs a port pinned later in the list.
        for port in ports.iter().filter(|p| p.host.is_some()) {
            let host = port.host.unwrap_or_default();
            let key = (host, port.protocol);
            if let Some(holder) = self.taken.get(&key) {
                return Err(PortError::PinnedTaken {
                    service: service.into(),
                    host,
                    container: port.container,
                    holder: holder.clone(),
                });
            }
            if self.given.contains(&key) {
                return Err(PortError::PinnedTwice {
                    service: service.into(),
                    host,
                });
            }
            let ours = held.contains(&host) || self.reclaimable.contains(&key);
            if !ours && !(self.host_free)(host, port.protocol) {
                return Err(PortError::PinnedInUse {
                    service: service.into(),
                    host,
                    container: port.container,
                });
            }
            self.given.insert(key);
            out.insert((port.container, port.protocol), host);
        }
        for port in ports.iter().filter(|p| p.host.is_none()) {
            let key = (port.container, port.protocol);
            if out.contains_key(&key) {
                continue;
            }
            let previous = current.get(&key).copied();
            let kept = previous.filter(|h| {
                self.usable(*h, port.protocol, true)
                    && (bound || (self.host_free)(*h, port.protocol))
            });
            let host = match kept {
                Some(host) => host,
                None => self.search(instance, service, port)?,
            };
            if let Some(from) = previous.filter(|from| *from != host) {
                self.moved.push(PortMove {
                    service: service.to_string(),
                    container: port.container,
                    protocol: port.protocol.as_str(),
                    from,
                    to: host,
                });
            }
            self.given.insert((host, port.protocol));
            out.insert(key, host);
        }
        Ok(out)
    }

    fn usable(&self, host: u16, protocol: Protocol, held: bool) -> bool {
        let key = (host, protocol);
        !self.taken.contains_key(&key)
            && !self.given.contains(&key)
            && (held || !self.reserved.contains(&key))
            && (held || self.reclaimable.contains(&key) || (self.host_free)(host, protocol))
    }

    fn search(&self, instance: &str, service: &str, port: &PortSpec) -> Result<u16, PortError> {
        let len = self.range.size();
        let start = preference(instance, service, port) % len;
        for step in 0..len {
            let offset = (start + step) % len;
            let host = (u32::from(self.range.first) + offset) as u16;
            debug_assert!(self.range.contains(host));
            if self.usable(host, port.protocol, false) {
                return Ok(host);
            }
        }
        Err(PortError::Exhausted {
            service: service.into(),
            container: port.container,
            first: self.range.first,
            last: self.range.last,
        })
    }
}

/// A deterministic starting point for the search.
fn preference(instance: &str, service: &str, port: &PortSpec) -> u32 {
    let digest = Sha256::digest(format!(
        "{instance}/{service}/{}/{}",
        port.container,
        port.protocol.as_str()
    ));
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(container: u16, host: Option<u16>) -> PortSpec {
        PortSpec {
            container,
            host,
            protocol: Protocol::Tcp,
        }
    }

    fn all_free(_: u16, _: Protocol) -> bool {
        true
    }

    #[test]
    fn parses_ranges() {
        assert_eq!(
            PortRange::parse("100-200"),
            Ok(PortRange {
                first: 100,
                last: 200
            })
        );
        for bad in ["", "1", "200-100", "0-5", "a-b", "1-70000"] {
            assert!(PortRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_round_trips() {
        let ports = BTreeMap::from([((80, Protocol::Tcp), 20001), ((53, Protocol::Udp), 20002)]);
        assert_eq!(decode_label(&encode_label(&ports)), ports);
        assert!(decode_label("").is_empty());
        assert!(decode_label("garbage,=,1/x=2").is_empty());
    }

    #[test]
    fn allocation_is_deterministic_and_in_range() {
        let range = PortRange::parse("30000-30099").unwrap();
        let a = Allocator::new(range, BTreeMap::new(), &all_free)
            .allocate("shop", "db", &[tcp(3306, None)], &BTreeMap::new())
            .unwrap();
        let b = Allocator::new(range, BTreeMap::new(), &all_free)
            .allocate("shop", "db", &[tcp(3306, None)], &BTreeMap::new())
            .unwrap();
        assert_eq!(a, b);
        assert!(range.contains(a[&(3306, Protocol::Tcp)]));
    }

    #[test]
    fn keeps_current_allocation_even_when_the_host_reports_it_bound() {
        let range = PortRange::parse("30000-30099").unwrap();
        let busy = |_: u16, _: Protocol| false;
        let current = BTreeMap::from([((6379, Protocol::Tcp), 30042)]);
        let got = Allocator::new(range, BTreeMap::new(), &busy)
            .allocate("shop", "cache", &[tcp(6379, None)], &current)
            .unwrap();
        assert_eq!(got[&(6379, Protocol::Tcp)], 30042);
    }

    #[test]
    fn a_stopped_containers_port_taken_by_another_process_moves() {
        let range = PortRange::parse("30000-30099").unwrap();
        let free = |p: u16, _: Protocol| p != 30042;
        let current = BTreeMap::from([((6379, Protocol::Tcp), 30042)]);
        let mut alloc = Allocator::new(range, BTreeMap::new(), &free);
        let got = alloc
            .allocate_for("shop", "cache", &[tcp(6379, None)], &current, false)
            .unwrap();
        let to = got[&(6379, Protocol::Tcp)];
        assert_ne!(to, 30042);
        assert_eq!(alloc.moved.len(), 1);
        assert_eq!((alloc.moved[0].from, alloc.moved[0].to), (30042, to));
        // Running, it binds the port itself: kept, nothing moves.
        let mut alloc = Allocator::new(range, BTreeMap::new(), &free);
        let got = alloc
            .allocate_for("shop", "cache", &[tcp(6379, None)], &current, true)
            .unwrap();
        assert_eq!(got[&(6379, Protocol::Tcp)], 30042);
        assert!(alloc.moved.is_empty());
        // Pinned and stopped: the host's word counts, a clear error instead of the engine's.
        let pinned = BTreeMap::from([((6379, Protocol::Tcp), 30042)]);
        let err = Allocator::new(range, BTreeMap::new(), &free)
            .allocate_for("shop", "cache", &[tcp(6379, Some(30042))], &pinned, false)
            .unwrap_err();
        assert!(
            matches!(err, PortError::PinnedInUse { host: 30042, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_port_bound_on_ipv6_only_is_busy() {
        let Ok(v6) = TcpListener::bind(("::1", 0)) else {
            return; // no IPv6 on this host: nothing to check
        };
        let port = v6.local_addr().unwrap().port();
        assert!(TcpListener::bind(("0.0.0.0", port)).is_ok(), "IPv4 is free");
        assert!(!host_port_free(port, Protocol::Tcp));
        drop(v6);
    }

    #[test]
    fn skips_ports_taken_by_other_instances_and_busy_on_the_host() {
        let range = PortRange::parse("30000-30002").unwrap();
        let holder = Holder {
            instance: "other".into(),
            container: "other-x".into(),
        };
        let taken = BTreeMap::from([((30000, Protocol::Tcp), holder)]);
        let free = |p: u16, _: Protocol| p != 30001;
        let got = Allocator::new(range, taken, &free)
            .allocate("shop", "a", &[tcp(1, None)], &BTreeMap::new())
            .unwrap();
        assert_eq!(got[&(1, Protocol::Tcp)], 30002);
    }

    #[test]
    fn unique_within_one_plan_and_exhaustion_is_an_error() {
        let range = PortRange::parse("30000-30001").unwrap();
        let mut alloc = Allocator::new(range, BTreeMap::new(), &all_free);
        let got = alloc
            .allocate("shop", "a", &[tcp(1, None), tcp(2, None)], &BTreeMap::new())
            .unwrap();
        assert_ne!(got[&(1, Protocol::Tcp)], got[&(2, Protocol::Tcp)]);
        let err = alloc
            .allocate("shop", "b", &[tcp(3, None)], &BTreeMap::new())
            .unwrap_err();
        assert!(matches!(err, PortError::Exhausted { .. }), "{err}");
    }

    #[test]
    fn pinned_ports_are_honoured_and_clashes_named() {
        let range = PortRange::default();
        let holder = Holder {
            instance: "other".into(),
            container: "other-web".into(),
        };
        let taken = BTreeMap::from([((8080, Protocol::Tcp), holder)]);
        let err = Allocator::new(range, taken, &all_free)
            .allocate("shop", "web", &[tcp(80, Some(8080))], &BTreeMap::new())
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("web") && text.contains("8080") && text.contains("other-web"));

        let busy = |_: u16, _: Protocol| false;
        let err = Allocator::new(range, BTreeMap::new(), &busy)
            .allocate("shop", "web", &[tcp(80, Some(8080))], &BTreeMap::new())
            .unwrap_err();
        assert!(matches!(err, PortError::PinnedInUse { host: 8080, .. }));

        let got = Allocator::new(range, BTreeMap::new(), &all_free)
            .allocate("shop", "web", &[tcp(80, Some(8080))], &BTreeMap::new())
            .unwrap();
        assert_eq!(got[&(80, Protocol::Tcp)], 8080);
    }
}
