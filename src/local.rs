//! Hybrid runs (`up --local SERVICE`): the settings a developer needs to run one service from
//! an IDE against an environment whose other services run in containers.
//!
//! Inside the instance network services find each other as `name:port`; on the host those
//! names mean nothing, so every `name:port` of a containerised service becomes
//! `<local address>:<its host port>` (`127.0.0.1` for a local engine), and `host_port` tokens become real ports. Secrets are named,
//! never printed.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::model::host_port_token;
use crate::model::{EnvValue, Protocol, Service};

/// Host ports of the containerised services: service -> container TCP port -> host port.
pub type HostPorts = BTreeMap<String, BTreeMap<u16, u16>>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalSettings {
    pub service: String,
    /// Plain settings to export, rewritten for the host.
    pub env: BTreeMap<String, String>,
    /// Secret settings the developer sets from their own source: key -> where it comes from.
    pub secrets: BTreeMap<String, String>,
    /// Ports the local process should listen on (all interfaces), as containers expect them.
    pub listen: Vec<u16>,
    pub command: Option<Vec<String>>,
}

/// Settings through which a provider announces where callers reach it. In a container they
/// carry the engine host's advertised address; the service now runs on this machine, so on a
/// remote engine they become this machine's address as the server's containers dial it.
pub const SELF_ADDRESS_KEYS: &[&str] = &["DUBBO_IP_TO_REGISTRY"];

/// The settings to run `service` on the host.
/// `local` is where this machine dials published ports (`HostAddress::local`); `this_machine`
/// is where a remote engine's containers dial this machine (`Backend::reach_back`), `None`
/// for a local engine (its advertised address is this machine's already).
pub fn settings(
    service: &Service,
    host_ports: &HostPorts,
    local: IpAddr,
    this_machine: Option<IpAddr>,
) -> LocalSettings {
    let own = service.name.as_str();
    let rewrite = |text: &str| {
        let expanded = host_port_token::expand(text, |svc, port| {
            if svc == own {
                Some(port)
            } else {
                host_ports.get(svc).and_then(|p| p.get(&port)).copied()
            }
        })
        .unwrap_or_else(|_| text.to_string());
        rewrite_addresses(&expanded, host_ports, local)
    };
    let mut env = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (key, value) in &service.env {
        match value {
            EnvValue::Plain(text) => {
                let value = match this_machine {
                    Some(here) if SELF_ADDRESS_KEYS.contains(&key.as_str()) => here.to_string(),
                    _ => rewrite(text),
                };
                env.insert(key.clone(), value);
            }
            EnvValue::FromEnv(name) => {
                secrets.insert(key.clone(), format!("from_env {name}"));
            }
            EnvValue::FromFile(path) => {
                secrets.insert(key.clone(), format!("from_file {}", path.display()));
            }
        }
    }
    let listen = service
        .ports
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp)
        .map(|p| p.container)
        .collect();
    let command = service
        .command
        .as_ref()
        .map(|args| args.iter().map(|a| rewrite(a)).collect());
    LocalSettings {
        service: own.to_string(),
        env,
        secrets,
        listen,
        command,
    }
}

/// Replaces every `service:port` of a containerised service with its published address.
fn rewrite_addresses(text: &str, host_ports: &HostPorts, local: IpAddr) -> String {
    let mut out = text.to_string();
    for (service, ports) in host_ports {
        for (container, host) in ports {
            let published = std::net::SocketAddr::new(local, *host).to_string();
            out = replace_address(&out, service, *container, &published);
        }
    }
    out
}

