//! Dubbo registry addresses as teams write them, and the ZooKeeper layout they imply.
//!
//! Accepted forms (ZooKeeper only):
//! - `zookeeper://zk1:2181?backup=zk2:2181,zk3:2181&group=shop` — Java Dubbo's cluster form
//!   (`backup=`), with `group=` moving the registry root from `/dubbo` to `/shop`;
//! - `zookeeper://zk1:2181,zk2:2181/chroot` and `zk1:2181,zk2:2181/chroot` — a ZooKeeper
//!   connect string with a chroot, as kazoo (Python) and ZooKeeper's own clients take it;
//! - `rootPath=/x` sets where Dubbo 3 application instances live (default `/services`,
//!   `CuratorFrameworkParams.ROOT_PATH` in apache/dubbo).
//!
//! A missing port is ZooKeeper's 2181.

use serde::Serialize;

use super::DEFAULT_GROUP;

/// ZooKeeper's client port when nothing says otherwise.
pub const ZOOKEEPER_PORT: u16 = 2181;

/// Where Dubbo 3 registers application instances unless `rootPath` says otherwise.
pub const DEFAULT_SERVICES_ROOT: &str = "/services";

/// One ZooKeeper server of a registry address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

/// Where in ZooKeeper a Dubbo registry keeps its nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// Prefix of every path (`/chroot`), `""` for none.
    pub chroot: String,
    /// The registry group: interface registrations live under `/<group>/<interface>/providers`,
    /// interface -> application mappings under `/<group>/mapping/<interface>`.
    pub group: String,
    /// Where application instances live: `<services_root>/<application>/<host:port>`.
    pub services_root: String,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            chroot: String::new(),
            group: DEFAULT_GROUP.to_string(),
            services_root: DEFAULT_SERVICES_ROOT.to_string(),
        }
    }
}

impl Layout {
    /// The default layout under another group.
    pub fn with_group(group: &str) -> Self {
        Self {
            group: group.trim_matches('/').to_string(),
            ..Self::default()
        }
    }

    /// `/<group>`; `/` for the empty group (Java Dubbo then registers at the root).
    pub fn group_root(&self) -> String {
        format!("/{}", self.group.trim_matches('/'))
    }

    fn under_group(&self, rest: &str) -> String {
        let root = self.group_root();
        if root == "/" {
            format!("/{rest}")
        } else {
            format!("{root}/{rest}")
        }
    }

    /// Where the providers of `interface` register (`interface` as Java encodes it).
    pub fn providers_path(&self, interface: &str) -> String {
        self.under_group(&format!("{interface}/providers"))
    }

    /// Where the applications providing `interface` are listed (Dubbo 3 `ServiceNameMapping`).
    pub fn mapping_path(&self, interface: &str) -> String {
        self.under_group(&format!("mapping/{interface}"))
    }

    /// The instances of `application`.
    pub fn instances_path(&self, application: &str) -> String {
        format!("{}/{application}", self.services_root.trim_end_matches('/'))
    }
}

/// A parsed registry address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryAddress {
    /// The main server first, then backups, in the order written.
    pub servers: Vec<Server>,
    pub layout: Layout,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("registry address `{address}`: only zookeeper:// registries are supported")]
    NotZookeeper { address: String },
    #[error("registry address `{address}` names no server")]
    NoServer { address: String },
    #[error("registry address `{address}`: `{server}` is not host:port")]
    BadServer { address: String, server: String },
}

/// Parses `address` (see the module comment).
pub fn parse(address: &str) -> Result<RegistryAddress, AddressError> {
    let trimmed = address.trim();
    let rest = match trimmed.split_once("://") {
        Some(("zookeeper" | "zk", rest)) => rest,
        Some(_) => {
            return Err(AddressError::NotZookeeper {
                address: address.to_string(),
            })
        }
        None => trimmed,
    };
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, chroot) = match location.find('/') {
        Some(at) => (&location[..at], location[at..].trim_end_matches('/')),
        None => (location, ""),
    };
    let mut layout = Layout {
        chroot: chroot.to_string(),
        ..Layout::default()
    };
    let mut servers_text: Vec<&str> = hosts.split(',').collect();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "backup" => servers_text.extend(value.split(',')),
            "group" => layout.group = value.trim_matches('/').to_string(),
            "rootPath" => layout.services_root = format!("/{}", value.trim_matches('/')),
            _ => {}
        }
    }
    let servers = servers_text
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| server(address, s))
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() {
        return Err(AddressError::NoServer {
            address: address.to_string(),
        });
    }
    Ok(RegistryAddress { servers, layout })
}

fn server(address: &str, text: &str) -> Result<Server, AddressError> {
    let bad = || AddressError::BadServer {
        address: address.to_string(),
        server: text.to_string(),
    };
    let (host, port) = match text.rsplit_once(':') {
        // `[v6]:port`, `host:port`; a bare IPv6 address has more than one colon.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            (host, port.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (text, ZOOKEEPER_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Server {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(a: &RegistryAddress) -> Vec<String> {
        a.servers
            .iter()
            .map(|s| format!("{}:{}", s.host, s.port))
            .collect()
    }

    #[test]
    fn java_cluster_form_with_backups_and_a_group() {
        let a = parse("zookeeper://zk1:2181?backup=zk2:2182,zk3&group=shop").unwrap();
        assert_eq!(hosts(&a), ["zk1:2181", "zk2:2182", "zk3:2181"]);
        assert_eq!(a.layout.group, "shop");
        assert_eq!(a.layout.providers_path("a.B"), "/shop/a.B/providers");
        assert_eq!(a.layout.mapping_path("a.B"), "/shop/mapping/a.B");
        assert_eq!(a.layout.chroot, "");
    }

    #[test]
    fn connect_string_with_a_chroot() {
        for text in [
            "zk1:2181,zk2:2181/team/x",
            "zookeeper://zk1:2181,zk2:2181/team/x/",
        ] {
            let a = parse(text).unwrap();
            assert_eq!(hosts(&a), ["zk1:2181", "zk2:2181"], "{text}");
            assert_eq!(a.layout.chroot, "/team/x", "{text}");
            assert_eq!(a.layout.group, "dubbo");
            assert_eq!(a.layout.instances_path("shop"), "/services/shop");
        }
        let a = parse("zookeeper://zookeeper?rootPath=/apps/").unwrap();
        assert_eq!(hosts(&a), ["zookeeper:2181"]);
        assert_eq!(a.layout.instances_path("shop"), "/apps/shop");
    }

    #[test]
    fn an_empty_group_registers_at_the_root() {
        let layout = Layout::with_group("/");
        assert_eq!(layout.providers_path("a.B"), "/a.B/providers");
        assert_eq!(
            Layout::default().providers_path("a.B"),
            "/dubbo/a.B/providers"
        );
    }

    #[test]
    fn rejects_what_is_not_a_zookeeper_address() {
        for (text, want) in [
            ("nacos://n:8848", "only zookeeper://"),
            ("zookeeper://", "names no server"),
            ("zookeeper://zk:http", "not host:port"),
            ("zk:0", "not host:port"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
        let a = parse("[fd00::1]:2181,fd00::2").unwrap();
        assert_eq!(hosts(&a), ["fd00::1:2181", "fd00::2:2181"]);
    }
}
