//! From a resolved service and its allocated ports to the container envctl wants: the
//! `ContainerSpec` for the engine, the spec view and its hash.

use std::collections::BTreeMap;

use crate::engine::{ContainerSpec, Labels, Mount, MountKind, PublishedPort};
use crate::model::host_port_token::{self, HostPortRef};
use crate::model::{
    labels, EnvValue, Environment, Protocol, Service, ServiceKind, ServiceName, VolumeSource,
};

use super::overlay_dns;
use super::ports::{encode_label, PortKey};
use super::spec::{SpecView, KIND_LABEL, SPEC_LABEL};

/// Lets containers reach services on the host (`host.docker.internal`), also on Linux.
pub const HOST_GATEWAY: &str = "host.docker.internal:host-gateway";

/// Host ports of every service of the instance, for token replacement.
pub type Allocations = BTreeMap<ServiceName, BTreeMap<PortKey, u16>>;

/// The engine volume each named volume of the instance uses (`data` -> `shop_data`); a volume
/// missing here gets `InstanceId::volume_name`.
pub type VolumeNames = BTreeMap<String, String>;

/// What resolving a secret may say.
pub type SecretResolver<'a> = &'a (dyn Fn(&EnvValue) -> Result<String, UnresolvedSecret> + Sync);

/// Why a secret has no value (an unset variable, an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnresolvedSecret(pub String);

/// The container one service should have.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub spec: ContainerSpec,
    pub view: SpecView,
    pub hash: String,
}

/// Why a container could not be described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("service `{service}`: environment variable {key}: {reason}")]
    Secret {
        service: String,
        key: String,
        reason: String,
    },
    #[error("service `{service}`: {reason}")]
    Token { service: String, reason: String },
    #[error("service `{service}`: cannot hash its secrets: {reason}")]
    Key { service: String, reason: String },
}

/// Replaces every host-port token (`model::host_port_token`) with the allocated host port.
/// Private to this module, so its reasons stay text: `desired` wraps them in `SpecError`.
fn replace_tokens(text: &str, allocations: &Allocations) -> Result<String, String> {
    host_port_token::replace_with(text, |token| {
        resolve_token(token, allocations).map(|port| port.to_string())
    })
}

/// Lets `replace_tokens` keep its text errors while the token module owns the format.
impl From<host_port_token::TokenError> for String {
    fn from(err: host_port_token::TokenError) -> Self {
        err.to_string()
    }
}

fn resolve_token(token: &HostPortRef, allocations: &Allocations) -> Result<u16, String> {
    let HostPortRef { service, port } = token;
    let ports = allocations
        .get(service.as_str())
        .ok_or_else(|| format!("host_port refers to unknown service `{service}`"))?;
    ports
        .get(&(*port, Protocol::Tcp))
        .or_else(|| ports.get(&(*port, Protocol::Udp)))
        .copied()
        .ok_or_else(|| {
            format!("host_port refers to port {port} of `{service}`, which it does not publish")
        })
}

/// The host gateway, plus every service run on the host (`up --local`) under its names, at
/// `local_reach` (see `PlanInputs::local_reach`).
fn extra_hosts(env: &Environment, local_reach: &str) -> Vec<String> {
    let mut hosts = vec![HOST_GATEWAY.to_string()];
    for service in env.local.values() {
        let names = std::iter::once(service.name.as_str())
            .chain(service.aliases.iter().map(String::as_str));
        hosts.extend(names.map(|n| format!("{n}:{local_reach}")));
    }
    hosts
}

/// Labels common to everything envctl creates for an instance.
pub fn instance_labels(env: &Environment, created: &str) -> Labels {
    let mut labels = Labels::from([
        (labels::INSTANCE.to_string(), env.instance.to_string()),
        (labels::ENV.to_string(), env.env.clone()),
        (
            labels::FEATURE.to_string(),
            env.feature.clone().unwrap_or_default(),
        ),
        (labels::CREATED.to_string(), created.to_string()),
    ]);
    if let Some(overlay) = &env.overlay {
        labels.insert(labels::BASE.to_string(), overlay.base.to_string());
        labels.insert(labels::TAG.to_string(), overlay.tag.clone());
    }
    labels
}

