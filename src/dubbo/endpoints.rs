//! What an outsider should dial: Dubbo registrations and published ports of one instance,
//! matched against the instance's containers. Pure: the engine and ZooKeeper are read by the
//! caller (`envctl endpoints`).

use serde::Serialize;

use super::{Form, Found, Registration};
use crate::advertise::HostAddress;
use crate::engine::ObservedContainer;
use crate::model::{labels, Protocol};

/// How a registered provider can be reached from outside the instance network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// The registered address is meant for outsiders (advertised host + published port).
    Advertised,
    /// The registration names a container address; its port is published, so outsiders use
    /// the advertise host and the host port instead (consumers reading ZooKeeper still get
    /// the container address).
    PublishedPort,
    /// A container address whose port is not published: only reachable inside the network
    /// (and from this Linux host).
    ContainerOnly,
    /// Neither a container of this instance nor the advertise host; used as registered.
    External,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderEndpoint {
    /// `None`: an application instance that no interface mapping names.
    pub interface: Option<String>,
    pub application: Option<String>,
    /// `interface` (a URL node) or `instance` (a Dubbo 3 application instance).
    pub form: Form,
    /// The service (container) behind the registration, when it is one of this instance.
    pub service: Option<String>,
    pub protocol: String,
    /// The address as registered in ZooKeeper.
    pub registered: String,
    /// The address to dial from outside, if there is one.
    pub outside: Option<String>,
    pub reach: Reach,
    pub version: Option<String>,
    pub methods: Option<String>,
    /// The provider's Dubbo tag (`dubbo.tag` of its URL): an overlay's feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortEndpoint {
    pub service: String,
    pub container_port: u16,
    pub protocol: &'static str,
    pub host_port: u16,
    /// `advertise_host:host_port`: what outsiders dial.
    pub outside: String,
    /// `local:host_port` (loopback for a local engine): what this machine may dial.
    pub local: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub instance: String,
    pub advertise_host: String,
    /// The registry as reached from this machine, when one was found.
    pub registry: Option<String>,
    pub providers: Vec<ProviderEndpoint>,
    pub ports: Vec<PortEndpoint>,
    /// Things the user should know (registry unreachable, undecodable registrations, ...).
    pub warnings: Vec<String>,
}

/// The service name of a container (its label, else the name after `<instance>-`).
pub fn service_of(container: &ObservedContainer) -> String {
    if let Some(service) = container.labels.get(labels::SERVICE) {
        return service.clone();
    }
    match container.labels.get(labels::INSTANCE) {
        Some(instance) => container
            .name
            .strip_prefix(&format!("{instance}-"))
            .unwrap_or(&container.name)
            .to_string(),
        None => container.name.clone(),
    }
}

