//! The seam between envctl and a container engine. `docker/` is the only module that
//! imports bollard; `fake.rs` is an in-memory engine for unit-testing the planner and
//! scheduler, compiled for tests only (it is not in the shipped binary).
//! Everything here is our own types: no `Option<String>` soup leaks out.

pub mod build_context;
pub mod docker;
#[cfg(test)]
pub mod fake;
pub mod target;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The daemon cannot be reached at all (not running, wrong socket, permission denied).
    #[error("cannot reach the Docker engine at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("the Docker engine speaks API {found}, envctl needs {needed} or newer: upgrade Docker to 20.10 or newer")]
    TooOld { found: String, needed: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("image {image} is not available locally and could not be pulled: {reason}")]
    Pull { image: String, reason: String },
    /// An engine on another machine lacks `image`, this machine's engine cannot give it, and
    /// the engine could not pull it (see `Engine::fetch_image`).
    #[error("image {image} is neither on the engine at {engine} nor on this machine's engine ({here}), and the engine could not pull it: {reason}; build it on the engine, build or pull it on this machine (envctl then copies it), or push it to a registry the engine can reach")]
    Unavailable {
        image: String,
        engine: String,
        here: String,
        reason: String,
    },
    #[error("building image {image} failed: {reason}")]
    Build { image: String, reason: String },
    #[error("{context}: {message}")]
    Api { context: String, message: String },
}

pub type EngineResult<T> = Result<T, EngineError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited { code: i64 },
    Dead,
    Removing,
}

impl ContainerState {
    pub fn is_running(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Restarting)
    }
}

/// A published port as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublishedPort {
    pub container: u16,
    pub host: u16,
    pub protocol: crate::model::Protocol,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedContainer {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    /// The ID of the image the container was created from (`sha256:...`; empty if unknown).
    pub image_id: String,
    pub labels: Labels,
    pub state: ContainerState,
    pub ports: Vec<PublishedPort>,
    /// Address on each attached network, by network name.
    pub ips: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

impl ObservedContainer {
    /// Whether it counts as ready when only its state is known: a running service, or a job
    /// that exited 0.
    pub fn ready_by_state(&self) -> bool {
        let is_job = self
            .labels
            .get(crate::model::labels::KIND)
            .map(String::as_str)
            == Some("job");
        match self.state {
            ContainerState::Running => true,
            ContainerState::Exited { code: 0 } => is_job,
            _ => false,
        }
    }
}

/// A local image: its ID and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedImage {
    /// `sha256:...`
    pub id: String,
    pub labels: Labels,
}

/// What readiness needs beyond the state: whether the container stayed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRuntime {
    pub state: ContainerState,
    /// How often the engine restarted it (its restart policy at work).
    pub restart_count: u64,
    /// When its current run began, by the engine's clock.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The exit code of its last run (what made it restart).
    pub exit_code: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedNetwork {
    pub id: String,
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedVolume {
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Volume,
    Bind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    /// Volume name or absolute host path.
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `KEY=VALUE`, secrets already resolved.
    pub env: Vec<String>,
    pub labels: Labels,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub ports: Vec<PublishedPort>,
    /// Host address the ports are published on (e.g. `0.0.0.0`).
    pub publish_address: String,
    pub network: String,
    /// DNS names on `network` (the service name first).
    pub aliases: Vec<String>,
    /// `container:alias`: names only this container resolves, to that container (an
    /// overlay's own dependencies; see `plan::overlay_dns`).
    pub links: Vec<String>,
    pub mounts: Vec<Mount>,
    pub memory_bytes: Option<u64>,
    pub nano_cpus: Option<i64>,
    /// Docker restart policy name (`no`, `always`, `on-failure`, `unless-stopped`).
    pub restart: String,
    /// `host:ip` entries, e.g. `host.docker.internal:host-gateway`.
    pub extra_hosts: Vec<String>,
    /// Privileged mode, the host's network (then `network`, `aliases` and `ports` are unused)
    /// or PID namespace; the definition opted in with `allow:`.
    pub host_access: crate::model::HostAccess,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    pub tag: String,
    pub context: std::path::PathBuf,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub labels: Labels,
}

/// Progress of a pull or build, for the output layer.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageProgress {
    /// One layer of a pull: `current`/`total` bytes when known.
    Layer {
        id: String,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    },
    /// A line of build output.
    Line(String),
    /// An image being copied from this machine's engine: bytes sent of `total` (the image's
    /// size; the archive runs slightly larger, so `sent` may pass it).
    Copy { sent: u64, total: u64 },
}

pub type ProgressSink<'a> = &'a (dyn Fn(ImageProgress) + Send + Sync);

/// A tar archive streamed in chunks (a seed may be gigabytes: never held whole in memory).
pub struct Archive {
    /// The bytes the stream will carry, for the request's deadline.
    pub size: u64,
    /// An error item aborts the upload.
    pub chunks: BoxStream<'static, std::io::Result<Vec<u8>>>,
}

