//! Docker engine through bollard. The only module that imports bollard: every bollard type is
//! converted to our own engine types at this boundary.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, EndpointSettings, HostConfig, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, PortMap, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    EventsOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::{container::LogOutput, Docker};
use futures_util::stream::{BoxStream, StreamExt};

use super::{
    BuildRequest, ContainerEvent, ContainerSpec, ContainerState, Engine, EngineError, EngineInfo,
    EngineResult, ExecOutput, ImageProgress, LabelFilter, Labels, MountKind, ObservedContainer,
    ObservedNetwork, ObservedVolume, ProgressSink, PublishedPort,
};
use crate::model::Protocol;

/// The oldest Docker API envctl supports (Engine 20.10).
pub const MIN_API_VERSION: (u32, u32) = (1, 41);
/// How long `connect` waits for the daemon to answer before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connection to a Docker engine.
#[derive(Clone)]
pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl DockerEngine {
    /// Connects with the local defaults (honouring `DOCKER_HOST`), checks the daemon answers
    /// within a few seconds and negotiates the API version down to the daemon's.
    pub async fn connect() -> EngineResult<Self> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let unreachable = |err: &BollardError| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: unreachable_reason(err),
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
        let timed_out = || {
            EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: format!(
                "no answer within {}s: the engine is hung or DOCKER_HOST points at something else; restart it (`sudo systemctl restart docker`) or fix DOCKER_HOST",
                CONNECT_TIMEOUT.as_secs()
            ),
        }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, docker.ping())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| unreachable(&e))?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| unreachable(&e))?;
        let engine = Self { docker, endpoint };
        let info = engine.info().await?;
        match parse_api_version(&info.api_version) {
            Some(found) if found >= MIN_API_VERSION => Ok(engine),
            _ => Err(EngineError::TooOld {
                found: info.api_version,
                needed: format!("{}.{}", MIN_API_VERSION.0, MIN_API_VERSION.1),
            }),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

fn parse_api_version(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A reason a user can act on, from a failed connection attempt.
fn unreachable_reason(err: &BollardError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let lower = text.to_lowercase();
    if matches!(err, BollardError::SocketNotFoundError(_))
        || lower.contains("no such file")
        || lower.contains("not found")
    {
        format!("the socket does not exist: start the engine (`sudo systemctl start docker`) or set DOCKER_HOST to its socket ({text})")
    } else if lower.contains("permission denied") {
        format!(
            "permission denied on the socket: add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root ({text})"
        )
    } else if lower.contains("connection refused") {
        format!("nothing answers there: start the engine (`sudo systemctl start docker`) or set DOCKER_HOST to the right address ({text})")
    } else {
        format!("check that DOCKER_HOST names the engine's socket, e.g. unix:///var/run/docker.sock ({text})")
    }
}

/// Maps a bollard error to ours: 404 and 409 become NotFound and Conflict on `what`.
fn api_err(op: &'static str, what: impl Into<String>) -> impl FnOnce(BollardError) -> EngineError {
    let what = what.into();
    move |err| match err {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => EngineError::NotFound { what },
        BollardError::DockerResponseServerError {
            status_code: 409, ..
        } => EngineError::Conflict { what },
        BollardError::DockerResponseServerError { message, .. } => EngineError::Api {
            context: format!("{op} {what}"),
            message,
        },
        BollardError::SocketNotFoundError(_)
        | BollardError::HyperLegacyError { .. }
        | BollardError::IOError { .. } => EngineError::Unreachable {
            endpoint: std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string()),
            reason: unreachable_reason(&err),
        },
        other => EngineError::Api {
            context: format!("{op} {what}"),
            message: other.to_string(),
        },
    }
}

fn label_filters(filter: &LabelFilter) -> HashMap<String, Vec<String>> {
    let mut filters = HashMap::new();
    if !filter.0.is_empty() {
        filters.insert("label".to_string(), filter.0.clone());
    }
    filters
}

fn to_labels(labels: Option<HashMap<String, String>>) -> Labels {
    labels.unwrap_or_default().into_iter().collect()
}

fn protocol(name: &str) -> Protocol {
    if name.eq_ignore_ascii_case("udp") {
        Protocol::Udp
    } else {
        Protocol::Tcp
    }
}

/// `Exited (137) 3 seconds ago` -> 137.
fn exit_code_from_status(status: &str) -> i64 {
    status
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(code, _)| code.trim().parse().ok())
        .unwrap_or(0)
}

