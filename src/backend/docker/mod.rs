//! The Docker backend: instances as labelled containers, a network and volumes on a container
//! engine (`engine::Engine`; the in-memory fake in unit tests). Planning is `plan`, converging
//! and removing are `apply`, lifetimes are lease volumes (`lifetime`); this file only wires
//! them to the `Backend` trait.

mod engine_lock;
mod instances;
mod ownership;
mod remote_ports;

use crate::snapshot::{self, RestoreReport, SaveRequest, Snapshot, SnapshotError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

use super::{Backend, EngineLock, FoundInstance, HostAddress, LockAttempt, OwnershipError};
use crate::apply::{
    self, ApplyOptions, DownReport, DownScope, EventSink, Interrupt, NotReady, Reach, UpError,
    UpOutcome,
};
use crate::engine::{
    Engine, EngineResult, ExecOutput, LabelFilter, ObservedContainer, ProgressSink,
};
use crate::lifetime::{self, Lease};
use crate::model::{Environment, InstanceId};
use crate::plan::{self, Plan, PlanInputs, ServiceTarget};

/// How long an engine lock holds without its holder: longer than `up` waits for readiness by
/// default, so a live `up` keeps it; a crashed one frees it after this.
const ENGINE_LOCK_LEASE: Duration = Duration::from_secs(30 * 60);

/// A `Backend` over a container engine.
pub struct DockerBackend {
    engine: Arc<dyn Engine>,
    host: HostAddress,
}

impl DockerBackend {
    /// `host` is where the engine's published ports are dialled (`backend::host_address`).
    pub fn new(engine: Arc<dyn Engine>, host: HostAddress) -> Self {
        Self { engine, host }
    }

    /// Whether the engine runs on another machine: its host ports cannot be checked by
    /// binding them here.
    fn is_remote(&self) -> bool {
        !self.host.local.is_loopback()
    }

    /// Planning inputs for a remote engine: its free ports, and where its containers reach
    /// a `--local` service (refused when they cannot).
    fn remote_inputs<'a>(
        &self,
        env: &Environment,
        inputs: &PlanInputs<'a>,
        free: &'a (dyn Fn(u16, crate::model::Protocol) -> bool + Sync),
    ) -> Result<PlanInputs<'a>, UpError> {
        let mut inputs = inputs.with_host_free(free);
        if !env.local.is_empty() {
            let here = remote_ports::reach_back(self.host.local).map_err(|reason| {
                UpError::LocalUnreachable {
                    services: env.local.keys().cloned().collect::<Vec<_>>().join(", "),
                    engine: self.host.local.to_string(),
                    reason,
                }
            })?;
            inputs.local_reach = here.to_string();
        }
        Ok(inputs)
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn host_address(&self) -> &HostAddress {
        &self.host
    }

    fn reach_back(&self) -> Option<std::net::IpAddr> {
        if !self.is_remote() {
            return None;
        }
        remote_ports::reach_back(self.host.local).ok()
    }

    async fn try_lock(&self, instance: &InstanceId, holder: &str) -> EngineResult<LockAttempt> {
        if !self.is_remote() {
            return Ok(LockAttempt::NotNeeded);
        }
        engine_lock::try_lock(self.engine.as_ref(), instance, holder, ENGINE_LOCK_LEASE).await
    }

    async fn unlock(&self, lock: EngineLock) -> EngineResult<()> {
        engine_lock::unlock(self.engine.as_ref(), lock).await
    }

    async fn verify_owner(&self, instance: &InstanceId) -> Result<(), OwnershipError> {
        ownership::verify(self.engine.as_ref(), instance).await
    }

    async fn plan(&self, env: &Environment, inputs: &PlanInputs<'_>) -> Result<Plan, UpError> {
        let observed = plan::observe(self.engine.as_ref(), env).await?;
        if !self.is_remote() {
            return Ok(plan::plan(env, &observed, inputs)?);
        }
        let busy = remote_ports::published(self.engine.as_ref()).await?;
        let free = |port, protocol| !busy.contains(&(port, protocol));
        let inputs = self.remote_inputs(env, inputs, &free)?;
        Ok(plan::plan(env, &observed, &inputs)?)
    }

    async fn up(
        &self,
        env: &Environment,
        inputs: &PlanInputs<'_>,
        opts: &ApplyOptions,
        sink: EventSink,
        interrupt: Interrupt,
    ) -> Result<UpOutcome, UpError> {
        // Probes dial published ports where this backend publishes them.
        let opts = ApplyOptions {
            published_at: self.host.local,
            ..opts.clone()
        };
        if !self.is_remote() {
            return apply::up_until(self.engine.clone(), env, inputs, &opts, sink, interrupt).await;
        }
        let busy = remote_ports::published(self.engine.as_ref()).await?;
        let free = |port, protocol| !busy.contains(&(port, protocol));
        let inputs = self.remote_inputs(env, inputs, &free)?;
        let fetching = std::time::Instant::now();
        apply::fetch_missing_images(self.engine.as_ref(), env, &sink, &interrupt).await?;
        // `apply` times its events from its own start: they go on from the fetch's instead.
        let fetched_in = fetching.elapsed();
        let sink: EventSink = Arc::new(move |mut event| {
            event.elapsed += fetched_in;
            sink(event)
        });
        apply::up_until(self.engine.clone(), env, &inputs, &opts, sink, interrupt).await
    }

    async fn pull(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        self.engine.pull_image(image, progress).await
    }

    async fn down(
        &self,
        scope: &DownScope,
        volumes: bool,
        sink: EventSink,
    ) -> EngineResult<DownReport> {
        apply::down(self.engine.clone(), scope, volumes, sink).await
    }

    async fn services(
        &self,
        instance: &InstanceId,
    ) -> EngineResult<BTreeMap<String, ObservedContainer>> {
        instances::containers(self.engine.as_ref(), instance).await
    }

    async fn has_remains(&self, instance: &InstanceId) -> EngineResult<bool> {
        let filter = LabelFilter::instance(instance.as_str());
        let networks = self.engine.list_networks(&filter).await?;
        Ok(!networks.is_empty() || !self.leases(filter).await?.is_empty())
    }

    async fn instances(&self) -> EngineResult<Vec<FoundInstance>> {
        instances::all(self.engine.as_ref()).await
    }

    async fn leases(&self, filter: LabelFilter) -> EngineResult<Vec<Lease>> {
        lifetime::leases(self.engine.as_ref(), filter).await
    }

    async fn renew_lease(
        &self,
        instance: &InstanceId,
        ttl: Option<Duration>,
        now: DateTime<Utc>,
    ) -> EngineResult<Option<Lease>> {
        lifetime::renew_instance(self.engine.as_ref(), instance, ttl, now).await
    }

    async fn check_ready(
        &self,
        workload: &ObservedContainer,
        plan: &Plan,
        target: &ServiceTarget,
        registry: &[crate::dubbo::registry::Candidate],
    ) -> Result<(), NotReady> {
        let Some(hc) = &target.healthcheck else {
            return Err(NotReady(format!("{} has no health check", target.name)));
        };
        let reach = Reach {
            network: &plan.network,
            registry,
            published_at: self.host.local,
        };
        apply::check_once(self.engine.as_ref(), workload, reach, target, hc).await
    }

    async fn logs(&self, workload: &ObservedContainer, tail: usize) -> EngineResult<Vec<String>> {
        self.engine.logs(&workload.id, tail).await
    }

    fn follow_logs(
        &self,
        workload: &ObservedContainer,
        tail: usize,
    ) -> BoxStream<'static, EngineResult<String>> {
        self.engine.follow_logs(&workload.id, tail)
    }

    async fn restart(&self, workload: &ObservedContainer, grace: Duration) -> EngineResult<()> {
        if workload.state.is_running() {
            self.engine.stop_container(&workload.id, grace).await?;
        }
        self.engine.start_container(&workload.id).await
    }

    fn changes(&self, filter: &LabelFilter) -> BoxStream<'static, ()> {
        use futures_util::StreamExt;
        // An event stream that fails ends: the caller's periodic look takes over.
        self.engine
            .container_events(filter)
            .take_while(|event| std::future::ready(event.is_ok()))
            .map(|_| ())
            .boxed()
    }

    async fn exec(
        &self,
        workload: &ObservedContainer,
        command: &[String],
    ) -> EngineResult<ExecOutput> {
        self.engine.exec(&workload.id, command).await
    }

    async fn snapshot_save(
        &self,
        req: &SaveRequest,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Snapshot, SnapshotError> {
        snapshot::save(self.engine.as_ref(), req, progress).await
    }

    async fn snapshots(&self) -> Result<Vec<Snapshot>, SnapshotError> {
        snapshot::list(self.engine.as_ref()).await
    }

    async fn snapshot_remove(&self, name: &str) -> Result<Snapshot, SnapshotError> {
        snapshot::remove(self.engine.as_ref(), name).await
    }

    async fn snapshot_restore(
        &self,
        name: &str,
        env: &Environment,
        now: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<RestoreReport, SnapshotError> {
        snapshot::restore(self.engine.as_ref(), name, env, now, progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::engine::Labels;
    use crate::model::labels;

    #[tokio::test]
    async fn an_instance_whose_containers_are_gone_is_still_found_by_its_network() {
        let engine = Arc::new(FakeEngine::new());
        let owner = Labels::from([
            (labels::INSTANCE.to_string(), "left".to_string()),
            (labels::ENV.to_string(), "left".to_string()),
            (labels::FEATURE.to_string(), String::new()),
            (
                labels::CREATED.to_string(),
                "2026-01-02T03:04:05Z".to_string(),
            ),
        ]);
        engine.create_network("envctl-left", &owner).await.unwrap();
        let backend = DockerBackend::new(engine, HostAddress::local_engine(Some("10.0.0.5")));

        let found = backend.instances().await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].owner.instance, "left");
        assert_eq!((found[0].services, found[0].ready), (0, 0));
        assert_eq!(found[0].created, 1_767_323_045);

        let left = InstanceId::new("left", None).unwrap();
        assert!(backend.services(&left).await.unwrap().is_empty());
        assert!(backend.has_remains(&left).await.unwrap());
        let never = InstanceId::new("never", None).unwrap();
        assert!(!backend.has_remains(&never).await.unwrap());
        assert_eq!(backend.host_address().advertise, "10.0.0.5");
    }
}
