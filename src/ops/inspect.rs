//! The read-only use cases: `status`, `ls` and `ports`, from labels (and, for `status`, the
//! definition when it loads).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use crate::backend::{Backend, OwnershipError};
use crate::engine::{EngineError, EngineResult, LabelFilter, ObservedContainer};
use crate::lifetime::{self, Lease};
use crate::model::{labels, Environment, InstanceId};
use crate::plan::ports::decode_label;
use crate::plan::{Plan, PlanInputs};

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("instance {instance} does not exist on this engine (not up, or removed); `envctl ls` lists the instances")]
    NotFound { instance: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
}

/// The containers of an instance that exists: one with no container, network or lease is an
/// error, so a typo is never reported as an empty instance.
pub async fn existing_instance(
    backend: &dyn Backend,
    instance: &InstanceId,
) -> Result<BTreeMap<String, ObservedContainer>, InspectError> {
    backend.verify_owner(instance).await?;
    let containers = backend.services(instance).await?;
    if containers.is_empty() && !backend.has_remains(instance).await? {
        return Err(InspectError::NotFound {
            instance: instance.to_string(),
        });
    }
    Ok(containers)
}

/// One service in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub container: String,
    pub state: String,
    pub ready: bool,
    /// What `up` would do to it, when the definition is known (`create`, `recreate`, ...).
    pub pending: Option<String>,
    /// `host->container/proto`.
    pub ports: Vec<String>,
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub instance: String,
    /// Set for an overlay: its base instance and tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<super::overlays::OverlayOf>,
    /// Whether `up` would change nothing (unknown without the definition).
    pub converged: Option<bool>,
    pub expires_at: Option<String>,
    pub services: Vec<ServiceStatus>,
    #[serde(skip)]
    pub lease: Option<Lease>,
}

/// The status of an instance; `env` is its definition when it loads (readiness is then
/// checked with each service's own health check, once, and pending changes are shown).
pub async fn status(
    backend: &dyn Backend,
    instance: &InstanceId,
    env: Option<&Environment>,
    inputs: &PlanInputs<'_>,
) -> Result<Status, InspectError> {
    let containers = existing_instance(backend, instance).await?;
    let overlay = super::overlays::read(&containers);
    // An overlay's definition is the environment narrowed to the services it runs.
    let env = match (env, &overlay) {
        (Some(env), Some(overlay)) => super::overlays::narrow(env, overlay, &containers),
        (env, _) => env.cloned(),
    };
    let env = env.as_ref();
    let plan = match env {
        Some(env) => backend.plan(env, inputs).await.ok(),
        None => None,
    };
    let base = match &overlay {
        Some(o) => match InstanceId::new(instance.env(), o.base_feature(instance.env())) {
            Ok(base) => backend.services(&base).await?,
            Err(_) => BTreeMap::new(),
        },
        None => BTreeMap::new(),
    };
    let registry =
        crate::dubbo::registry::from_containers(containers.values().chain(base.values()), env);
    let ready = readiness(backend, &containers, plan.as_ref(), &registry).await;
    let mut services: Vec<ServiceStatus> = containers
        .iter()
        .map(|(service, c)| ServiceStatus {
            service: service.clone(),
            container: c.name.clone(),
            state: super::state_word(c.state),
            ready: ready.get(service).copied().unwrap_or(false),
            pending: pending(plan.as_ref(), service),
            ports: host_ports(c)
                .iter()
                .map(|((container, proto), host)| format!("{host}->{container}/{}", proto.as_str()))
                .collect(),
            image: c.image.clone(),
        })
        .collect();
    if let Some(plan) = &plan {
        for target in plan.services.iter() {
            if !containers.contains_key(target.name.as_str()) {
                services.push(ServiceStatus {
                    service: target.name.to_string(),
                    container: target.container_name.clone(),
                    state: "missing".into(),
                    ready: false,
                    pending: pending(Some(plan), target.name.as_str()),
                    ports: Vec::new(),
                    image: target.image.clone(),
                });
            }
        }
    }
    let lease = backend
        .leases(LabelFilter::instance(instance.as_str()))
        .await?
        .into_iter()
        .next();
    Ok(Status {
        overlay,
        instance: instance.to_string(),
        converged: plan.as_ref().map(Plan::is_empty),
        expires_at: lease.as_ref().map(|l| lifetime::format_time(l.expires_at)),
        services,
        lease,
    })
}