fn summary_state(state: Option<ContainerSummaryStateEnum>, status: &str) -> ContainerState {
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

fn summary_to_observed(summary: ContainerSummary) -> ObservedContainer {
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
        labels: to_labels(summary.labels),
        state: summary_state(summary.state, summary.status.as_deref().unwrap_or("")),
        ports,
        ips,
        created: summary.created.unwrap_or(0),
    }
}

fn ports_from_map(map: Option<PortMap>) -> Vec<PublishedPort> {
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

fn inspect_state(resp: &ContainerInspectResponse) -> ContainerState {
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
fn unix_seconds(created: Option<impl ToString>) -> i64 {
    created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c.to_string()).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn inspect_to_observed(resp: ContainerInspectResponse) -> ObservedContainer {
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
        labels: to_labels(config.labels),
        state,
        ports: ports_from_map(settings.ports),
        ips,
        created: unix_seconds(resp.created),
    }
}

fn restart_policy(name: &str) -> Option<RestartPolicy> {
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

fn port_key(port: &PublishedPort) -> String {
    format!("{}/{}", port.container, port.protocol.as_str())
}

fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
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
struct LineSplitter {
    stdout: String,
    stderr: String,
}

impl LineSplitter {
    fn push(&mut self, chunk: LogOutput) -> Vec<String> {
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

    fn finish(self) -> Vec<String> {
        [self.stdout, self.stderr]
            .into_iter()
            .filter(|rest| !rest.is_empty())
            .collect()
    }
}

fn tail_arg(tail: usize) -> String {
    if tail == usize::MAX {
        "all".to_string()
    } else {
        tail.to_string()
    }
}

/// `repo[:tag]` or `repo@digest` -> (fromImage, tag). Without a tag Docker would pull every tag.
fn split_reference(image: &str) -> (String, String) {
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

/// The build context as an uncompressed tar archive.
fn tar_context(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}

/// Event attributes mix labels with these engine-defined keys.
const EVENT_ATTRIBUTES: &[&str] = &["name", "image", "exitCode", "signal", "execID"];

#[async_trait]
impl Engine for DockerEngine {
    async fn info(&self) -> EngineResult<EngineInfo> {
        let version = self
            .docker
            .version()
            .await
            .map_err(api_err("query version of", "the engine"))?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            endpoint: self.endpoint.clone(),
        })
    }

    async fn list_containers(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedContainer>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(filter))
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(api_err("list", "containers"))?;
        Ok(list.into_iter().map(summary_to_observed).collect())
    }

    async fn find_container(&self, name: &str) -> EngineResult<Option<ObservedContainer>> {
        // The engine's name filter matches substrings (as a regex); anchor it and check exactly.
        let filters = HashMap::from([("name".to_string(), vec![format!("^/{name}$")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(api_err("find container", name))?;
        Ok(list
            .into_iter()
            .map(summary_to_observed)
            .find(|c| c.name == name))
    }

    async fn inspect_container(&self, id: &str) -> EngineResult<ObservedContainer> {
        let resp = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(api_err("inspect", format!("container {id}")))?;
        Ok(inspect_to_observed(resp))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let what = format!("container {}", spec.name);
        let resp = self
            .docker
            .create_container(Some(options), create_body(spec))
            .await
            .map_err(|e| match e {
                // A missing image is a 404 too; say which one.
                BollardError::DockerResponseServerError {
                    status_code: 404,
                    message,
                } => EngineError::NotFound {
                    what: format!("image {} ({message})", spec.image),
                },
                other => api_err("create", what)(other),
            })?;
        Ok(resp.id)
    }

    async fn start_container(&self, id: &str) -> EngineResult<()> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(api_err("start", format!("container {id}")))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(secs).build();
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(api_err("stop", format!("container {id}")))
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        self.docker
            .remove_container(id, Some(options))
            .await
            .map_err(api_err("remove", format!("container {id}")))
    }

    async fn wait_container(&self, id: &str) -> EngineResult<i64> {
        loop {
            let mut stream = self.docker.wait_container(id, None::<WaitContainerOptions>);
            match stream.next().await {
                Some(Ok(resp)) => return Ok(resp.status_code),
                // bollard reports a non-zero exit as this error; it is an answer, not a failure.
                Some(Err(BollardError::DockerContainerWaitError { code, .. })) => return Ok(code),
                // The client's request timeout hit a long-running container: wait again.
                Some(Err(BollardError::RequestTimeoutError)) => continue,
                Some(Err(e)) => return Err(api_err("wait for", format!("container {id}"))(e)),
                None => {
                    return Err(EngineError::Api {
                        context: format!("wait for container {id}"),
                        message: "the engine closed the stream without an exit code".into(),
                    })
                }
            }
        }
    }

    async fn logs(&self, id: &str, tail: usize) -> EngineResult<Vec<String>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail_arg(tail))
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(api_err("read logs of", format!("container {id}")))?;
            lines.extend(splitter.push(chunk));
        }
        lines.extend(splitter.finish());
        Ok(lines)
    }

    fn follow_logs(&self, id: &str, tail: usize) -> BoxStream<'static, EngineResult<String>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail(&tail_arg(tail))
            .build();
        let id = id.to_string();
        let chunks = self.docker.logs(&id, Some(options));
        futures_util::stream::unfold(
            (chunks.boxed(), Some(LineSplitter::default()), id),
            |(mut chunks, mut splitter, id)| async move {
                let split = splitter.as_mut()?;
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        let lines: Vec<EngineResult<String>> =
                            split.push(chunk).into_iter().map(Ok).collect();
                        Some((lines, (chunks, splitter, id)))
                    }
                    Some(Err(e)) => {
                        let err = api_err("follow logs of", format!("container {id}"))(e);
                        Some((vec![Err(err)], (chunks, None, id)))
                    }
                    None => {
                        let rest = splitter.take()?.finish().into_iter().map(Ok).collect();
                        Some((rest, (chunks, None, id)))
                    }
                }
            },
        )
        .flat_map(futures_util::stream::iter)
        .boxed()
    }

    async fn exec(&self, id: &str, cmd: &[String]) -> EngineResult<ExecOutput> {
        let what = format!("container {id}");
        let created = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                // 409 here means "not running", not "already exists".
                BollardError::DockerResponseServerError {
                    status_code: 409,
                    message,
                } => EngineError::Api {
                    context: format!("exec in {what}"),
                    message,
                },
                other => api_err("exec in", what.clone())(other),
            })?;
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut out, ..
        } = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(api_err("exec in", what.clone()))?
        {
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(api_err("exec in", what.clone()))?;
                output.push_str(&chunk.to_string());
            }
        }
        // The exit code can lag the end of the output stream by a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let inspect = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(api_err("inspect exec in", what.clone()))?;
            if inspect.running != Some(true) {
                if let Some(exit_code) = inspect.exit_code {
                    return Ok(ExecOutput { exit_code, output });
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Api {
                    context: format!("exec in {what}"),
                    message: "the command's output ended but it never reported an exit code".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn list_networks(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedNetwork>> {
        let options = ListNetworksOptionsBuilder::new()
            .filters(&label_filters(filter))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(api_err("list", "networks"))?;
        Ok(list
            .into_iter()
            .map(|n| ObservedNetwork {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: to_labels(n.labels),
            })
            .collect())
    }

    async fn find_network(&self, name: &str) -> EngineResult<Option<ObservedNetwork>> {
        // Like containers, the name filter matches substrings.
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(api_err("find network", name))?;
        Ok(list
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .map(|n| ObservedNetwork {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: to_labels(n.labels),
            }))
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> EngineResult<String> {
        // Engine 20.10 creates a second network with the same name unless asked not to, and
        // newer APIs dropped the flag: check ourselves.
        if self.find_network(name).await?.is_some() {
            return Err(EngineError::Conflict {
                what: format!("network {name}"),
            });
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let resp = self
            .docker
            .create_network(request)
            .await
            .map_err(api_err("create", format!("network {name}")))?;
        Ok(resp.id)
    }

    async fn remove_network(&self, id: &str) -> EngineResult<()> {
        self.docker
            .remove_network(id)
            .await
            .map_err(api_err("remove", format!("network {id}")))
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedVolume>> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&label_filters(filter))
            .build();
        let resp = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(api_err("list", "volumes"))?;
        Ok(resp
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ObservedVolume {
                name: v.name,
                labels: v.labels.into_iter().collect(),
            })
            .collect())
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> EngineResult<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(api_err("create", format!("volume {name}")))?;
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        self.docker
            .remove_volume(name, Some(options))
            .await
            .map_err(api_err("remove", format!("volume {name}")))
    }

    async fn image_exists(&self, image: &str) -> EngineResult<bool> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(api_err("inspect", format!("image {image}"))(e)),
        }
    }

    async fn pull_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        let (from_image, tag) = split_reference(image);
        let mut builder = CreateImageOptionsBuilder::new().from_image(&from_image);
        if !tag.is_empty() {
            builder = builder.tag(&tag);
        }
        let pull_err = |reason: String| EngineError::Pull {
            image: image.to_string(),
            reason,
        };
        let mut stream = self.docker.create_image(Some(builder.build()), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerResponseServerError { message, .. } => pull_err(message),
                BollardError::DockerStreamError { error } => pull_err(error),
                other => pull_err(other.to_string()),
            })?;
            if let Some(detail) = info.error_detail {
                return Err(pull_err(detail.message.unwrap_or_default()));
            }
            let detail = info.progress_detail.unwrap_or_default();
            progress(ImageProgress::Layer {
                id: info.id.unwrap_or_default(),
                status: info.status.unwrap_or_default(),
                current: detail.current.and_then(|c| u64::try_from(c).ok()),
                total: detail.total.and_then(|t| u64::try_from(t).ok()),
            });
        }
        Ok(())
    }

    async fn build_image(
        &self,
        req: &BuildRequest,
        progress: ProgressSink<'_>,
    ) -> EngineResult<()> {
        let build_err = |reason: String| EngineError::Build {
            image: req.tag.clone(),
            reason,
        };
        let context = req.context.clone();
        let archive = tokio::task::spawn_blocking(move || tar_context(&context))
            .await
            .map_err(|e| build_err(e.to_string()))?
            .map_err(|e| {
                build_err(format!(
                    "cannot archive the context {}: {e}",
                    req.context.display()
                ))
            })?;
        let args: HashMap<String, String> = req.args.clone().into_iter().collect();
        let labels: HashMap<String, String> = req.labels.clone().into_iter().collect();
        let options = BuildImageOptionsBuilder::new()
            .dockerfile(&req.dockerfile)
            .t(&req.tag)
            .rm(true)
            // A failed step leaves its container behind unless forced: leave the engine as found.
            .forcerm(true)
            .buildargs(&args)
            .labels(&labels)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(archive.into())));
        let mut last_line = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerResponseServerError { message, .. } => build_err(message),
                BollardError::DockerStreamError { error } => build_err(error),
                other => build_err(other.to_string()),
            })?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_default();
                return Err(build_err(if last_line.is_empty() {
                    message
                } else {
                    format!("{message} (after: {last_line})")
                }));
            }
            for text in [info.stream, info.status].into_iter().flatten() {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    last_line = line.to_string();
                    progress(ImageProgress::Line(line.to_string()));
                }
            }
        }
        Ok(())
    }

    fn container_events(
        &self,
        filter: &LabelFilter,
    ) -> BoxStream<'static, EngineResult<ContainerEvent>> {
        let mut filters = label_filters(filter);
        filters.insert("type".to_string(), vec!["container".to_string()]);
        // The request goes out when the stream is first polled; `since` pins "from now on" to
        // this call, so events between the call and the first poll are not lost.
        let now = chrono::Utc::now();
        let since = format!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos());
        let options = EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build();
        self.docker
            .events(Some(options))
            .map(|item| {
                let message = item.map_err(api_err("watch", "container events"))?;
                let actor = message.actor.unwrap_or_default();
                let labels: BTreeMap<String, String> = actor
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| !EVENT_ATTRIBUTES.contains(&k.as_str()))
                    .collect();
                Ok(ContainerEvent {
                    container_id: actor.id.unwrap_or_default(),
                    action: message.action.unwrap_or_default(),
                    labels,
                })
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_always_carry_a_tag() {
        assert_eq!(split_reference("redis"), ("redis".into(), "latest".into()));
        assert_eq!(split_reference("redis:7"), ("redis".into(), "7".into()));
        assert_eq!(
            split_reference("localhost:5000/shop/api:1.2"),
            ("localhost:5000/shop/api".into(), "1.2".into())
        );
        assert_eq!(
            split_reference("localhost:5000/shop/api"),
            ("localhost:5000/shop/api".into(), "latest".into())
        );
        assert_eq!(
            split_reference("busybox@sha256:abc"),
            ("busybox@sha256:abc".into(), String::new())
        );
    }

    #[test]
    fn exit_codes_are_read_from_the_status_text() {
        assert_eq!(exit_code_from_status("Exited (137) 3 seconds ago"), 137);
        assert_eq!(exit_code_from_status("Exited (0) About a minute ago"), 0);
        assert_eq!(exit_code_from_status("Created"), 0);
    }

    #[test]
    fn api_versions_compare_numerically() {
        assert!(parse_api_version("1.41").unwrap() >= MIN_API_VERSION);
        assert!(parse_api_version("1.9").unwrap() < MIN_API_VERSION);
        assert!(parse_api_version("1.100").unwrap() > MIN_API_VERSION);
        assert_eq!(parse_api_version("garbage"), None);
    }

    #[test]
    fn log_chunks_become_whole_lines() {
        let mut splitter = LineSplitter::default();
        let out = |s: &str| LogOutput::StdOut {
            message: s.as_bytes().to_vec().into(),
        };
        assert!(splitter.push(out("hel")).is_empty());
        assert_eq!(splitter.push(out("lo\nwor")), vec!["hello"]);
        assert_eq!(
            splitter.push(LogOutput::StdErr {
                message: "oops\r\n".as_bytes().to_vec().into()
            }),
            vec!["oops"]
        );
        assert_eq!(splitter.finish(), vec!["wor"]);
    }

    #[test]
    fn host_access_reaches_the_create_request() {
        let spec = ContainerSpec {
            name: "x-a".into(),
            image: "envctl/busybox:1.35".into(),
            env: vec![],
            labels: Default::default(),
            command: None,
            entrypoint: None,
            ports: vec![PublishedPort {
                container: 80,
                host: 8080,
                protocol: crate::model::Protocol::Tcp,
            }],
            publish_address: String::new(),
            network: "envctl-x".into(),
            aliases: vec!["a".into()],
            mounts: vec![],
            memory_bytes: None,
            nano_cpus: None,
            restart: "no".into(),
            extra_hosts: vec![],
            host_access: crate::model::HostAccess::default(),
        };
        let plain = create_body(&spec).host_config.unwrap();
        assert_eq!((plain.privileged, plain.pid_mode), (None, None));
        let all = ContainerSpec {
            host_access: crate::model::HostAccess {
                privileged: true,
                network: true,
                pid: true,
            },
            ..spec
        };
        let body = create_body(&all);
        let host = body.host_config.unwrap();
        assert_eq!(host.privileged, Some(true));
        assert_eq!(host.pid_mode.as_deref(), Some("host"));
        assert_eq!(host.network_mode.as_deref(), Some("host"));
        assert!(host.port_bindings.is_none());
        assert!(body.networking_config.is_none());
    }

    #[test]
    fn missing_engine_reasons_say_what_to_do() {
        let reason = unreachable_reason(&BollardError::SocketNotFoundError(
            "/var/run/docker.sock".into(),
        ));
        assert!(reason.contains("systemctl start docker"), "{reason}");
        let io = |kind: std::io::ErrorKind, text: &str| BollardError::IOError {
            err: std::io::Error::new(kind, text.to_string()),
        };
        let denied = unreachable_reason(&io(
            std::io::ErrorKind::PermissionDenied,
            "Permission denied (os error 13)",
        ));
        assert!(denied.contains("docker group"), "{denied}");
        let refused = unreachable_reason(&io(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
        assert!(refused.contains("DOCKER_HOST"), "{refused}");
    }
}
