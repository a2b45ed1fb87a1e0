//! The read-only use cases: `status`, `ls` and `ports`, from labels (and, for `status`, the
//! definition when it loads).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use crate::apply::{self, Reach};
use crate::engine::{Engine, EngineError, EngineResult, LabelFilter, ObservedContainer};
use crate::lifetime::{self, Lease};
use crate::model::{labels, Environment, InstanceId};
use crate::plan::ports::decode_label;
use crate::plan::{self, Plan, PlanInputs};

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("instance {instance} does not exist on this engine (not up, or removed); `envctl ls` lists the instances")]
    NotFound { instance: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ownership(#[from] super::ownership::OwnershipError),
}

/// The containers of an instance that exists: one with no container, network or lease is an
/// error, so a typo is never reported as an empty instance.
pub async fn existing_instance(
    engine: &dyn Engine,
    instance: &InstanceId,
) -> Result<BTreeMap<String, ObservedContainer>, InspectError> {
    super::ownership::verify(engine, instance).await?;
    let containers = super::instance_containers(engine, instance).await?;
    if containers.is_empty() {
        let filter = LabelFilter::instance(instance.as_str());
        let networks = engine.list_networks(&filter).await?;
        let leases = lifetime::leases(engine, filter).await?;
        if networks.is_empty() && leases.is_empty() {
            return Err(InspectError::NotFound {
                instance: instance.to_string(),
            });
        }
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
    engine: &dyn Engine,
    instance: &InstanceId,
    env: Option<&Environment>,
    inputs: &PlanInputs<'_>,
) -> Result<Status, InspectError> {
    let containers = existing_instance(engine, instance).await?;
    let plan = match env {
        Some(env) => match plan::observe(engine, env).await {
            Ok(observed) => plan::plan(env, &observed, inputs).ok(),
            Err(_) => None,
        },
        None => None,
    };
    let registry = crate::dubbo::registry::locate(&crate::dubbo::registry::from_containers(
        containers.values(),
        env,
    ))
    .map(|(_, address)| address);
    let ready = readiness(engine, &containers, plan.as_ref(), registry).await;
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
    let lease = lifetime::leases(engine, LabelFilter::instance(instance.as_str()))
        .await?
        .into_iter()
        .next();
    Ok(Status {
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
    engine: &dyn Engine,
    containers: &BTreeMap<String, ObservedContainer>,
    plan: Option<&Plan>,
    registry: Option<std::net::SocketAddr>,
) -> BTreeMap<String, bool> {
    let checks = containers.iter().map(|(service, c)| async move {
        let target = plan.and_then(|p| p.service(service));
        let ready = match target.and_then(|t| t.healthcheck.as_ref().map(|hc| (t, hc))) {
            Some((target, hc)) if c.state.is_running() => {
                let reach = Reach {
                    network: plan.map(|p| p.network.as_str()).unwrap_or_default(),
                    registry,
                };
                apply::check_once(engine, c, reach, target, hc)
                    .await
                    .is_ok()
            }
            _ => super::ready_by_state(c),
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
}

/// Every instance on the engine: from its containers, else its network, else its lease.
pub async fn list(engine: &dyn Engine) -> EngineResult<Vec<InstanceSummary>> {
    let mut instances: BTreeMap<String, InstanceSummary> = BTreeMap::new();
    let summary = |owner: &labels::Ownership, created: i64| InstanceSummary {
        instance: owner.instance.clone(),
        env: owner.env.clone(),
        feature: owner.feature.clone().unwrap_or_default(),
        created,
        ..InstanceSummary::default()
    };
    for c in engine.list_containers(&LabelFilter::envctl()).await? {
        let Some(owner) = labels::Ownership::read(&c.labels) else {
            continue;
        };
        let entry = instances
            .entry(owner.instance.clone())
            .or_insert_with(|| summary(&owner, c.created));
        entry.total += 1;
        entry.ready += usize::from(super::ready_by_state(&c));
        entry.created = entry.created.min(c.created);
    }
    // An instance whose containers are gone may still hold its network.
    for n in engine.list_networks(&LabelFilter::envctl()).await? {
        let Some(owner) = labels::Ownership::read(&n.labels) else {
            continue;
        };
        let created = chrono::DateTime::parse_from_rfc3339(
            n.labels
                .get(labels::CREATED)
                .map(String::as_str)
                .unwrap_or(""),
        )
        .map(|t| t.timestamp())
        .unwrap_or_else(|_| chrono::Utc::now().timestamp());
        instances
            .entry(owner.instance.clone())
            .or_insert_with(|| summary(&owner, created));
    }
    // A lease alone (an up interrupted before creating anything) still names an instance.
    let now = chrono::Utc::now();
    for lease in lifetime::leases(engine, LabelFilter::envctl()).await? {
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
}

/// The host ports of an instance's services (from their labels, so stopped containers show
/// the ports they will get back).
pub async fn ports(
    engine: &dyn Engine,
    instance: &InstanceId,
) -> Result<Vec<PortRow>, InspectError> {
    let containers = existing_instance(engine, instance).await?;
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
                })
        })
        .collect())
}