/// Every published port of every container, by service then port.
pub fn published_ports(containers: &[ObservedContainer], host: &HostAddress) -> Vec<PortEndpoint> {
    let mut out: Vec<PortEndpoint> = containers
        .iter()
        .flat_map(|c| {
            let service = service_of(c);
            c.ports.iter().map(move |p| PortEndpoint {
                service: service.clone(),
                container_port: p.container,
                protocol: p.protocol.as_str(),
                host_port: p.host,
                outside: host.outside(p.host),
                local: host.local_socket(p.host).to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.service, a.container_port, a.protocol).cmp(&(&b.service, b.container_port, b.protocol))
    });
    out
}

/// Where each registered provider is reachable from outside.
pub fn provider_endpoints(
    found: &Found,
    containers: &[ObservedContainer],
    host: &HostAddress,
) -> Vec<ProviderEndpoint> {
    let mut out: Vec<ProviderEndpoint> = found
        .registrations
        .iter()
        .map(|r| locate(r, containers, host))
        .collect();
    out.sort_by(|a, b| {
        (&a.interface, &a.application, &a.registered, &a.protocol).cmp(&(
            &b.interface,
            &b.application,
            &b.registered,
            &b.protocol,
        ))
    });
    out
}

fn locate(
    r: &Registration,
    containers: &[ObservedContainer],
    host: &HostAddress,
) -> ProviderEndpoint {
    let registered = r.address();
    // A registration naming a container: by IP on any network, or by service/container name.
    let container = containers.iter().find(|c| {
        c.ips.values().any(|ip| *ip == r.host) || service_of(c) == r.host || c.name == r.host
    });
    let (service, outside, reach) = match container {
        Some(c) => match tcp_host_port(c, r.port) {
            Some(host_port) => (
                Some(service_of(c)),
                Some(host.outside(host_port)),
                Reach::PublishedPort,
            ),
            None => (Some(service_of(c)), None, Reach::ContainerOnly),
        },
        None if r.host == host.advertise => {
            // Advertised: the port is a host port; find whose.
            let owner = containers.iter().find(|c| {
                c.ports
                    .iter()
                    .any(|p| p.host == r.port && p.protocol == Protocol::Tcp)
            });
            (
                owner.map(service_of),
                Some(registered.clone()),
                Reach::Advertised,
            )
        }
        None => (None, Some(registered.clone()), Reach::External),
    };
    ProviderEndpoint {
        interface: r.interface.clone(),
        application: r.application.clone(),
        form: r.form,
        service,
        protocol: r.protocol.clone(),
        registered,
        outside,
        reach,
        version: r.params.get("version").cloned(),
        methods: r.params.get("methods").cloned(),
        tag: r.params.get("dubbo.tag").cloned().filter(|t| !t.is_empty()),
    }
}

fn tcp_host_port(container: &ObservedContainer, container_port: u16) -> Option<u16> {
    container
        .ports
        .iter()
        .find(|p| p.container == container_port && p.protocol == Protocol::Tcp)
        .map(|p| p.host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dubbo::decode;
    use crate::engine::{ContainerState, PublishedPort};
    use std::collections::BTreeMap;

    fn outside() -> HostAddress {
        HostAddress::local_engine(Some("192.168.1.20"))
    }

    fn container(service: &str, image: &str, ip: &str, ports: &[(u16, u16)]) -> ObservedContainer {
        let mut labels = BTreeMap::new();
        labels.insert(labels::INSTANCE.to_string(), "shop--pay".to_string());
        labels.insert(labels::SERVICE.to_string(), service.to_string());
        ObservedContainer {
            id: format!("id-{service}"),
            name: format!("shop--pay-{service}"),
            image: image.to_string(),
            image_id: String::new(),
            labels,
            state: ContainerState::Running,
            ports: ports
                .iter()
                .map(|(container, host)| PublishedPort {
                    container: *container,
                    host: *host,
                    protocol: Protocol::Tcp,
                })
                .collect(),
            ips: [("shop--pay".to_string(), ip.to_string())].into(),
            created: 0,
        }
    }

    fn providers(interface: &str, urls: &[&str]) -> Vec<Registration> {
        urls.iter()
            .map(|u| {
                let node =
                    percent_encoding::utf8_percent_encode(u, percent_encoding::NON_ALPHANUMERIC)
                        .to_string();
                decode(&node, interface).unwrap()
            })
            .collect()
    }

    fn world() -> Vec<ObservedContainer> {
        vec![
            container(
                "zookeeper",
                "envctl/zookeeper:3.8",
                "172.20.0.2",
                &[(2181, 41001)],
            ),
            container(
                "order",
                "envctl/dubbo-python:3.0",
                "172.20.0.3",
                &[(20880, 41002)],
            ),
            container("stock", "envctl/dubbo-python:3.0", "172.20.0.4", &[]),
        ]
    }

    #[test]
    fn classifies_each_kind_of_registration() {
        let found = [
            providers(
                "a.Order",
                &["tri://192.168.1.20:41002/a.Order?version=1.0&methods=greet"],
            ),
            providers(
                "a.OrderInternal",
                &["tri://172.20.0.3:20880/a.OrderInternal"],
            ),
            providers("a.Stock", &["tri://172.20.0.4:20880/a.Stock"]),
            providers("a.Legacy", &["dubbo://10.1.2.3:20880/a.Legacy"]),
        ];
        let found = Found {
            registrations: found.concat(),
            undecodable: Vec::new(),
        };
        let eps = provider_endpoints(&found, &world(), &outside());
        let by = |i: &str| {
            eps.iter()
                .find(|e| e.interface.as_deref() == Some(i))
                .unwrap()
        };

        let order = by("a.Order");
        assert_eq!(order.reach, Reach::Advertised);
        assert_eq!(order.service.as_deref(), Some("order"));
        assert_eq!(order.outside.as_deref(), Some("192.168.1.20:41002"));
        assert_eq!(order.version.as_deref(), Some("1.0"));

        let internal = by("a.OrderInternal");
        assert_eq!(internal.reach, Reach::PublishedPort);
        assert_eq!(internal.outside.as_deref(), Some("192.168.1.20:41002"));
        assert_eq!(internal.registered, "172.20.0.3:20880");

        let stock = by("a.Stock");
        assert_eq!(
            (stock.reach, stock.outside.as_deref()),
            (Reach::ContainerOnly, None)
        );
        assert_eq!(stock.service.as_deref(), Some("stock"));

        let legacy = by("a.Legacy");
        assert_eq!(
            (legacy.reach, legacy.service.as_deref()),
            (Reach::External, None)
        );
    }

    #[test]
    fn lists_every_published_port() {
        let ports = published_ports(&world(), &outside());
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].service, "order");
        assert_eq!(ports[1].outside, "192.168.1.20:41001");
        assert_eq!(ports[1].local, "127.0.0.1:41001");
    }

    #[test]
    fn finds_the_registry_by_health_check_template_or_image() {
        let world = world();
        let find = |containers: &[ObservedContainer]| {
            crate::dubbo::registry::locate(
                &crate::dubbo::registry::from_containers(containers, None),
                outside().local,
            )
        };
        let (service, addr) = find(&world).unwrap();
        assert_eq!(
            (service.as_str(), addr.to_string().as_str()),
            ("zookeeper", "127.0.0.1:41001")
        );

        let mut custom = world.clone();
        custom[0].image = "mycorp/registry:1".into();
        // Found by its name `zookeeper`; a custom name needs the template (or a probe).
        assert!(find(&custom).is_some());
        custom[0]
            .labels
            .insert(labels::SERVICE.into(), "registry".into());
        assert!(find(&custom).is_none());
        custom[0]
            .labels
            .insert(labels::TEMPLATE.into(), "zookeeper".into());
        assert_eq!(find(&custom).unwrap().1.port(), 41001);
    }
}
