//! One service of an environment, fully resolved: templates applied, defaults filled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::ServiceName;

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: ServiceName,
    pub kind: ServiceKind,
    /// Image reference; for `build:` services the tag envctl builds under.
    pub image: String,
    pub pull: PullPolicy,
    pub build: Option<BuildSpec>,
    pub ports: Vec<PortSpec>,
    pub env: BTreeMap<String, EnvValue>,
    pub depends_on: BTreeMap<ServiceName, Condition>,
    pub healthcheck: Option<HealthCheck>,
    pub volumes: Vec<VolumeMount>,
    pub resources: Resources,
    pub restart: RestartPolicy,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub aliases: Vec<String>,
    /// The template this service was made from, recorded in labels.
    pub template: Option<String>,
    /// Access to the host beyond the sandbox; each needs the definition's `allow:`.
    pub host_access: HostAccess,
    /// Seeding: steps run once per volume lifetime, after the service is first ready.
    pub init: super::Init,
}

/// Ways a container can reach into the host, each opted into with `allow:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostAccess {
    /// `privileged: true`.
    pub privileged: bool,
    /// `network_mode: host`: the host's network stack instead of the instance network.
    pub network: bool,
    /// `pid: host`: the host's process namespace.
    pub pid: bool,
}

impl HostAccess {
    /// The `allow:` words this access needs, e.g. `["privileged", "host-pid"]`.
    pub fn needs(&self) -> Vec<&'static str> {
        let mut needs = Vec::new();
        if self.privileged {
            needs.push(ALLOW_PRIVILEGED);
        }
        if self.network {
            needs.push(ALLOW_HOST_NETWORK);
        }
        if self.pid {
            needs.push(ALLOW_HOST_PID);
        }
        needs
    }
}

/// The words of the top-level `allow:` list.
pub const ALLOW_PRIVILEGED: &str = "privileged";
pub const ALLOW_HOST_NETWORK: &str = "host-network";
pub const ALLOW_HOST_PID: &str = "host-pid";
pub const ALLOW_OUTSIDE_BINDS: &str = "outside-binds";

impl Service {
    /// A service with only an image; the rest defaulted. Handy for tests and builders.
    pub fn from_image(name: ServiceName, image: &str) -> Self {
        Self {
            name,
            kind: ServiceKind::Service,
            image: image.to_string(),
            pull: PullPolicy::Missing,
            build: None,
            ports: Vec::new(),
            env: BTreeMap::new(),
            depends_on: BTreeMap::new(),
            healthcheck: None,
            volumes: Vec::new(),
            resources: Resources::default(),
            restart: RestartPolicy::No,
            command: None,
            entrypoint: None,
            aliases: Vec::new(),
            template: None,
            host_access: HostAccess::default(),
            init: super::Init::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceKind {
    /// Runs until stopped.
    #[default]
    Service,
    /// Runs to completion; dependents may wait with `completed`.
    Job,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildSpec {
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Dockerfile path relative to the context.
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A container port published on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpec {
    pub container: u16,
    /// `Some` only when pinned with `HOST:CONTAINER`; otherwise envctl allocates one.
    pub host: Option<u16>,
    pub protocol: Protocol,
}

/// An environment variable's value. Secrets come from the host on purpose and never
/// appear in output, labels or the visible spec hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    FromEnv(String),
    FromFile(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// The dependency's container is running (a job: has been started).
    #[default]
    Started,
    /// The dependency's health check passes.
    Healthy,
    /// The dependency (a job) exited with status 0.
    Completed,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

impl HealthCheck {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const DEFAULT_RETRIES: u32 = 30;

    pub fn new(probe: Probe) -> Self {
        Self {
            probe,
            interval: Self::DEFAULT_INTERVAL,
            timeout: Self::DEFAULT_TIMEOUT,
            retries: Self::DEFAULT_RETRIES,
            start_period: Duration::ZERO,
        }
    }
}

/// How readiness is checked. `cmd` runs inside the container (exec); the others are run by
/// envctl itself against the container, so images need no tools inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Cmd(Vec<String>),
    Tcp {
        port: u16,
    },
    Http {
        port: u16,
        path: String,
    },
    /// A ZooKeeper server answers `ruok`/a session on this port.
    Zookeeper {
        port: u16,
    },
    /// A provider is registered in the instance's ZooKeeper and answers its protocol.
    Dubbo(DubboProbe),
}

/// What a `dubbo` health check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DubboProbe {
    pub provider: DubboProvider,
    /// The registry address as the provider is configured with it
    /// (`zookeeper://zk:2181?backup=...&group=...`, `zk1:2181,zk2:2181/chroot`); `None`: the
    /// instance's ZooKeeper with Dubbo's default layout. Validated when the definition loads.
    pub registry: Option<String>,
}

impl DubboProbe {
    /// A provider of `interface` in the default registry.
    pub fn interface(name: impl Into<String>) -> Self {
        Self {
            provider: DubboProvider::Interface(name.into()),
            registry: None,
        }
    }
}

/// Which provider a `dubbo` health check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DubboProvider {
    /// Any provider of this interface, in either registration form.
    Interface(String),
    /// An instance of this Dubbo 3 application (application-level discovery).
    Application(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub source: VolumeSource,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A named volume, one per instance (`<instance>_<name>`, see `InstanceId::volume_name`).
    Named(String),
    /// A host path, absolute (relative paths are resolved against the definition file).
    Bind(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Resources {
    pub memory_bytes: Option<u64>,
    pub cpus: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}
