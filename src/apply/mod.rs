//! Runs a `Plan` against an engine: concurrently, in dependency order, waiting for readiness.
//!
//! Every service gets a task. A task waits until each of its dependencies meets its condition
//! (started, healthy, completed), then creates/starts its container and, when someone waits on
//! it, checks readiness. Images are pulled or built once each, concurrently, from the start.
//! A failure stops the failed service's dependents; independent work goes on. Nothing here
//! prints: progress goes to an `EventSink`.

mod container;
mod down;
pub mod events;
mod fetch;
mod image_progress;
mod images;
mod interrupt;
mod pull_progress;
mod readiness;
mod seed;
mod seed_archive;
mod up;

pub use down::{down, DownReport, DownScope};
pub use events::{discard, EventSink, Phase, ServiceEvent};
pub use fetch::fetch_missing_images;
pub use image_progress::ImageReporter;
pub use interrupt::{Interrupt, InterruptTrigger, INTERRUPTED};
pub use readiness::{check_once, NotReady, Reach, DEFAULT_WAIT_TIMEOUT};
pub use up::{up, up_until, UpError, UpOutcome, PORT_RETRIES};

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::{ContainerState, Engine};
use crate::model::{Condition, ServiceKind};
use crate::plan::{Action, Plan, ServiceTarget};

/// How `apply` runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Wait for every service to be ready (false: only for what dependents need).
    pub wait: bool,
    /// Overall bound on waiting, from the start of `apply`.
    pub wait_timeout: Duration,
    /// Do not wait at all (`--wait-timeout 0`): make the changes, then look once at each
    /// service; one not ready yet is reported pending, not failed.
    pub check_once: bool,
    /// Where this machine dials published ports, for probes (the backend's
    /// `HostAddress::local`; loopback for a local engine).
    pub published_at: IpAddr,
    /// Services whose `init:` steps run again although their volume was seeded
    /// (`up --reseed`).
    pub reseed: BTreeSet<String>,
    /// Registry candidates beyond the plan's (an overlay's base's services).
    pub registry_beyond: Vec<crate::dubbo::registry::Candidate>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            wait: true,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            check_once: false,
            published_at: IpAddr::from([127, 0, 0, 1]),
            reseed: BTreeSet::new(),
            registry_beyond: Vec::new(),
        }
    }
}

/// A service (or resource) that did not reach its goal.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub service: String,
    pub reason: String,
    /// Its last log lines, when it had a container.
    pub logs: Vec<String>,
}

/// What `apply` achieved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    pub failures: Vec<Failure>,
    /// With `check_once`: services up but not shown ready, and why (`starting`, ...).
    pub pending: BTreeMap<String, String>,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// How many log lines a failure shows.
pub const FAILURE_LOG_LINES: usize = 20;

/// Where a service is, as its dependents see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Started,
    Healthy,
    Completed,
    Failed,
}

impl Status {
    fn satisfies(self, condition: Condition) -> bool {
        match condition {
            Condition::Started => {
                matches!(self, Status::Started | Status::Healthy | Status::Completed)
            }
            Condition::Healthy => matches!(self, Status::Healthy | Status::Completed),
            Condition::Completed => self == Status::Completed,
        }
    }
}

use container::{converge_container, create_early};
use images::{start_images, ImageResult};

struct Ctx {
    engine: Arc<dyn Engine>,
    reporter: Reporter,
    deadline: Instant,
    network: String,
    statuses: BTreeMap<String, watch::Receiver<Status>>,
    images: BTreeMap<String, watch::Receiver<ImageResult>>,
    /// Services whose readiness is waited for.
    waited: BTreeSet<String>,
    /// The instance's ZooKeeper as reachable from the host, for dubbo probes.
    /// What dubbo probes may use as their registry (see `crate::dubbo::registry`).
    registry: Vec<crate::dubbo::registry::Candidate>,
    /// Where published ports are dialled from here.
    published_at: IpAddr,
    failures: Mutex<Vec<Failure>>,
    /// Look once instead of waiting (`--wait-timeout 0`).
    check_once: bool,
    pending: Mutex<BTreeMap<String, String>>,
    interrupt: Interrupt,
    /// `up --reseed`: seed these again.
    reseed: BTreeSet<String>,
}

impl Ctx {
    fn emit(&self, service: &str, phase: Phase) {
        self.reporter.emit(service, phase);
    }

