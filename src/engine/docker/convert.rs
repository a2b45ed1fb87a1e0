//! Conversions between bollard's types and envctl's engine types, both ways.

use std::collections::HashMap;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, EndpointSettings, HostConfig, MountType, NetworkingConfig,
    PortBinding, PortMap, RestartPolicy, RestartPolicyNameEnum,
};

use crate::engine::{
    ContainerSpec, ContainerState, LabelFilter, Labels, MountKind, ObservedContainer, PublishedPort,
};
use crate::model::Protocol;

pub(super) fn label_filters(filter: &LabelFilter) -> HashMap<String, Vec<String>> {
    let mut filters = HashMap::new();
    if !filter.0.is_empty() {
        filters.insert("label".to_string(), filter.0.clone());
    }
    filters
}

pub(super) fn to_labels(labels: Option<HashMap<String, String>>) -> Labels {
    labels.unwrap_or_default().into_iter().collect()
}

pub(super) fn protocol(name: &str) -> Protocol {
    if name.eq_ignore_ascii_case("udp") {
        Protocol::Udp
    } else {
        Protocol::Tcp
    }
}

/// `Exited (137) 3 seconds ago` -> 137.
pub(super) fn exit_code_from_status(status: &str) -> i64 {
    status
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(code, _)| code.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) fn summary_state(
    state: Option<ContainerSummaryStateEnum>,
    status: &str,
) -> ContainerState {
    match state {
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited {
            code: exit_code_from_status(status),
        },
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        _ => ContainerState::Created,
    }
}

pub(super) fn summary_to_observed(summary: ContainerSummary) -> ObservedContainer {
    let name = summary
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let mut ports: Vec<PublishedPort> = summary
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            Some(PublishedPort {
                container: p.private_port,
                host: p.public_port?,
                protocol: protocol(&p.typ.map(|t| t.to_string()).unwrap_or_default()),
            })
        })
        .collect();
    // The engine lists a port once per address family.
    ports.sort();
    ports.dedup();
    let ips = summary
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(net, ep)| Some((net, ep.ip_address.filter(|ip| !ip.is_empty())?)))
        .collect();
    ObservedContainer {
        id: summary.id.unwrap_or_default(),
        name,
        image: summary.image.unwrap_or_default(),
        image_id: summary.image_id.unwrap_or_default(),
        labels: to_labels(summary.labels),
        state: summary_state(summary.state, summary.status.as_deref().unwrap_or("")),
        ports,
        ips,
        created: summary.created.unwrap_or(0),
    }
}

pub(super) fn ports_from_map(map: Option<PortMap>) -> Vec<PublishedPort> {
    let mut ports = Vec::new();
    for (key, bindings) in map.unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container) = port.parse::<u16>() else {
            continue;
        };
        for binding in bindings.unwrap_or_default() {
            if let Some(host) = binding.host_port.and_then(|h| h.parse::<u16>().ok()) {
                ports.push(PublishedPort {
                    container,
                    host,
                    protocol: protocol(proto),
                });
            }
        }
    }
    ports.sort();
    ports.dedup();
    ports
}

pub(super) fn inspect_state(resp: &ContainerInspectResponse) -> ContainerState {
    let Some(state) = &resp.state else {
        return ContainerState::Created;
    };
    match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited {
            code: state.exit_code.unwrap_or(0),
        },
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        _ => ContainerState::Created,
    }
}

/// Docker reports RFC 3339 timestamps; we keep Unix seconds.
pub(super) fn unix_seconds(created: Option<impl ToString>) -> i64 {
    created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c.to_string()).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

pub(super) fn inspect_to_observed(resp: ContainerInspectResponse) -> ObservedContainer {
    let state = inspect_state(&resp);
    let config = resp.config.unwrap_or_default();
    let settings = resp.network_settings.unwrap_or_default();
    let ips = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(net, ep)| Some((net, ep.ip_address.filter(|ip| !ip.is_empty())?)))
        .collect();
    ObservedContainer {
        id: resp.id.unwrap_or_default(),
        name: resp
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        image_id: resp.image.unwrap_or_default(),
        labels: to_labels(config.labels),
        state,
        ports: ports_from_map(settings.ports),
        ips,
        created: unix_seconds(resp.created),
    }
}

pub(super) fn restart_policy(name: &str) -> Option<RestartPolicy> {
    let name = match name {
        "" => return None,
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        _ => return None,
    };
    Some(RestartPolicy {
        name: Some(name),
        maximum_retry_count: None,
    })
}

