//! The instance-level seam: what the use cases (`ops/`) and commands (`cli/`) ask of wherever
//! instances run. A backend observes and converges one instance from its `model::Environment`,
//! removes instances, lists them, keeps their lifetimes, and reaches a running service (logs,
//! exec, one readiness check); `host_address` says where published ports are dialled.
//!
//! `docker/` implements it over a container engine (`engine::Engine`: Docker, or the
//! in-memory fake in unit tests); `kubernetes/` over a cluster's API (or its in-memory
//! `fake_api`). Nothing in the trait's signatures is Docker's. The observation types (`ObservedContainer`: one running
//! workload of a service, with its labels, state and published ports) are envctl's own.

pub mod cluster;
pub mod docker;
pub mod kubernetes;
pub mod selection;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

pub use crate::advertise::HostAddress;
use crate::apply::{
    ApplyOptions, DownReport, DownScope, EventSink, Interrupt, NotReady, UpError, UpOutcome,
};
use crate::engine::{
    EngineError, EngineResult, ExecOutput, LabelFilter, ObservedContainer, ProgressSink,
};
use crate::lifetime::Lease;
pub use crate::lock::{EngineLock, LockAttempt};
use crate::model::labels::{NotOurs, Ownership};
use crate::model::{Environment, InstanceId};
use crate::plan::{Plan, PlanInputs, ServiceTarget};
use crate::snapshot::{RestoreReport, SaveRequest, Snapshot, SnapshotError};

/// Objects carrying an instance's label but another environment or feature.
#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    NotOurs(Vec<NotOurs>),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One instance as `ls` finds it (its lease is read separately, see `Backend::leases`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundInstance {
    pub owner: Ownership,
    /// Unix seconds of its oldest object.
    pub created: i64,
    /// Its services' workloads, and how many are ready by their state alone.
    pub services: usize,
    pub ready: usize,
    /// Who made it (`io.envctl.owner`: its network's, else a workload's); `None` before owners.
    pub owned_by: Option<String>,
}

/// Where instances run. Every method acts on envctl's own objects only (those carrying the
/// `io.envctl.*` labels of `model::labels`).
#[async_trait]
pub trait Backend: Send + Sync {
    /// Where this machine and outsiders dial the instances' published ports.
    fn host_address(&self) -> &HostAddress;
    /// This machine's address as the engine's containers dial it, when the engine is on
    /// another machine (its route back to a `--local` service); `None` for a local engine,
    /// whose containers reach this machine at `host-gateway`, or when nothing routes back.
    fn reach_back(&self) -> Option<std::net::IpAddr>;

    /// Refuses an instance whose objects carry its label but another environment or feature
    /// (read-only; see `model::labels::check_owner`).
    async fn verify_owner(&self, instance: &InstanceId) -> Result<(), OwnershipError>;