    fn fail(&self, service: &str, reason: String, logs: Vec<String>) {
        let failure = self.reporter.fail(service, reason, logs);
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(failure);
    }

    async fn last_logs(&self, id: &str) -> Vec<String> {
        self.engine
            .logs(id, FAILURE_LOG_LINES)
            .await
            .unwrap_or_default()
    }
}

/// Applies `plan`. Returns when every service is ready, failed, or blocked by a failure.
pub async fn apply(
    engine: Arc<dyn Engine>,
    plan: &Plan,
    opts: &ApplyOptions,
    sink: EventSink,
) -> ApplyReport {
    apply_until(engine, plan, opts, sink, Interrupt::never()).await
}

/// `apply`, stopping early when `interrupt` is set: nothing new is scheduled, engine calls
/// already running finish, waits end. Services stopped so fail with reason `interrupted ...`.
pub async fn apply_until(
    engine: Arc<dyn Engine>,
    plan: &Plan,
    opts: &ApplyOptions,
    sink: EventSink,
    interrupt: Interrupt,
) -> ApplyReport {
    let began = Instant::now();
    // Looking once, nothing waits for time: a dependent waits until its dependency's one
    // look is done, and that takes as long as the engine calls it makes.
    let deadline = if opts.check_once {
        began + Duration::from_secs(365 * 24 * 3600)
    } else {
        began + opts.wait_timeout
    };
    let reporter = Reporter {
        sink: sink.clone(),
        began,
    };

    if interrupt.is_set() {
        let failures = plan
            .services
            .iter()
            .map(|s| {
                reporter.fail(
                    s.name.as_str(),
                    format!("{INTERRUPTED}: not started"),
                    vec![],
                )
            })
            .collect();
        return ApplyReport {
            failures,
            ..ApplyReport::default()
        };
    }
    // Instance resources first: everything else needs them.
    let (mut failures, infra_failed) = create_resources(engine.as_ref(), plan, &reporter).await;
    failures.extend(remove_orphans(engine.as_ref(), plan, &reporter).await);
    if let Some(reason) = infra_failed {
        for s in &plan.services {
            failures.push(reporter.fail(
                s.name.as_str(),
                format!("not started: {reason}"),
                Vec::new(),
            ));
        }
        return ApplyReport {
            failures,
            ..ApplyReport::default()
        };
    }
    let images = start_images(&engine, plan, &sink, began);

    // Whose readiness matters: everyone with --wait; otherwise what dependents wait on.
    let waited: BTreeSet<String> = plan
        .services
        .iter()
        .filter(|s| {
            // A seed runs once its service is ready, so that readiness is always waited for.
            opts.wait
                || s.seed.is_some()
                || plan.services.iter().any(|d| {
                    matches!(
                        d.depends_on.get(&s.name),
                        Some(Condition::Healthy | Condition::Completed)
                    )
                })
        })
        .map(|s| s.name.to_string())
        .collect();

    let mut senders = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    for s in &plan.services {
        let (tx, rx) = watch::channel(Status::Pending);
        senders.insert(s.name.to_string(), tx);
        statuses.insert(s.name.to_string(), rx);
    }
    let ctx = Arc::new(Ctx {
        engine,
        reporter,
        deadline,
        network: plan.network.clone(),
        statuses,
        images,
        waited,
        // Where dubbo probes read registrations: the dubbo module knows how to find it.
        registry: [
            crate::plan::registry_candidates(&plan.services),
            opts.registry_beyond.clone(),
        ]
        .concat(),
        published_at: opts.published_at,
        failures: Mutex::new(failures),
        check_once: opts.check_once,
        pending: Mutex::new(BTreeMap::new()),
        interrupt,
        reseed: opts.reseed.clone(),
    });

    let mut tasks = Vec::new();
    for target in &plan.services {
        let action = plan
            .actions
            .iter()
            .find(|a| a.service() == Some(&target.name))
            .cloned();
        let tx = senders
            .remove(target.name.as_str())
            .expect("one sender per service");
        let ctx = ctx.clone();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let status = run_service(&ctx, &target, action, &tx).await;
            // Receivers may all be gone; nobody else needs to know then.
            let _ = tx.send(status);
        }));
    }
    for task in tasks {
        if let Err(err) = task.await {
            ctx.fail("envctl", format!("internal error: {err}"), Vec::new());
        }
    }
    let failures = std::mem::take(&mut *ctx.failures.lock().unwrap_or_else(|p| p.into_inner()));
    let pending = std::mem::take(&mut *ctx.pending.lock().unwrap_or_else(|p| p.into_inner()));
    ApplyReport { failures, pending }
}