pub(super) fn port_key(port: &PublishedPort) -> String {
    format!("{}/{}", port.container, port.protocol.as_str())
}

pub(super) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut bindings: PortMap = HashMap::new();
    for port in &spec.ports {
        bindings
            .entry(port_key(port))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(spec.publish_address.clone()).filter(|a| !a.is_empty()),
                // 0 lets the engine choose.
                host_port: Some(if port.host == 0 {
                    String::new()
                } else {
                    port.host.to_string()
                }),
            });
    }
    let mounts = spec
        .mounts
        .iter()
        .map(|m| bollard::models::Mount {
            typ: Some(match m.kind {
                MountKind::Volume => MountType::VOLUME,
                MountKind::Bind => MountType::BIND,
            }),
            source: Some(m.source.clone()),
            target: Some(m.target.clone()),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let host_network = spec.host_access.network;
    let network = if host_network {
        Some("host".to_string())
    } else {
        Some(spec.network.clone()).filter(|n| !n.is_empty())
    };
    let host_config = HostConfig {
        port_bindings: Some(bindings).filter(|_| !host_network),
        privileged: Some(spec.host_access.privileged).filter(|p| *p),
        pid_mode: Some("host".to_string()).filter(|_| spec.host_access.pid),
        mounts: Some(mounts),
        memory: spec.memory_bytes.map(|m| m as i64),
        nano_cpus: spec.nano_cpus,
        restart_policy: restart_policy(&spec.restart),
        extra_hosts: Some(spec.extra_hosts.clone()).filter(|h| !h.is_empty()),
        network_mode: network.clone(),
        ..Default::default()
    };
    // The host network takes no endpoint settings (aliases are for user-defined networks).
    let networking_config = network
        .filter(|_| !host_network)
        .map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net,
                EndpointSettings {
                    aliases: Some(spec.aliases.clone()).filter(|a| !a.is_empty()),
                    links: Some(spec.links.clone()).filter(|l| !l.is_empty()),
                    ..Default::default()
                },
            )])),
        });
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.clone()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        exposed_ports: Some(spec.ports.iter().map(port_key).collect()),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

/// Splits demultiplexed log chunks into lines, per stream, keeping partial lines for later.
#[derive(Default)]
pub(super) struct LineSplitter {
    stdout: String,
    stderr: String,
}

impl LineSplitter {
    pub(super) fn push(&mut self, chunk: LogOutput) -> Vec<String> {
        let (buf, bytes) = match chunk {
            LogOutput::StdErr { message } => (&mut self.stderr, message),
            LogOutput::StdOut { message }
            | LogOutput::Console { message }
            | LogOutput::StdIn { message } => (&mut self.stdout, message),
        };
        buf.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines = Vec::new();
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            lines.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        lines
    }

    pub(super) fn finish(self) -> Vec<String> {
        [self.stdout, self.stderr]
            .into_iter()
            .filter(|rest| !rest.is_empty())
            .collect()
    }
}

pub(super) fn tail_arg(tail: usize) -> String {
    if tail == usize::MAX {
        "all".to_string()
    } else {
        tail.to_string()
    }
}

/// `repo[:tag]` or `repo@digest` -> (fromImage, tag). Without a tag Docker would pull every tag.
pub(super) fn split_reference(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => {
            let repo = &image[..image.len() - tag.len() - 1];
            (repo.to_string(), tag.to_string())
        }
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The build context as an uncompressed tar archive, without what `.dockerignore` excludes
/// (the same walk decides when to rebuild).
pub(super) fn tar_context(dir: &Path, dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for entry in crate::engine::build_context::walk(dir, dockerfile)? {
        builder.append_path_with_name(&entry.absolute, &entry.path)?;
    }
    builder.into_inner()
}

/// Restart count, start time and last exit code from an inspect answer.
pub(super) fn runtime(resp: &ContainerInspectResponse) -> crate::engine::ContainerRuntime {
    let state = resp.state.as_ref();
    crate::engine::ContainerRuntime {
        state: inspect_state(resp),
        restart_count: resp
            .restart_count
            .and_then(|c| u64::try_from(c).ok())
            .unwrap_or(0),
        started_at: state
            .and_then(|s| s.started_at.as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        exit_code: state.and_then(|s| s.exit_code).unwrap_or(0),
    }
}

/// Event attributes mix labels with these engine-defined keys.
pub(super) const EVENT_ATTRIBUTES: &[&str] = &["name", "image", "exitCode", "signal", "execID"];