    /// What `up` would do to make `env`'s instance match it; changes nothing.
    async fn plan(&self, env: &Environment, inputs: &PlanInputs<'_>) -> Result<Plan, UpError>;
    /// Makes `env`'s instance match it (plan, apply, wait per `opts`), stopping early when
    /// `interrupt` is set.
    async fn up(
        &self,
        env: &Environment,
        inputs: &PlanInputs<'_>,
        opts: &ApplyOptions,
        sink: EventSink,
        interrupt: Interrupt,
    ) -> Result<UpOutcome, UpError>;
    /// Fetches `image` again, even when present (`up --pull`), telling `progress` how it goes.
    async fn pull(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()>;
    /// Removes what `scope` names (named volumes only with `volumes`).
    async fn down(
        &self,
        scope: &DownScope,
        volumes: bool,
        sink: EventSink,
    ) -> EngineResult<DownReport>;

    /// The workloads of one instance, by service name.
    async fn services(
        &self,
        instance: &InstanceId,
    ) -> EngineResult<BTreeMap<String, ObservedContainer>>;
    /// Whether anything of the instance besides its workloads exists (its network, its
    /// lease): an instance with none of these does not exist.
    async fn has_remains(&self, instance: &InstanceId) -> EngineResult<bool>;
    /// Every instance that has workloads or a network.
    async fn instances(&self) -> EngineResult<Vec<FoundInstance>>;

    /// The lifetimes (`up --ttl`) of the instances whose labels match `filter`.
    async fn leases(&self, filter: LabelFilter) -> EngineResult<Vec<Lease>>;
    /// Sets `instance`'s lifetime to `ttl` from `now` (`None`: keep the one it has; zero:
    /// none). Needs no definition: the lease carries the instance's labels.
    async fn renew_lease(
        &self,
        instance: &InstanceId,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> EngineResult<Option<Lease>>;

    /// One attempt of `target`'s health check against its running workload (`status`).
    /// `registry`: the services that may be the instance's ZooKeeper, for dubbo probes.
    async fn check_ready(
        &self,
        workload: &ObservedContainer,
        plan: &Plan,
        target: &ServiceTarget,
        registry: &[crate::dubbo::registry::Candidate],
    ) -> Result<(), NotReady>;
    /// The last `tail` log lines of a workload.
    async fn logs(&self, workload: &ObservedContainer, tail: usize) -> EngineResult<Vec<String>>;
    /// Follows a workload's log, starting with its last `tail` lines.
    fn follow_logs(
        &self,
        workload: &ObservedContainer,
        tail: usize,
    ) -> BoxStream<'static, EngineResult<String>>;
    /// Stops a workload (after `grace`, forcibly) and starts it again (`envctl ui`).
    async fn restart(&self, workload: &ObservedContainer, grace: Duration) -> EngineResult<()>;
    /// Yields whenever a workload of the instances matching `filter` changes (created,
    /// started, died, removed...): what makes `envctl ui` live. May end; callers also look
    /// again periodically.
    fn changes(&self, filter: &LabelFilter) -> BoxStream<'static, ()>;
    /// One attempt at `instance`'s lock where the instance lives, for engines that several
    /// machines share; `holder` says who asks (`user@host (pid N, envctl up)`).
    async fn try_lock(&self, _instance: &InstanceId, _holder: &str) -> EngineResult<LockAttempt> {
        Ok(LockAttempt::NotNeeded)
    }
    /// Releases a lock `try_lock` gave.
    async fn unlock(&self, _lock: EngineLock) -> EngineResult<()> {
        Ok(())
    }

    /// Runs `command` inside a running workload.
    async fn exec(
        &self,
        workload: &ObservedContainer,
        command: &[String],
    ) -> EngineResult<ExecOutput>;

    /// Saves snapshot `req.name` of an instance's data (`snapshot save`); `progress` hears
    /// each step.
    async fn snapshot_save(
        &self,
        req: &SaveRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Snapshot, SnapshotError>;
    /// Every snapshot where the instances live.
    async fn snapshots(&self) -> Result<Vec<Snapshot>, SnapshotError>;
    /// Removes snapshot `name` (the only way one goes).
    async fn snapshot_remove(&self, name: &str) -> Result<Snapshot, SnapshotError>;
    /// Fills the volumes of `env`'s new instance from snapshot `name` (`up --from-snapshot`).
    async fn snapshot_restore(
        &self,
        name: &str,
        env: &Environment,
        now: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<RestoreReport, SnapshotError>;
}

/// Where published ports are dialled, for the engine `selection` chose: a local engine is
/// reached on loopback, a remote one on its host; outsiders use `advertise`
/// (`--advertise-host`), else the detected primary address or the remote engine's host.
/// Known before connecting: definitions render with it. When the engine setting is broken
/// this is the local engine's; `connect` then reports the setting.
pub fn host_address(advertise: Option<&str>) -> HostAddress {
    match selection::selected() {
        Ok(selected) => selected.host_address(advertise),
        Err(_) => HostAddress::local_engine(advertise),
    }
}

/// Connects the backend commands use: the Docker engine `selection` chose, or the Kubernetes
/// cluster it names. The one place a backend is chosen. `host` is where a Docker engine's
/// published ports are dialled (`host_address`); a cluster finds its node address itself,
/// told `advertise` (`--advertise-host`) when given.
pub async fn connect(host: HostAddress, advertise: Option<&str>) -> EngineResult<Arc<dyn Backend>> {
    let selected = selection::selected().map_err(|e| EngineError::Unreachable {
        endpoint: "the configured engine".into(),
        reason: e.to_string(),
    })?;
    if let Some(context) = selected.target.kubernetes() {
        let mapping = kubernetes::MappingSettings::from_environment(advertise).map_err(|e| {
            EngineError::Api {
                context: "the Kubernetes settings".into(),
                message: e.to_string(),
            }
        })?;
        let cluster = cluster::connect(context, advertise).await?;
        return Ok(Arc::new(
            kubernetes::KubeBackend::new(cluster.client, cluster.host, cluster.label)
                .with_mapping(mapping),
        ));
    }
    let mut engine = crate::engine::docker::DockerEngine::connect_to(&selected.target).await?;
    // Any engine but the local socket may lack what this machine has: it gets copies from
    // there. Were both the same daemon after all, it would never lack what the source has.
    let local = crate::engine::target::EngineTarget::local();
    if selected.target.url != local.url {
        engine = engine.with_image_source(local);
    }
    Ok(Arc::new(docker::DockerBackend::new(Arc::new(engine), host)))
}