/// Replaces `host:port` where it stands alone: not inside a longer name or a longer port.
fn replace_address(text: &str, host: &str, port: u16, with: &str) -> String {
    let needle = format!("{host}:{port}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + needle.len()..].chars().next();
        let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        let alone = !before.is_some_and(name_char) && !after.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..at]);
        out.push_str(if alone { with } else { &needle });
        rest = &rest[at + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// Shell lines to paste before starting the service.
pub fn render_text(s: &LocalSettings) -> String {
    let mut out = format!(
        "{} runs on this host (--local). Start it from your IDE with:\n",
        s.service
    );
    for (key, value) in &s.env {
        out.push_str(&format!("  export {key}={}\n", shell_quote(value)));
    }
    for (key, source) in &s.secrets {
        out.push_str(&format!(
            "  # {key}: a secret ({source}); set it yourself\n"
        ));
    }
    if let Some(command) = &s.command {
        out.push_str(&format!(
            "  # command in the container: {}\n",
            command.join(" ")
        ));
    }
    for port in &s.listen {
        out.push_str(&format!(
            "  # listen on 0.0.0.0:{port}: containers reach it as {}:{port} through the host gateway\n",
            s.service
        ));
    }
    out
}

fn shell_quote(value: &str) -> String {
    let safe = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if safe && !value.is_empty() {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PortSpec, ServiceName};

    fn provider() -> Service {
        let mut s = Service::from_image(ServiceName::new("order").unwrap(), "x");
        s.ports.push(PortSpec {
            container: 20880,
            host: None,
            protocol: Protocol::Tcp,
        });
        s.env.insert(
            "DUBBO_REGISTRY_ADDRESS".into(),
            EnvValue::Plain("zookeeper://zookeeper:2181".into()),
        );
        s.env.insert(
            "DUBBO_PORT_TO_REGISTRY".into(),
            EnvValue::Plain(host_port_token::format("order", 20880)),
        );
        s.env.insert(
            "CACHE".into(),
            EnvValue::Plain("redis://my-zookeeper:2181,redis:63790,redis:6379/0".into()),
        );
        s.env
            .insert("DB_PASSWORD".into(), EnvValue::FromEnv("SHOP_DB_PW".into()));
        s
    }

    fn ports() -> HostPorts {
        HostPorts::from([
            ("zookeeper".into(), BTreeMap::from([(2181, 31000)])),
            ("redis".into(), BTreeMap::from([(6379, 32000)])),
        ])
    }

    #[test]
    fn container_addresses_become_loopback_host_ports() {
        let s = settings(&provider(), &ports(), IpAddr::from([127, 0, 0, 1]), None);
        assert_eq!(
            s.env["DUBBO_REGISTRY_ADDRESS"],
            "zookeeper://127.0.0.1:31000"
        );
        // Only whole `name:port` addresses are rewritten.
        assert_eq!(
            s.env["CACHE"],
            "redis://my-zookeeper:2181,redis:63790,127.0.0.1:32000/0"
        );
    }

    #[test]
    fn own_host_port_is_the_port_it_listens_on() {
        let s = settings(&provider(), &ports(), IpAddr::from([127, 0, 0, 1]), None);
        assert_eq!(s.env["DUBBO_PORT_TO_REGISTRY"], "20880");
        assert_eq!(s.listen, [20880]);
    }

    #[test]
    fn a_provider_registers_this_machine_on_a_remote_engine() {
        let mut service = provider();
        service.env.insert(
            "DUBBO_IP_TO_REGISTRY".into(),
            EnvValue::Plain("10.0.0.5".into()),
        );
        let server = IpAddr::from([10, 0, 0, 5]);
        let here = IpAddr::from([10, 0, 0, 9]);
        let s = settings(&service, &ports(), server, Some(here));
        assert_eq!(s.env["DUBBO_IP_TO_REGISTRY"], "10.0.0.9");
        assert_eq!(
            s.env["DUBBO_REGISTRY_ADDRESS"],
            "zookeeper://10.0.0.5:31000"
        );
        // A local engine's advertised address is this machine's already.
        let s = settings(&service, &ports(), IpAddr::from([127, 0, 0, 1]), None);
        assert_eq!(s.env["DUBBO_IP_TO_REGISTRY"], "10.0.0.5");
    }

    #[test]
    fn secrets_are_named_not_shown() {
        let s = settings(&provider(), &ports(), IpAddr::from([127, 0, 0, 1]), None);
        assert!(!s.env.contains_key("DB_PASSWORD"));
        assert_eq!(s.secrets["DB_PASSWORD"], "from_env SHOP_DB_PW");
        let text = render_text(&s);
        assert!(text.contains("export DUBBO_REGISTRY_ADDRESS=zookeeper://127.0.0.1:31000"));
        assert!(text.contains("DB_PASSWORD: a secret (from_env SHOP_DB_PW)"));
    }
}
