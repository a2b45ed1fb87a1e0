//! The `up` use case: lock the instance, plan and apply, renew its lifetime, and say what an
//! interruption left behind or what a `--local` service needs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::apply::{
    ApplyOptions, ApplyReport, EventSink, ImageReporter, Interrupt, Phase, UpError,
};
use crate::backend::{Backend, OwnershipError};
use crate::engine::EngineError;
use crate::lifetime::{self, Lease};
use crate::local::LocalSettings;
use crate::lock::{self, LockError, WaitPolicy};
use crate::model::{Environment, Protocol};
use crate::plan::{Plan, PlanInputs};

/// What `up` was asked for, beyond the environment.
pub struct UpRequest<'a> {
    pub apply: ApplyOptions,
    pub lock: WaitPolicy,
    /// `--ttl`, when given.
    pub ttl: Option<Duration>,
    /// `--pull`: pull every image that is not built before planning.
    pub pull: bool,
    pub inputs: &'a PlanInputs<'a>,
    pub interrupt: Interrupt,
    /// `--from-snapshot`: fill the new instance's volumes from this snapshot first.
    pub from_snapshot: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpUseCaseError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Up(#[from] UpError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("up --pull: cannot pull image {image}: {reason}; nothing was changed (without --pull, envctl uses the local image)")]
    Pull { image: String, reason: String },
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("--from-snapshot: {0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
}

/// What `up` achieved.
#[derive(Debug)]
pub struct UpResult {
    pub plan: Plan,
    pub report: ApplyReport,
    pub elapsed: Duration,
    pub lease: Option<Lease>,
    /// The settings of each `--local` service.
    pub local: Vec<LocalSettings>,
    /// When interrupted: the state of each service (`running`, `not created`, ...).
    pub interrupted: Option<BTreeMap<String, String>>,
    /// With `--from-snapshot`: what was filled, and how the snapshot differs.
    pub restored: Option<crate::snapshot::RestoreReport>,
}

/// Runs `up` for `env`; `on_lock_wait` hears once who holds the instance when it must wait.
pub async fn up(
    backend: &dyn Backend,
    env: &Environment,
    request: UpRequest<'_>,
    sink: EventSink,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<UpResult, UpUseCaseError> {
    let began = Instant::now();
    // An overlay holds its base's lock too (base first), so the base cannot go down meanwhile.
    let mut order: Vec<&crate::model::InstanceId> = env.overlay.iter().map(|o| &o.base).collect();
    order.push(&env.instance);
    let held =
        super::instance_locks::acquire(backend, &order, "up", request.lock, on_lock_wait).await?;
    let ports = pinned_port_locks(env, request.lock, on_lock_wait);
    let result = match ports {
        Ok(_ports) => up_locked(backend, env, request, sink, began).await,
        Err(err) => Err(err.into()),
    };
    super::instance_locks::release(backend, held).await;
    result
}

/// `up` once every lock is held.
async fn up_locked(
    backend: &dyn Backend,
    env: &Environment,
    request: UpRequest<'_>,
    sink: EventSink,
    began: Instant,
) -> Result<UpResult, UpUseCaseError> {
    // Before anything is planned: objects with this instance's label but another env/feature.
    backend.verify_owner(&env.instance).await?;
    let mut request = request;
    if let Some(overlay) = &env.overlay {
        // Its providers register in the base's ZooKeeper: their probes read it there.
        let base = backend.services(&overlay.base).await?;
        request.apply.registry_beyond =
            crate::dubbo::registry::from_containers(base.values(), None);
    }
    if request.pull {
        pull_all(backend, env, &sink, began).await?;
    }
    // Under the lock and before anything starts: the services find their data in place.
    let restored = match &request.from_snapshot {
        Some(name) => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let progress = |step: String| {
                (sink)(crate::apply::ServiceEvent {
                    service: format!("snapshot {name}"),
                    phase: crate::apply::Phase::Waiting { reason: step },
                    elapsed: began.elapsed(),
                })
            };
            Some(backend.snapshot_restore(name, env, &now, &progress).await?)
        }
        None => None,
    };
    let outcome = backend
        .up(
            env,
            request.inputs,
            &request.apply,
            sink,
            request.interrupt.clone(),
        )
        .await?;
    // Renewed once something may exist (also after a failed or interrupted apply); a plan
    // that failed changed nothing, the lifetime included.
    let ttl = lifetime::requested_ttl(env, request.ttl);
    let lease = backend
        .renew_lease(&env.instance, ttl, chrono::Utc::now())
        .await?;
    let interrupted = if request.interrupt.is_set() {
        Some(left_behind(backend, env, &outcome.plan).await)
    } else {
        None
    };
    Ok(UpResult {
        local: local_settings(
            env,
            &outcome.plan,
            backend.host_address().local,
            backend.reach_back(),
        ),
        plan: outcome.plan,
        report: outcome.report,
        elapsed: began.elapsed(),
        lease,
        interrupted,
        restored,
    })
}

/// Pulls every image the environment runs and does not build, before anything is planned:
/// the plan then sees the new image IDs and recreates what runs an older one. Each pull's
/// progress goes to the services using the image, as `apply`'s pulls do.
async fn pull_all(
    backend: &dyn Backend,
    env: &Environment,
    sink: &EventSink,
    began: Instant,
) -> Result<(), UpUseCaseError> {
    let began = tokio::time::Instant::from_std(began);
    let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for service in env.services.values().filter(|s| s.build.is_none()) {
        users
            .entry(service.image.as_str())
            .or_default()
            .push(service.name.to_string());
    }
    let built: std::collections::BTreeSet<&str> = env
        .services
        .values()
        .filter(|s| s.build.is_some())
        .map(|s| s.image.as_str())
        .collect();
    users.retain(|image, _| !built.contains(image));
    let pulls = users.into_iter().map(|(image, users)| async move {
        let reporter = ImageReporter::new(image, users, sink.clone(), began);
        reporter.emit(Phase::Pulling {
            image: image.to_string(),
            progress: "starting (--pull)".into(),
        });
        let result = backend.pull(image, &|p| reporter.progress(p)).await;
        reporter.finish();
        result.map_err(|e| UpUseCaseError::Pull {
            image: image.to_string(),
            reason: match e {
                EngineError::Pull { reason, .. } => reason,
                other => other.to_string(),
            },
        })
    });
    futures_util::future::join_all(pulls)
        .await
        .into_iter()
        .collect()
}

/// Locks on every pinned host port of `env`, taken in one order (sorted) so two instances
/// pinning the same ports cannot deadlock. Held until `up` ends (see `lock::acquire_port`).
fn pinned_port_locks(
    env: &Environment,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<Vec<lock::InstanceLock>, LockError> {
    let pinned: std::collections::BTreeSet<(u16, &str)> = env
        .services
        .values()
        .flat_map(|s| &s.ports)
        .filter_map(|p| p.host.map(|host| (host, p.protocol.as_str())))
        .collect();
    let command = format!("up {}", env.instance);
    pinned
        .into_iter()
        .map(|(port, protocol)| {
            lock::acquire_port(port, protocol, &command, policy, &mut |holder: &str| {
                on_wait(&format!("pinned host port {port}/{protocol} is {holder}"))
            })
        })
        .collect()
}

/// The state of each planned service after an interruption.
async fn left_behind(
    backend: &dyn Backend,
    env: &Environment,
    plan: &Plan,
) -> BTreeMap<String, String> {
    let containers = backend.services(&env.instance).await.unwrap_or_default();
    plan.services
        .iter()
        .map(|s| {
            let state = containers
                .get(s.name.as_str())
                .map(|c| super::state_word(c.state))
                .unwrap_or_else(|| "not created".into());
            (s.name.to_string(), state)
        })
        .collect()
}

/// What the developer needs to run each `--local` service against this instance.
fn local_settings(
    env: &Environment,
    plan: &Plan,
    local: IpAddr,
    this_machine: Option<IpAddr>,
) -> Vec<LocalSettings> {
    let host_ports: crate::local::HostPorts = plan
        .services
        .iter()
        .map(|s| {
            let tcp = s
                .ports
                .iter()
                .filter(|((_, proto), _)| *proto == Protocol::Tcp)
                .map(|((container, _), host)| (*container, *host))
                .collect();
            (s.name.to_string(), tcp)
        })
        .collect();
    env.local
        .values()
        .map(|service| crate::local::settings(service, &host_ports, local, this_machine))
        .collect()
}
