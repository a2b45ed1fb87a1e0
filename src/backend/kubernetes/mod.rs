//! The Kubernetes backend: an instance is a namespace (`envctl-<instance>`) holding the
//! objects the mapping (`crate::kubernetes::manifests`) makes of its definition, stamped by
//! `desired`. Planning compares spec hashes (`plan`), `up` applies server-side and prunes
//! (`apply`) then waits (`wait`), `down` deletes the namespace (`down`), lifetimes are
//! namespace annotations (`leases`). This file only wires them to the `Backend` trait.
//!
//! `fake_api` is an in-memory API server for tests and benchmarks.

mod api;
mod apply;
mod desired;
mod down;
pub mod fake_api;
mod kinds;
mod leases;
mod mapping;
mod observe;
mod plan;
mod progress;
mod protocol_probe;
mod publish;
mod unsupported;
mod wait;
mod workloads;

pub use desired::desired;
pub use mapping::MappingSettings;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

use super::{Backend, EngineLock, FoundInstance, HostAddress, LockAttempt, OwnershipError};
use crate::apply::{
    ApplyOptions, ApplyReport, DownReport, DownScope, EventSink, Failure, Interrupt, NotReady,
    UpError, UpOutcome, INTERRUPTED,
};
use crate::engine::{
    EngineError, EngineResult, ExecOutput, LabelFilter, ObservedContainer, ProgressSink,
};
use crate::kubernetes::manifests::namespace_name;
use crate::kubernetes::pod_io;
use crate::lifetime::Lease;
use crate::model::labels::check_owner;
use crate::model::{Environment, InstanceId};
use crate::plan::{Plan, PlanInputs, ServiceTarget};
use crate::snapshot::{RestoreReport, SaveRequest, Snapshot, SnapshotError};

use api::Kube;
use kinds::{NAMESPACE, POD};
use observe::labels_of;
use progress::Progress;

/// How often readiness and namespace deletion are looked at again.
const POLL: Duration = Duration::from_secs(1);
/// How long `down` waits for a namespace to be gone.
const DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// A `Backend` over a Kubernetes cluster.
pub struct KubeBackend {
    kube: Kube,
    host: HostAddress,
    /// `context NAME (https://...)`, for messages.
    label: String,
    poll: Duration,
    delete_timeout: Duration,
    mapping: MappingSettings,
}

impl KubeBackend {
    /// `host` is where node ports are dialled (`cluster::connect` finds it).
    pub fn new(client: kube::Client, host: HostAddress, label: String) -> Self {
        Self {
            kube: Kube::new(client),
            host,
            label,
            poll: POLL,
            delete_timeout: DELETE_TIMEOUT,
            mapping: MappingSettings::default(),
        }
    }

    /// Maps definitions with `mapping` (node-port range, registry, advertise host) instead of
    /// the defaults (`MappingSettings::default`).
    pub fn with_mapping(mut self, mapping: MappingSettings) -> Self {
        self.mapping = mapping;
        self
    }

    /// Looks again every `poll` while waiting (tests: milliseconds), and gives a deleted
    /// namespace `delete_timeout` to go.
    pub fn with_pace(mut self, poll: Duration, delete_timeout: Duration) -> Self {
        self.poll = poll;
        self.delete_timeout = delete_timeout;
        self
    }

    /// Which cluster this is, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn unsupported(&self, what: &str) -> EngineError {
        EngineError::Api {
            context: format!("Kubernetes ({})", self.label),
            message: format!("{what} is not supported on the Kubernetes backend yet"),
        }
    }
}

#[async_trait]
impl Backend for KubeBackend {
    fn host_address(&self) -> &HostAddress {
        &self.host
    }

    /// Pods reach this machine only through what the cluster routes; nothing is promised.
    fn reach_back(&self) -> Option<std::net::IpAddr> {
        None
    }

    async fn verify_owner(&self, instance: &InstanceId) -> Result<(), OwnershipError> {
        let ns = namespace_name(instance.as_str());
        let Some(namespace) = self.kube.get(&NAMESPACE, None, &ns).await? else {
            return Ok(());
        };
        check_owner("namespace", &ns, &labels_of(&namespace), instance)
            .map_err(|problem| OwnershipError::NotOurs(vec![problem]))
    }

    async fn plan(&self, env: &Environment, inputs: &PlanInputs<'_>) -> Result<Plan, UpError> {
        Ok(plan::plan(&self.kube, env, inputs, &self.mapping)
            .await?
            .plan)
    }

    async fn up(
        &self,
        env: &Environment,
        inputs: &PlanInputs<'_>,
        opts: &ApplyOptions,
        sink: EventSink,
        interrupt: Interrupt,
    ) -> Result<UpOutcome, UpError> {
        let progress = Progress::new(sink);
        let kplan = plan::plan(&self.kube, env, inputs, &self.mapping).await?;
        if let Some(registry) = &self.mapping.settings.registry {
            publish::images_of_applied(env, &kplan, registry, &progress).await?;
        }
        let applied = apply::apply(&self.kube, &kplan, &progress, &interrupt, self.poll).await?;
        let report = match applied {
            apply::Applied::All => {
                wait::wait(
                    &self.kube,
                    &kplan.plan,
                    opts,
                    &progress,
                    &interrupt,
                    self.poll,
                    self.host.local,
                )
                .await?
            }
            apply::Applied::Interrupted => ApplyReport {
                failures: kplan
                    .plan
                    .services
                    .iter()
                    .map(|s| Failure {
                        service: s.name.to_string(),
                        reason: INTERRUPTED.into(),
                        logs: Vec::new(),
                    })
                    .collect(),
                pending: BTreeMap::new(),
            },
        };
        Ok(UpOutcome {
            plan: kplan.plan,
            report,
            attempts: 1,
        })
    }