/// Sends events stamped with the time since the operation began.
#[derive(Clone)]
struct Reporter {
    sink: EventSink,
    began: Instant,
}

impl Reporter {
    fn emit(&self, target: &str, phase: Phase) {
        (self.sink)(ServiceEvent {
            service: target.to_string(),
            phase,
            elapsed: self.began.elapsed(),
        });
    }

    /// Reports a failure and returns it for the report.
    fn fail(&self, target: &str, reason: String, logs: Vec<String>) -> Failure {
        self.emit(
            target,
            Phase::Failed {
                reason: reason.clone(),
                logs: logs.clone(),
            },
        );
        Failure {
            service: target.to_string(),
            reason,
            logs,
        }
    }
}

/// Creates the instance's network and volumes. Returns the failures, and the first of them
/// as the reason nothing else can start.
async fn create_resources(
    engine: &dyn Engine,
    plan: &Plan,
    reporter: &Reporter,
) -> (Vec<Failure>, Option<String>) {
    let mut failures = Vec::new();
    let mut blocking = None;
    for action in &plan.actions {
        let (target, result) = match action {
            Action::CreateNetwork { name, labels } => (
                format!("network {name}"),
                engine.create_network(name, labels).await.map(|_| ()),
            ),
            Action::CreateVolume { name, labels } => (
                format!("volume {name}"),
                engine.create_volume(name, labels).await,
            ),
            // Containers and images are run elsewhere; Kubernetes object actions
            // (`ApplyObject`, `DeleteObject`) come from that backend's plans and are never
            // run against a container engine.
            _ => continue,
        };
        match result {
            Ok(()) => reporter.emit(&target, Phase::Created),
            Err(err) => {
                let failure = reporter.fail(&target, err.to_string(), Vec::new());
                blocking.get_or_insert_with(|| format!("{target}: {}", failure.reason));
                failures.push(failure);
            }
        }
    }
    (failures, blocking)
}

/// Removes the instance's orphans, all at once.
async fn remove_orphans(engine: &dyn Engine, plan: &Plan, reporter: &Reporter) -> Vec<Failure> {
    let removals = plan.actions.iter().filter_map(|a| match a {
        Action::RemoveOrphan { id, name, .. } => Some(async move {
            let target = format!("orphan {name}");
            reporter.emit(&target, Phase::Removing);
            match engine.remove_container(id).await {
                Ok(()) => {
                    reporter.emit(&target, Phase::Removed);
                    None
                }
                Err(err) => Some(reporter.fail(&target, err.to_string(), Vec::new())),
            }
        }),
        _ => None,
    });
    join_all(removals).await.into_iter().flatten().collect()
}