/// Builds the desired container of `service`.
pub fn desired(
    env: &Environment,
    service: &Service,
    allocations: &Allocations,
    volume_names: &VolumeNames,
    inputs: &super::PlanInputs<'_>,
) -> Result<Desired, Vec<SpecError>> {
    let (resolve_secret, publish_address) = (inputs.resolve_secret, &inputs.publish_address);
    let (created, key) = (inputs.now.as_str(), &inputs.spec_key);
    let name = service.name.as_str();
    let token_err = |reason: String| SpecError::Token {
        service: name.to_string(),
        reason,
    };
    let replace_all = |args: &Option<Vec<String>>| -> Result<Option<Vec<String>>, SpecError> {
        args.as_ref()
            .map(|args| {
                args.iter()
                    .map(|a| replace_tokens(a, allocations).map_err(token_err))
                    .collect()
            })
            .transpose()
    };
    let command = replace_all(&service.command).map_err(|e| vec![e])?;
    let entrypoint = replace_all(&service.entrypoint).map_err(|e| vec![e])?;

    let mut view_env = BTreeMap::new();
    let mut container_env = Vec::new();
    let mut secrets = BTreeMap::new();
    let mut secret_errors = Vec::new();
    for (key, value) in &service.env {
        match value {
            EnvValue::Plain(text) => {
                let text = replace_tokens(text, allocations).map_err(|e| vec![token_err(e)])?;
                container_env.push(format!("{key}={text}"));
                view_env.insert(key.clone(), text);
            }
            secret => match resolve_secret(secret) {
                Ok(resolved) => {
                    container_env.push(format!("{key}={resolved}"));
                    view_env.insert(key.clone(), secret_reference(secret));
                    secrets.insert(key.clone(), resolved);
                }
                // Every missing secret is reported in one run, not the first only.
                Err(reason) => secret_errors.push(SpecError::Secret {
                    service: name.to_string(),
                    key: key.clone(),
                    reason: reason.to_string(),
                }),
            },
        }
    }
    if !secret_errors.is_empty() {
        return Err(secret_errors);
    }

    let ports_of = allocations.get(&service.name).cloned().unwrap_or_default();
    let published: Vec<PublishedPort> = ports_of
        .iter()
        .map(|((container, protocol), host)| PublishedPort {
            container: *container,
            host: *host,
            protocol: *protocol,
        })
        .collect();

    let mounts: Vec<Mount> = service
        .volumes
        .iter()
        .map(|v| match &v.source {
            VolumeSource::Named(volume) => Mount {
                kind: MountKind::Volume,
                source: volume_names
                    .get(volume)
                    .cloned()
                    .unwrap_or_else(|| env.instance.volume_name(volume)),
                target: v.target.clone(),
                read_only: v.read_only,
            },
            VolumeSource::Bind(path) => Mount {
                kind: MountKind::Bind,
                source: path.display().to_string(),
                target: v.target.clone(),
                read_only: v.read_only,
            },
        })
        .collect();

    let (aliases, links) = overlay_dns::names(env, service);
    let network = env.network_name();
    let nano_cpus = service.resources.cpus.map(|c| (c * 1e9).round() as i64);
    let extra_hosts = extra_hosts(env, &inputs.local_reach);

    let view = SpecView {
        image: service.image.clone(),
        command: command.clone(),
        entrypoint: entrypoint.clone(),
        env: view_env,
        ports: published
            .iter()
            .map(|p| format!("{}:{}/{}", p.host, p.container, p.protocol.as_str()))
            .collect(),
        volumes: mounts
            .iter()
            .map(|m| {
                let ro = if m.read_only { ":ro" } else { "" };
                format!("{}:{}{ro}", m.source, m.target)
            })
            .collect(),
        network: network.clone(),
        aliases: aliases.clone(),
        links: links.clone(),
        memory_bytes: service.resources.memory_bytes,
        nano_cpus,
        restart: service.restart.as_str().to_string(),
        extra_hosts: extra_hosts.clone(),
        privileged: service.host_access.privileged,
        host_network: service.host_access.network,
        host_pid: service.host_access.pid,
        init: (!service.init.is_empty()).then(|| service.init.digest()),
    };
    let hash = view.hash(&secrets, key).map_err(|reason| {
        vec![SpecError::Key {
            service: name.to_string(),
            reason: reason.to_string(),
        }]
    })?;

    let mut labels = instance_labels(env, created);
    labels.insert(labels::SERVICE.to_string(), name.to_string());
    labels.insert(labels::SPEC_HASH.to_string(), hash.clone());
    labels.insert(labels::PORTS.to_string(), encode_label(&ports_of));
    labels.insert(SPEC_LABEL.to_string(), view.to_json());
    let kind = match service.kind {
        ServiceKind::Service => "service",
        ServiceKind::Job => "job",
    };
    labels.insert(KIND_LABEL.to_string(), kind.to_string());
    labels.insert(labels::OWNER.to_string(), inputs.owner.clone());
    if let Some(template) = &service.template {
        labels.insert(labels::TEMPLATE.to_string(), template.clone());
    }

    let spec = ContainerSpec {
        name: env.instance.container_name(&service.name),
        image: service.image.clone(),
        env: container_env,
        labels,
        command,
        entrypoint,
        ports: published,
        publish_address: publish_address.to_string(),
        network,
        aliases,
        links,
        mounts,
        memory_bytes: service.resources.memory_bytes,
        nano_cpus,
        restart: service.restart.as_str().to_string(),
        extra_hosts,
        host_access: service.host_access,
    };
    Ok(Desired { spec, view, hash })
}

