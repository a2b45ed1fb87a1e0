//! A serializable view of a resolved environment, for `render --output yaml|json`.
//! The model types stay free of serde; secrets show where they come from, never their value.

use std::collections::BTreeMap;

use serde::Serialize;

use super::units::format_duration;
use crate::model::host_port_token;
use crate::model::{
    EnvValue, Environment, PortSpec, Probe, PullPolicy, Service, ServiceKind, VolumeSource,
};

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    pub instance: String,
    pub network: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    pub source: String,
    /// Dependencies first.
    pub start_order: Vec<String>,
    pub services: BTreeMap<String, ServiceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub kind: &'static str,
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub image: String,
    pub pull: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthcheckView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    pub restart: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Host access, under the keys that ask for it, so a reviewer of `render` sees it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildView {
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthcheckView {
    pub probe: serde_json::Value,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

fn port_text(port: &PortSpec) -> String {
    let base = match port.host {
        Some(host) => format!("{host}:{}", port.container),
        None => port.container.to_string(),
    };
    format!("{base}/{}", port.protocol.as_str())
}

fn probe_json(probe: &Probe) -> serde_json::Value {
    use serde_json::json;
    match probe {
        Probe::Cmd(argv) => json!({ "cmd": argv }),
        Probe::Tcp { port } => json!({ "tcp": port }),
        Probe::Http { port, path } => json!({ "http": { "port": port, "path": path } }),
        Probe::Zookeeper { port } => json!({ "zookeeper": port }),
        Probe::Dubbo(dubbo) => {
            let mut fields = serde_json::Map::new();
            let (key, name) = match &dubbo.provider {
                crate::model::DubboProvider::Interface(name) => ("interface", name),
                crate::model::DubboProvider::Application(name) => ("application", name),
            };
            fields.insert(key.into(), json!(name));
            if let Some(registry) = &dubbo.registry {
                fields.insert("registry".into(), json!(registry));
            }
            json!({ "dubbo": fields })
        }
    }
}

/// The host port `up` allocated to a service's container port, when known.
pub type HostPortLookup<'a> = &'a dyn Fn(&str, u16) -> Option<u16>;

impl ServiceView {
    /// The service as shown: host-port tokens become the port `host_ports` knows, or a
    /// readable placeholder.
    pub fn new(env: &Environment, service: &Service, host_ports: HostPortLookup<'_>) -> Self {
        let shown = |text: &str| host_port_token::display(text, host_ports);
        let shown_all = |argv: &Option<Vec<String>>| {
            argv.as_ref()
                .map(|argv| argv.iter().map(|a| shown(a)).collect())
        };
        Self {
            kind: match service.kind {
                ServiceKind::Service => "service",
                ServiceKind::Job => "job",
            },
            container: env.instance.container_name(&service.name),
            template: service.template.clone(),
            image: service.image.clone(),
            pull: match service.pull {
                PullPolicy::Missing => "missing",
                PullPolicy::Always => "always",
                PullPolicy::Never => "never",
            },
            build: service.build.as_ref().map(|b| BuildView {
                context: b.context.display().to_string(),
                dockerfile: b.dockerfile.clone(),
                args: b.args.clone(),
            }),
            ports: service.ports.iter().map(port_text).collect(),
            env: service
                .env
                .iter()
                .map(|(k, v)| {
                    let shown = match v {
                        EnvValue::Plain(text) => serde_json::json!(shown(text)),
                        EnvValue::FromEnv(name) => serde_json::json!({ "from_env": name }),
                        EnvValue::FromFile(path) => {
                            serde_json::json!({ "from_file": path.display().to_string() })
                        }
                    };
                    (k.clone(), shown)
                })
                .collect(),
            depends_on: service
                .depends_on
                .iter()
                .map(|(k, c)| (k.to_string(), c.as_str()))
                .collect(),
            healthcheck: service.healthcheck.as_ref().map(|h| HealthcheckView {
                probe: probe_json(&h.probe),
                interval: format_duration(h.interval),
                timeout: format_duration(h.timeout),
                retries: h.retries,
                start_period: format_duration(h.start_period),
            }),
            volumes: service
                .volumes
                .iter()
                .map(|v| {
                    let source = match &v.source {
                        VolumeSource::Named(name) => env.instance.volume_name(name),
                        VolumeSource::Bind(path) => path.display().to_string(),
                    };
                    let mode = if v.read_only { ":ro" } else { "" };
                    format!("{source}:{}{mode}", v.target)
                })
                .collect(),
            memory_bytes: service.resources.memory_bytes,
            cpus: service.resources.cpus,
            restart: service.restart.as_str(),
            command: shown_all(&service.command),
            entrypoint: shown_all(&service.entrypoint),
            aliases: service.aliases.clone(),
            privileged: service.host_access.privileged,
            network_mode: service.host_access.network.then_some("host"),
            pid: service.host_access.pid.then_some("host"),
        }
    }
}

impl EnvironmentView {
    /// The environment as shown, with placeholders for host ports.
    pub fn new(env: &Environment) -> Self {
        Self::with_host_ports(env, &|_, _| None)
    }

    /// The environment as shown, with the host ports of an instance that exists.
    pub fn with_host_ports(env: &Environment, host_ports: HostPortLookup<'_>) -> Self {
        Self {
            name: env.env.clone(),
            feature: env.feature.clone(),
            instance: env.instance.to_string(),
            network: env.network_name(),
            description: env.description.clone(),
            ttl: env.ttl.map(format_duration),
            source: env.source.display().to_string(),
            start_order: env
                .dependency_order()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            services: env
                .services
                .iter()
                .map(|(name, service)| {
                    (name.to_string(), ServiceView::new(env, service, host_ports))
                })
                .collect(),
        }
    }
}