/// The host ports a container's labels record (kept while it is stopped).
fn host_ports(c: &ObservedContainer) -> Vec<((u16, crate::model::Protocol), u16)> {
    c.labels
        .get(labels::PORTS)
        .map(|l| decode_label(l))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Readiness per service: its health check when the definition is known, else its state.
async fn readiness(
    backend: &dyn Backend,
    containers: &BTreeMap<String, ObservedContainer>,
    plan: Option<&Plan>,
    registry: &[crate::dubbo::registry::Candidate],
) -> BTreeMap<String, bool> {
    let checks = containers.iter().map(|(service, c)| async move {
        let checked = plan.and_then(|p| {
            let target = p.service(service)?;
            target.healthcheck.as_ref().map(|_| (p, target))
        });
        let ready = match checked {
            Some((plan, target)) if c.state.is_running() => {
                backend.check_ready(c, plan, target, registry).await.is_ok()
            }
            _ => c.ready_by_state(),
        };
        (service.clone(), ready)
    });
    join_all(checks).await.into_iter().collect()
}

fn pending(plan: Option<&Plan>, service: &str) -> Option<String> {
    plan?
        .actions
        .iter()
        .find(|a| a.service().map(|s| s.as_str()) == Some(service))
        .map(|a| {
            let s = a.summary();
            format!("{} ({})", s.action, s.reason)
        })
}

/// One instance in `ls`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstanceSummary {
    pub instance: String,
    pub env: String,
    pub feature: String,
    pub ready: usize,
    pub total: usize,
    /// Unix seconds of the oldest resource.
    pub created: i64,
    pub age: String,
    /// RFC 3339, when the instance has a lifetime (`up --ttl`).
    pub expires_at: Option<String>,
    /// Time left (`2h`), `expired`, or `-` without a lifetime.
    pub expires: String,
    /// Who made it (`user@host`), when recorded.
    pub owner: Option<String>,
    /// An overlay's base instance and tag (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Every instance: from its workloads, else its network, else its lease.
pub async fn list(backend: &dyn Backend) -> EngineResult<Vec<InstanceSummary>> {
    let mut instances: BTreeMap<String, InstanceSummary> = backend
        .instances()
        .await?
        .into_iter()
        .map(|found| {
            let summary = InstanceSummary {
                instance: found.owner.instance.clone(),
                env: found.owner.env,
                feature: found.owner.feature.unwrap_or_default(),
                ready: found.ready,
                total: found.services,
                created: found.created,
                owner: found.owned_by,
                base: found.owner.base,
                tag: found.owner.tag,
                ..InstanceSummary::default()
            };
            (found.owner.instance, summary)
        })
        .collect();
    // A lease alone (an up interrupted before creating anything) still names an instance.
    let now = chrono::Utc::now();
    for lease in backend.leases(LabelFilter::envctl()).await? {
        let entry = instances
            .entry(lease.instance.clone())
            .or_insert_with(|| InstanceSummary {
                instance: lease.instance.clone(),
                env: lease.env.clone(),
                feature: lease.feature.clone(),
                created: now.timestamp(),
                ..InstanceSummary::default()
            });
        entry.expires_at = Some(lifetime::format_time(lease.expires_at));
        entry.expires = lifetime::remaining(lease.expires_at, now);
    }
    for i in instances.values_mut() {
        i.age = age(i.created);
        if i.expires.is_empty() {
            i.expires = "-".into();
        }
    }
    Ok(instances.into_values().collect())
}

/// How long ago a unix timestamp was, compactly (`3m`, `2h`, `4d`).
pub fn age(created_unix: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let secs = (now - created_unix).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// One published port in `ports`.
#[derive(Debug, Clone, Serialize)]
pub struct PortRow {
    pub service: String,
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: &'static str,
    /// `ADDR:PORT` as this machine dials it (the engine host's address for a remote engine).
    pub address: String,
}

/// The host ports of an instance's services (from their labels, so stopped containers show
/// the ports they will get back).
pub async fn ports(
    backend: &dyn Backend,
    instance: &InstanceId,
) -> Result<Vec<PortRow>, InspectError> {
    let containers = existing_instance(backend, instance).await?;
    let at = backend.host_address();
    Ok(containers
        .iter()
        .flat_map(|(service, c)| {
            host_ports(c)
                .into_iter()
                .map(move |((container, proto), host)| PortRow {
                    service: service.clone(),
                    container_port: container,
                    host_port: host,
                    protocol: proto.as_str(),
                    address: at.local_socket(host).to_string(),
                })
        })
        .collect())
}