fn secret_reference(value: &EnvValue) -> String {
    match value {
        EnvValue::Plain(text) => text.clone(),
        EnvValue::FromEnv(name) => format!("<from_env {name}>"),
        EnvValue::FromFile(path) => format!("<from_file {}>", path.display()),
    }
}

/// Resolves secrets from the host: environment variables and files (one trailing newline
/// dropped, as editors add it).
pub fn resolve_secret_from_host(value: &EnvValue) -> Result<String, UnresolvedSecret> {
    resolve_from_host(value).map_err(UnresolvedSecret)
}

fn resolve_from_host(value: &EnvValue) -> Result<String, String> {
    match value {
        EnvValue::Plain(text) => Ok(text.clone()),
        EnvValue::FromEnv(name) => {
            std::env::var(name).map_err(|_| format!("host environment variable {name} is not set"))
        }
        EnvValue::FromFile(path) => {
            // Resolved when the definition loaded; a symlink swapped in since is refused.
            crate::definition::verify_host_path(path).map_err(|e| e.to_string())?;
            std::fs::read_to_string(path)
                .map(|text| {
                    text.strip_suffix('\n')
                        .map(|t| t.strip_suffix('\r').unwrap_or(t).to_string())
                        .unwrap_or(text.clone())
                })
                .map_err(|err| format!("cannot read {}: {err}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocations() -> Allocations {
        Allocations::from([(
            ServiceName::new("db").unwrap(),
            BTreeMap::from([((3306, Protocol::Tcp), 23306)]),
        )])
    }

    #[test]
    fn tokens_become_host_ports() {
        let got = replace_tokens(
            "jdbc://h:@@envctl:host_port:db:3306@@/x?p=@@envctl:host_port:db:3306@@",
            &allocations(),
        );
        assert_eq!(got.unwrap(), "jdbc://h:23306/x?p=23306");
        assert_eq!(replace_tokens("plain", &allocations()).unwrap(), "plain");
    }

    #[test]
    fn bad_tokens_are_named() {
        for (text, needle) in [
            ("@@envctl:host_port:nope:1@@", "unknown service `nope`"),
            ("@@envctl:host_port:db:1@@", "port 1 of `db`"),
            ("@@envctl:host_port:db:3306", "unterminated"),
        ] {
            let err = replace_tokens(text, &allocations()).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