    async fn pull(&self, _image: &str, _progress: ProgressSink<'_>) -> EngineResult<()> {
        Err(self.unsupported("pulling images (`up --pull`; the cluster's nodes pull)"))
    }

    async fn down(
        &self,
        scope: &DownScope,
        volumes: bool,
        sink: EventSink,
    ) -> EngineResult<DownReport> {
        let pace = down::Pace {
            poll: self.poll,
            timeout: self.delete_timeout,
        };
        down::down(&self.kube, scope, volumes, &Progress::new(sink), pace).await
    }

    async fn services(
        &self,
        instance: &InstanceId,
    ) -> EngineResult<BTreeMap<String, ObservedContainer>> {
        workloads::services(&self.kube, instance).await
    }

    async fn has_remains(&self, instance: &InstanceId) -> EngineResult<bool> {
        workloads::has_remains(&self.kube, instance).await
    }

    async fn instances(&self) -> EngineResult<Vec<FoundInstance>> {
        workloads::instances(&self.kube).await
    }

    async fn leases(&self, filter: LabelFilter) -> EngineResult<Vec<Lease>> {
        leases::leases(&self.kube, &filter).await
    }

    async fn renew_lease(
        &self,
        instance: &InstanceId,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> EngineResult<Option<Lease>> {
        leases::renew(&self.kube, instance, ttl, now).await
    }

    async fn check_ready(
        &self,
        workload: &ObservedContainer,
        plan: &Plan,
        target: &ServiceTarget,
        registry: &[crate::dubbo::registry::Candidate],
    ) -> Result<(), NotReady> {
        let ns = workloads::namespace_of(workload);
        let pod = match self.kube.get(&POD, Some(&ns), &workload.id).await {
            Ok(Some(pod)) => pod,
            Ok(None) => return Err(NotReady(format!("pod {} is gone", workload.id))),
            Err(err) => return Err(NotReady(err.to_string())),
        };
        // The plan's ports are the node ports as `status` just observed them.
        let registry = [
            crate::plan::registry_candidates(&plan.services),
            registry.to_vec(),
        ]
        .concat();
        let reach = protocol_probe::Reach {
            published_at: self.host.local,
            registry: &registry,
        };
        protocol_probe::check_protocol_probe(&self.kube, target, &pod, reach).await
    }

    async fn logs(&self, workload: &ObservedContainer, tail: usize) -> EngineResult<Vec<String>> {
        let ns = workloads::namespace_of(workload);
        self.kube.logs(&ns, &workload.id, tail, false).await
    }

    fn follow_logs(
        &self,
        workload: &ObservedContainer,
        tail: usize,
    ) -> BoxStream<'static, EngineResult<String>> {
        let ns = workloads::namespace_of(workload);
        pod_io::follow_logs(self.kube.client(), &ns, &workload.id, tail)
    }

    /// Deletes the pod; its Deployment starts a new one (done when that one runs).
    async fn restart(&self, workload: &ObservedContainer, grace: Duration) -> EngineResult<()> {
        let ns = workloads::namespace_of(workload);
        pod_io::restart(self.kube.client(), &ns, &workload.id, grace).await
    }

    /// A watch on the matching pods in every namespace.
    fn changes(&self, filter: &LabelFilter) -> BoxStream<'static, ()> {
        pod_io::changes(self.kube.client(), &pod_io::label_selector(filter))
    }

    /// The Lease `envctl-lock` in the instance's namespace: machines sharing a cluster
    /// serialise `up`/`down` of one instance through it.
    async fn try_lock(&self, instance: &InstanceId, holder: &str) -> EngineResult<LockAttempt> {
        pod_io::try_lock(self.kube.client(), instance, holder).await
    }

    /// Releases the lock, and removes the namespace `try_lock` made for it when nothing was
    /// ever applied there (an `up` refused before its first write leaves nothing behind).
    async fn unlock(&self, lock: EngineLock) -> EngineResult<()> {
        let namespace = lock.name.split('/').next().unwrap_or_default().to_string();
        pod_io::unlock(self.kube.client(), lock).await?;
        down::remove_if_never_applied(&self.kube, &namespace).await
    }

    /// Unbounded, as on Docker: the command runs as long as it takes.
    async fn exec(
        &self,
        workload: &ObservedContainer,
        command: &[String],
    ) -> EngineResult<ExecOutput> {
        let ns = workloads::namespace_of(workload);
        pod_io::exec(self.kube.client(), &ns, &workload.id, command).await
    }

    async fn snapshot_save(
        &self,
        _req: &SaveRequest,
        _progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Snapshot, SnapshotError> {
        Err(self.unsupported("snapshot save").into())
    }

    async fn snapshots(&self) -> Result<Vec<Snapshot>, SnapshotError> {
        Err(self.unsupported("snapshots").into())
    }

    async fn snapshot_remove(&self, _name: &str) -> Result<Snapshot, SnapshotError> {
        Err(self.unsupported("snapshot rm").into())
    }

    async fn snapshot_restore(
        &self,
        _name: &str,
        _env: &Environment,
        _now: &str,
        _progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<RestoreReport, SnapshotError> {
        Err(self.unsupported("up --from-snapshot").into())
    }
}

#[cfg(test)]
mod pod_io_tests;
#[cfg(test)]
mod tests;
