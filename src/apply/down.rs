//! `down`: removes exactly one instance (or every instance of an environment), by labels only,
//! so it works without the definition file. Containers go in parallel with a short stop timeout.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::engine::{Engine, EngineResult, LabelFilter, ObservedContainer};
use crate::model::labels;
use crate::plan::{SpecView, SPEC_LABEL};

use super::{EventSink, Failure, Phase, ServiceEvent};

/// How long a container with named volumes gets to stop before it is killed, so databases
/// can flush; containers without volumes hold nothing worth waiting for and are killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// What to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownScope {
    /// One instance (`<env>` or `<env>--<feature>`).
    Instance(String),
    /// Every instance of an environment, features included.
    AllOf { env: String },
}

impl DownScope {
    fn filter(&self) -> LabelFilter {
        match self {
            DownScope::Instance(instance) => LabelFilter::instance(instance),
            // The instance label too: nothing without it is ever removed.
            DownScope::AllOf { env } => LabelFilter(vec![
                labels::INSTANCE.to_string(),
                format!("{}={env}", labels::ENV),
            ]),
        }
    }
}

/// Whether the container mounts volumes, per the spec recorded in its labels (unknown: yes).
fn has_volumes(c: &ObservedContainer) -> bool {
    c.labels
        .get(SPEC_LABEL)
        .and_then(|json| SpecView::from_json(json))
        .is_none_or(|view| !view.volumes.is_empty())
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownReport {
    pub instances: BTreeSet<String>,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Named volumes left in place (no `--volumes`): their data survives for the next `up`.
    pub kept_volumes: Vec<String>,
    pub failures: Vec<Failure>,
    /// Removed from a Kubernetes cluster: its containers are workloads (Deployments, Jobs),
    /// its networks namespaces, its volumes PersistentVolumeClaims.
    pub on_cluster: bool,
}

impl DownReport {
    /// `N container(s), N network(s), N volume(s)`, in the words of where they were.
    pub fn summary(&self) -> String {
        let [containers, networks, volumes] = if self.on_cluster {
            ["workload(s)", "namespace(s)", "claim(s)"]
        } else {
            ["container(s)", "network(s)", "volume(s)"]
        };
        format!(
            "{} {containers}, {} {networks}, {} {volumes}",
            self.containers.len(),
            self.networks.len(),
            self.volumes.len()
        )
    }
}

/// Removes what `scope` selects: containers, then networks, then (with `volumes`) volumes.
pub async fn down(
    engine: Arc<dyn Engine>,
    scope: &DownScope,
    volumes: bool,
    sink: EventSink,
) -> EngineResult<DownReport> {
    let began = Instant::now();
    let filter = scope.filter();
    let emit = |service: String, phase| {
        sink(ServiceEvent {
            service,
            phase,
            elapsed: began.elapsed(),
        })
    };
    let mut report = DownReport::default();
    let containers = engine.list_containers(&filter).await?;
    for c in &containers {
        if let Some(instance) = c.labels.get(labels::INSTANCE) {
            report.instances.insert(instance.clone());
        }
    }
    let results = join_all(containers.iter().map(|c| {
        let engine = engine.clone();
        let emit = &emit;
        let service = c
            .labels
            .get(labels::SERVICE)
            .cloned()
            .unwrap_or_else(|| c.name.clone());
        async move {
            emit(service.clone(), Phase::Removing);
            if c.state.is_running() && has_volumes(c) {
                // A stop that fails is fine: the removal below kills what is left.
                let _ = engine.stop_container(&c.id, STOP_TIMEOUT).await;
            }
            let result = engine.remove_container(&c.id).await;
            match &result {
                Ok(()) => emit(service.clone(), Phase::Removed),
                Err(err) => emit(
                    service.clone(),
                    Phase::Failed {
                        reason: err.to_string(),
                        logs: Vec::new(),
                    },
                ),
            }
            (c.name.clone(), service, result)
        }
    }))
    .await;
    for (name, service, result) in results {
        match result {
            Ok(()) => report.containers.push(name),
            Err(err) => report.failures.push(Failure {
                service,
                reason: format!("removing container {name}: {err}"),
                logs: Vec::new(),
            }),
        }
    }

    for network in engine.list_networks(&filter).await? {
        if let Some(instance) = network.labels.get(labels::INSTANCE) {
            report.instances.insert(instance.clone());
        }
        let label = format!("network {}", network.name);
        match engine.remove_network(&network.id).await {
            Ok(()) => {
                emit(label, Phase::Removed);
                report.networks.push(network.name);
            }
            Err(err) => {
                emit(
                    label.clone(),
                    Phase::Failed {
                        reason: err.to_string(),
                        logs: Vec::new(),
                    },
                );
                report.failures.push(Failure {
                    service: label,
                    reason: err.to_string(),
                    logs: Vec::new(),
                });
            }
        }
    }

    // The lease (lifetime) goes with the instance, whatever happens to its data volumes.
    for lease in crate::lifetime::leases(engine.as_ref(), filter.clone()).await? {
        report.instances.insert(lease.instance);
    }
    if let Err(err) = crate::lifetime::remove_leases(engine.as_ref(), filter.clone()).await {
        report.failures.push(Failure {
            service: "lease".into(),
            reason: err.to_string(),
            logs: Vec::new(),
        });
    }

    for volume in engine.list_volumes(&filter).await? {
        if volume.labels.contains_key(crate::lifetime::LEASE_LABEL) {
            continue;
        }
        if !volumes {
            report.kept_volumes.push(volume.name);
            continue;
        }
        let label = format!("volume {}", volume.name);
        match engine.remove_volume(&volume.name).await {
            Ok(()) => {
                emit(label, Phase::Removed);
                report.volumes.push(volume.name);
            }
            Err(err) => report.failures.push(Failure {
                service: label,
                reason: err.to_string(),
                logs: Vec::new(),
            }),
        }
    }
    Ok(report)
}