/// Runs one service to its goal; returns the status its dependents see. `started` hears
/// `Started` as soon as the container runs, so dependents that only need it started go on
/// while its readiness is still being checked.
async fn run_service(
    ctx: &Ctx,
    target: &ServiceTarget,
    action: Option<Action>,
    started: &watch::Sender<Status>,
) -> Status {
    let name = target.name.as_str();
    if action.is_some() {
        if let Err(reason) = host_paths_unchanged(target) {
            ctx.fail(name, reason, Vec::new());
            return Status::Failed;
        }
    }
    let action = match action {
        Some(Action::CreateContainer { service, spec }) if !target.depends_on.is_empty() => {
            match create_early(ctx, name, &spec).await {
                Ok(id) => Some(Action::StartContainer {
                    service,
                    id,
                    state: ContainerState::Created,
                }),
                Err(failed) => {
                    ctx.fail(name, failed.to_string(), Vec::new());
                    return Status::Failed;
                }
            }
        }
        other => other,
    };
    for (dep, condition) in &target.depends_on {
        let Some(rx) = ctx.statuses.get(dep.as_str()) else {
            continue;
        };
        let mut rx = rx.clone();
        if !rx.borrow().satisfies(*condition) {
            ctx.emit(
                name,
                Phase::Waiting {
                    reason: format!("for {dep} to be {}", condition.as_str()),
                },
            );
        }
        let waited = tokio::select! {
            waited = tokio::time::timeout_at(
                ctx.deadline,
                rx.wait_for(|s| s.satisfies(*condition) || *s == Status::Failed),
            ) => waited.map(|r| r.map(|s| *s != Status::Failed)),
            () = ctx.interrupt.wait() => {
                ctx.fail(name, format!("{INTERRUPTED}: not started"), Vec::new());
                return Status::Failed;
            }
        };
        let reason = match waited {
            Ok(Ok(true)) => continue,
            Ok(Err(_)) if ctx.check_once => format!(
                "not started: {dep} is not {} yet, and --wait-timeout 0 does not wait",
                condition.as_str()
            ),
            Ok(_) => format!("not started: dependency {dep} failed"),
            Err(_) => format!(
                "not started: {dep} was not {} before the wait timeout",
                condition.as_str()
            ),
        };
        ctx.fail(name, reason, Vec::new());
        return Status::Failed;
    }

    // Schedule nothing new once interrupted; a container left as it is stays unchanged.
    if ctx.interrupt.is_set() && action.is_some() {
        ctx.fail(name, format!("{INTERRUPTED}: not started"), Vec::new());
        return Status::Failed;
    }
    // The dependencies ran meanwhile (a job may have swapped a symlink in): the engine
    // follows symlinks when it starts the container, so check once more just before.
    if action.is_some() {
        if let Err(reason) = host_paths_unchanged(target) {
            ctx.fail(name, reason, Vec::new());
            return Status::Failed;
        }
    }
    // Whether this `up` (re)started the container: then only what envctl watches proves
    // that it stays up.
    let fresh = action.is_some();
    let id = match converge_container(ctx, target, action).await {
        Ok(id) => id,
        Err(failed) => {
            let logs = match failed.logs_of() {
                Some(id) => ctx.last_logs(id).await,
                None => Vec::new(),
            };
            ctx.fail(name, failed.to_string(), logs);
            return Status::Failed;
        }
    };
    // Receivers may all be gone; nobody else needs to know then.
    let _ = started.send(Status::Started);

    if !ctx.waited.contains(name) {
        ctx.emit(name, Phase::Started);
        return Status::Started;
    }
    if ctx.check_once {
        if target.seed.is_some() {
            ctx.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    name.to_string(),
                    "not seeded: --wait-timeout 0 does not wait for it to be ready".into(),
                );
        }
        return readiness::glance_service(ctx, target, &id, fresh).await;
    }
    let ready = async {
        match (target.kind, &target.healthcheck) {
            (ServiceKind::Job, _) => {
                readiness::wait_completed(ctx.engine.as_ref(), &id, ctx.deadline)
                    .await
                    .map(|()| Status::Completed)
            }
            (ServiceKind::Service, Some(_)) => {
                let on_wait = |reason: String| ctx.emit(name, Phase::Waiting { reason });
                readiness::wait_healthy(
                    ctx.engine.as_ref(),
                    &id,
                    readiness::Reach {
                        network: &ctx.network,
                        registry: &ctx.registry,
                        published_at: ctx.published_at,
                    },
                    target,
                    fresh,
                    ctx.deadline,
                    &on_wait,
                )
                .await
                .map(|()| Status::Healthy)
            }
            (ServiceKind::Service, None) => {
                readiness::wait_settled(ctx.engine.as_ref(), &id, fresh, ctx.deadline)
                    .await
                    .map(|()| Status::Healthy)
            }
        }
    };
    let ready = tokio::select! {
        ready = ready => ready,
        () = ctx.interrupt.wait() => Err(format!("{INTERRUPTED} while waiting for it to be ready").into()),
    };
    match ready {
        Ok(status) => {
            if !seed::after_ready(ctx, target, &id).await {
                return Status::Failed;
            }
            let phase = if status == Status::Completed {
                Phase::Completed
            } else {
                Phase::Ready
            };
            ctx.emit(name, phase);
            status
        }
        Err(readiness::NotReady(reason)) => {
            let logs = ctx.last_logs(&id).await;
            ctx.fail(name, reason, logs);
            Status::Failed
        }
    }
}

/// Every bind source still leads where it did when the definition was checked.
fn host_paths_unchanged(target: &ServiceTarget) -> Result<(), String> {
    for path in &target.bind_sources {
        crate::definition::verify_host_path(path)
            .map_err(|e| format!("refused to mount {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