impl Archive {
    /// An archive already in memory.
    pub fn from_bytes(tar: Vec<u8>) -> Archive {
        Archive {
            size: tar.len() as u64,
            chunks: Box::pin(futures_util::stream::once(async move { Ok(tar) })),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
}

/// What the engine says happened to a container, from its events stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container_id: String,
    /// `create`, `start`, `die`, `destroy`, ...
    pub action: String,
    pub labels: Labels,
}

/// Selects resources by label: `key` alone means "has the label", `key=value` an exact match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFilter(pub Vec<String>);

impl LabelFilter {
    /// Everything envctl owns.
    pub fn envctl() -> Self {
        Self(vec![crate::model::labels::INSTANCE.to_string()])
    }
    /// Everything of one instance.
    pub fn instance(instance: &str) -> Self {
        Self(vec![format!(
            "{}={instance}",
            crate::model::labels::INSTANCE
        )])
    }
}

/// Whether `found` carries the ownership labels of `wanted` (instance, env, feature).
pub fn same_owner(wanted: &Labels, found: &Labels) -> bool {
    use crate::model::labels::{ENV, FEATURE, INSTANCE};
    [INSTANCE, ENV, FEATURE]
        .iter()
        .all(|key| wanted.get(*key) == found.get(*key))
}

#[async_trait]
pub trait Engine: Send + Sync {
    async fn info(&self) -> EngineResult<EngineInfo>;

    /// All containers (running or not) matching the filter.
    async fn list_containers(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedContainer>>;
    /// The container with exactly this name, whoever owns it.
    async fn find_container(&self, name: &str) -> EngineResult<Option<ObservedContainer>>;
    async fn inspect_container(&self, id: &str) -> EngineResult<ObservedContainer>;
    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String>;
    async fn start_container(&self, id: &str) -> EngineResult<()>;
    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()>;
    /// Removes a container, killing it if it runs.
    async fn remove_container(&self, id: &str) -> EngineResult<()>;
    /// Waits for the container to exit and returns its exit code.
    async fn wait_container(&self, id: &str) -> EngineResult<i64>;
    /// The last `tail` log lines (stdout and stderr interleaved).
    async fn logs(&self, id: &str, tail: usize) -> EngineResult<Vec<String>>;
    /// Follows the log, starting with the last `tail` lines.
    fn follow_logs(&self, id: &str, tail: usize) -> BoxStream<'static, EngineResult<String>>;
    async fn exec(&self, id: &str, cmd: &[String]) -> EngineResult<ExecOutput>;
    /// `exec` bounded by `timeout`: `None` when it took longer. An engine that can should
    /// kill what the command left running inside the container then.
    async fn exec_bounded(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> EngineResult<Option<ExecOutput>> {
        match tokio::time::timeout(timeout, self.exec(id, cmd)).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }
    /// Unpacks a tar archive into directory `dir` of a container (created or running).
    async fn upload(&self, id: &str, dir: &str, archive: Archive) -> EngineResult<()>;
    /// Restart count and start time of a container, for readiness.
    async fn container_runtime(&self, id: &str) -> EngineResult<ContainerRuntime>;

    async fn list_networks(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedNetwork>>;
    async fn find_network(&self, name: &str) -> EngineResult<Option<ObservedNetwork>>;
    async fn create_network(&self, name: &str, labels: &Labels) -> EngineResult<String>;
    async fn remove_network(&self, id: &str) -> EngineResult<()>;

    async fn list_volumes(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedVolume>>;
    /// Creates a volume; `Conflict` when one of that name exists with other ownership labels
    /// (the engine would otherwise hand the existing one back silently).
    async fn create_volume(&self, name: &str, labels: &Labels) -> EngineResult<()>;
    async fn remove_volume(&self, name: &str) -> EngineResult<()>;

    /// The local image `image` names, if there is one.
    async fn inspect_image(&self, image: &str) -> EngineResult<Option<ObservedImage>>;
    async fn image_exists(&self, image: &str) -> EngineResult<bool> {
        Ok(self.inspect_image(image).await?.is_some())
    }
    async fn pull_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()>;
    /// Gets `image`, which the engine lacks, onto it: a pull here. A Docker engine on another
    /// machine copies it from this machine's engine when that has it, and pulls otherwise
    /// (`docker::DockerEngine::with_image_source`); its progress is then `ImageProgress::Copy`.
    async fn fetch_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        self.pull_image(image, progress).await
    }
    /// Only the copy of `fetch_image`, for `pull: never` images: `false` when there is nothing
    /// to copy from (a local engine, or this machine lacks the image too).
    async fn copy_image(&self, _image: &str, _progress: ProgressSink<'_>) -> EngineResult<bool> {
        Ok(false)
    }
    async fn build_image(&self, req: &BuildRequest, progress: ProgressSink<'_>)
        -> EngineResult<()>;

    /// Container events for resources matching the filter, from now on.
    fn container_events(
        &self,
        filter: &LabelFilter,
    ) -> BoxStream<'static, EngineResult<ContainerEvent>>;
}
