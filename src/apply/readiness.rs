//! Waiting until a started container is ready: its health check passes (or a job exits 0).
//! Polls with the check's interval and gives up at the deadline; no fixed sleeps.
//!
//! Without a health check, ready means running and staying up: the container must run for
//! `SETTLE_WINDOW` without the engine restarting it. A container that exits at once under
//! `restart: always` is running most of the time, so one look would call it ready.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::Phase;
use crate::dubbo::registry::Candidate;
use crate::engine::{ContainerRuntime, ContainerState, Engine, ObservedContainer};
use crate::model::{HealthCheck, Probe, Protocol};
use crate::plan::ServiceTarget;
use crate::probe::{self, ProbeTarget};

/// Where a service can be probed from the host.
///
/// For `tcp` probes the container's own address wins when known: a published port on
/// loopback is accepted by docker-proxy even while nothing listens inside, so a bare connect
/// there would call a dead service healthy. Protocol probes (http, zookeeper, dubbo) get both
/// and notice a dead backend by its silence.
pub fn probe_target(
    target: &ServiceTarget,
    probe: &Probe,
    container_ip: Option<IpAddr>,
    reach: Reach<'_>,
) -> ProbeTarget {
    let host_ports = match (probe, container_ip) {
        (Probe::Tcp { .. }, Some(_)) => Default::default(),
        _ => target
            .ports
            .iter()
            .filter(|((_, proto), _)| *proto == Protocol::Tcp)
            .map(|((container, _), host)| (*container, *host))
            .collect(),
    };
    let registry = match probe {
        Probe::Dubbo(dubbo) => {
            // Validated when the definition loaded; a bad address here finds no server.
            let address = dubbo
                .registry
                .as_deref()
                .map(crate::dubbo::address::parse)
                .transpose()
                .unwrap_or_default();
            crate::dubbo::registry::servers(address.as_ref(), reach.registry, reach.published_at)
        }
        _ => Vec::new(),
    };
    ProbeTarget {
        container_ip,
        host_ports,
        published_at: reach.published_at,
        registry,
        own_registrations: target.own_registrations,
    }
}

/// The first pause between health-check attempts; it doubles up to the check's interval.
const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// The pause after `pause`: doubled, capped at the interval. Capped as it grows, or doubling
/// overflows (a panic) after some 60 attempts of a long wait.
fn next_pause(pause: Duration, interval: Duration) -> Duration {
    pause.saturating_mul(2).min(interval)
}

/// How the instance is reached from the host.
#[derive(Debug, Clone, Copy)]
pub struct Reach<'a> {
    /// The instance network, whose container address probes may use.
    pub network: &'a str,
    /// The services that may be the registry (ZooKeeper) of dubbo probes.
    pub registry: &'a [Candidate],
    /// Where this machine dials published ports (`HostAddress::local`).
    pub published_at: IpAddr,
}

/// Waits until the service's health check passes (without one: `wait_settled`). `on_wait`
/// hears each failed attempt.
pub async fn wait_healthy(
    engine: &dyn Engine,
    id: &str,
    reach: Reach<'_>,
    target: &ServiceTarget,
    fresh: bool,
    deadline: Instant,
    on_wait: &(dyn Fn(String) + Send + Sync),
) -> Result<(), NotReady> {
    let Some(hc) = &target.healthcheck else {
        return wait_settled(engine, id, fresh, deadline).await;
    };
    let began = Instant::now();
    // Restarts before this wait began do not count against an older container; for one this
    // `up` started, every restart does.
    let mut baseline: Option<u64> = None;
    let mut failures = 0u32;
    // Services often become ready a moment after they start: poll quickly at first, backing
    // off to the check's interval. Only attempts an interval apart count toward `retries`, so
    // the check's own timing (retries x interval) still decides when a service is unhealthy.
    let mut pause = FIRST_PAUSE;
    let mut last_counted: Option<Instant> = None;
    loop {
        let observed = engine
            .inspect_container(id)
            .await
            .map_err(|e| e.to_string())?;
        let before = engine
            .container_runtime(id)
            .await
            .map_err(|e| e.to_string())?;
        let first = *baseline.get_or_insert(if fresh { 0 } else { before.restart_count });
        let ip = observed
            .ips
            .get(reach.network)
            .and_then(|ip| ip.parse().ok());
        let attempt_started = Instant::now();
        let attempt = match (observed.state, &hc.probe) {
            (ContainerState::Restarting, _) => Err(format!(
                "container is restarting (its last run exited with code {})",
                before.exit_code
            )),
            (ContainerState::Created, _) => Err("container is not running yet".to_string()),
            (state, _) if !state.is_running() => {
                return Err(not_running(state).unwrap_or_default().into())
            }
            (_, Probe::Cmd(cmd)) => run_cmd(engine, id, cmd, hc).await,
            (_, other) => {
                let target = probe_target(target, other, ip, reach);
                probe::check(other, &target, hc.timeout)
                    .await
                    .map_err(|failed| failed.0)
            }
        };
        // A pass counts only if the container did not restart meanwhile: a restart resets
        // readiness (a crash-looping server may answer between two crashes).
        let attempt = match attempt {
            Ok(()) => {
                let after = engine
                    .container_runtime(id)
                    .await
                    .map_err(|e| e.to_string())?;
                match restarted(&before, &after) {
                    Some(reason) => Err(reason),
                    // It crashed before: a pass between two crashes proves nothing, so it
                    // must also stay up for the settle window.
                    None if after.restart_count > first => {
                        stays_up(engine, id, &after, deadline).await
                    }
                    None => Ok(()),
                }
            }
            failed => failed,
        };
        let reason = match attempt {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        let spaced = last_counted.is_none_or(|t| attempt_started - t >= hc.interval);
        if began.elapsed() >= hc.start_period && spaced {
            failures += 1;
            last_counted = Some(attempt_started);
        }
        if failures >= hc.retries.max(1) {
            return Err(format!("unhealthy after {failures} failed checks: {reason}").into());
        }
        on_wait(format!("health check: {reason}"));
        let next = attempt_started + pause.min(hc.interval);
        pause = next_pause(pause, hc.interval);
        if next >= deadline {
            return Err(format!("not healthy before the wait timeout: {reason}").into());
        }
        tokio::time::sleep_until(next).await;
    }
}

/// Why a service is not shown ready: a one-line reason for `status` and progress output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

impl From<String> for NotReady {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for NotReady {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}

/// One probe attempt against a running container (for `status`): the check's own timeout,
/// no retries.
pub async fn check_once(
    engine: &dyn Engine,
    container: &ObservedContainer,
    reach: Reach<'_>,
    target: &ServiceTarget,
    hc: &HealthCheck,
) -> Result<(), NotReady> {
    if let Some(reason) = not_running(container.state) {
        return Err(NotReady(reason));
    }
    match &hc.probe {
        Probe::Cmd(cmd) => run_cmd(engine, &container.id, cmd, hc)
            .await
            .map_err(NotReady),
        other => {
            let ip = container
                .ips
                .get(reach.network)
                .and_then(|ip| ip.parse().ok());
            probe::check(other, &probe_target(target, other, ip, reach), hc.timeout)
                .await
                .map_err(|failed| failed.0.into())
        }
    }
}

/// One `cmd` check inside the container, bounded by the check's timeout. The engine kills
/// what a timed-out check left running, so slow checks do not pile up in the container.
async fn run_cmd(
    engine: &dyn Engine,
    id: &str,
    cmd: &[String],
    hc: &HealthCheck,
) -> Result<(), String> {
    match engine.exec_bounded(id, cmd, hc.timeout).await {
        Ok(Some(out)) if out.exit_code == 0 => Ok(()),
        Ok(Some(out)) => Err(format!(
            "`{}` exited with {}{}",
            cmd.join(" "),
            out.exit_code,
            last_line(&out.output)
        )),
        Ok(None) => Err(format!(
            "`{}` took longer than {:?}",
            cmd.join(" "),
            hc.timeout
        )),
        Err(err) => Err(err.to_string()),
    }
}

/// How long a container without a health check must run, unrestarted, to count as ready.
/// Docker restarts a crashed container after 100 ms, then 200, 400...: a second is enough to
/// see a crash loop at work.
#[cfg(not(test))]
pub const SETTLE_WINDOW: Duration = Duration::from_secs(1);
/// Unit tests run against the fake engine, whose containers never restart; the real-engine
/// tests (tests/it/spec_docker.rs) exercise the real window.
#[cfg(test)]
pub const SETTLE_WINDOW: Duration = Duration::from_millis(50);

/// How often the settle window looks at the container.
const SETTLE_POLL: Duration = Duration::from_millis(50);

/// Why `now` is not the run `first` was, if it is not: the engine restarted the container.
fn restarted(first: &ContainerRuntime, now: &ContainerRuntime) -> Option<String> {
    (now.restart_count != first.restart_count || now.started_at != first.started_at).then(|| {
        // The engine resets the exit code when it starts the container again: a running
        // container's 0 says nothing about how its last run ended.
        let last_run = if now.state == ContainerState::Running && now.exit_code == 0 {
            String::new()
        } else {
            format!("its last run exited with code {}; ", now.exit_code)
        };
        format!(
            "container restarted ({last_run}restarted {} times): it does not stay up",
            now.restart_count
        )
    })
}

/// Polls for the settle window: `Err` when the container restarts or stops meanwhile.
async fn stays_up(
    engine: &dyn Engine,
    id: &str,
    from: &ContainerRuntime,
    deadline: Instant,
) -> Result<(), String> {
    let end = Instant::now() + SETTLE_WINDOW;
    loop {
        let next = (Instant::now() + SETTLE_POLL).min(end);
        if next > deadline {
            return Err(format!(
                "it restarted before, and the wait timeout ended within {SETTLE_WINDOW:?} of its check passing"
            ));
        }
        tokio::time::sleep_until(next).await;
        let now = engine
            .container_runtime(id)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(reason) = not_up(&now).or_else(|| restarted(from, &now)) {
            return Err(format!("check passed, then {reason}"));
        }
        if next >= end {
            return Ok(());
        }
    }
}

/// Why a container that should be running is not ready, if so.
fn not_up(rt: &ContainerRuntime) -> Option<String> {
    match rt.state {
        ContainerState::Restarting => Some(format!(
            "container keeps restarting (its last run exited with code {}; restarted {} times)",
            rt.exit_code, rt.restart_count
        )),
        ContainerState::Exited { code } if rt.restart_count > 0 => Some(format!(
            "container exited with code {code} after {} restarts",
            rt.restart_count
        )),
        state => not_running(state),
    }
}

/// Whether the container has run, unrestarted, for the settle window. `fresh`: this `up`
/// just started it, so only what envctl itself watched counts (no trust in clocks); an older
/// container may prove it by its start time, so a converged `up` does not wait.
fn settled(rt: &ContainerRuntime, watched: Duration, fresh: bool) -> bool {
    let engine_age = rt
        .started_at
        .and_then(|t| (chrono::Utc::now() - t).to_std().ok())
        .unwrap_or_default();
    watched >= SETTLE_WINDOW || (!fresh && engine_age >= SETTLE_WINDOW)
}

/// Waits until a service without a health check is running and stays up for the settle
/// window, polled; fails as soon as the engine restarts it or it exits.
pub async fn wait_settled(
    engine: &dyn Engine,
    id: &str,
    fresh: bool,
    deadline: Instant,
) -> Result<(), NotReady> {
    let began = Instant::now();
    let first = engine
        .container_runtime(id)
        .await
        .map_err(|e| e.to_string())?;
    if fresh && first.restart_count > 0 {
        return Err(restarted(
            &ContainerRuntime {
                restart_count: 0,
                ..first.clone()
            },
            &first,
        )
        .unwrap_or_default()
        .into());
    }
    let mut now = first.clone();
    loop {
        if let Some(reason) = not_up(&now).or_else(|| restarted(&first, &now)) {
            return Err(reason.into());
        }
        if settled(&now, began.elapsed(), fresh) {
            return Ok(());
        }
        let next = (Instant::now() + SETTLE_POLL).min(began + SETTLE_WINDOW);
        if next >= deadline {
            return Err(format!(
                "running for less than {SETTLE_WINDOW:?} when the wait timeout ended"
            )
            .into());
        }
        tokio::time::sleep_until(next).await;
        now = engine
            .container_runtime(id)
            .await
            .map_err(|e| e.to_string())?;
    }
}

/// What a single look (`--wait-timeout 0`) says about a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Glance {
    Ready,
    Completed,
    /// Up, but not (yet) shown ready: why.
    Pending(String),
}

/// One look at a service, no waiting: its health check once, a job's exit, or whether a
/// service without a check has already been up for the settle window.
pub async fn glance(
    engine: &dyn Engine,
    id: &str,
    reach: Reach<'_>,
    target: &ServiceTarget,
    fresh: bool,
) -> Result<Glance, NotReady> {
    let rt = engine
        .container_runtime(id)
        .await
        .map_err(|e| e.to_string())?;
    if target.kind == crate::model::ServiceKind::Job {
        return match rt.state {
            ContainerState::Exited { code: 0 } => Ok(Glance::Completed),
            ContainerState::Exited { code } => Err(format!("job exited with code {code}").into()),
            _ => Ok(Glance::Pending("running".into())),
        };
    }
    if let Some(reason) = not_up(&rt) {
        return Err(reason.into());
    }
    let Some(hc) = &target.healthcheck else {
        return Ok(if settled(&rt, Duration::ZERO, fresh) {
            Glance::Ready
        } else {
            Glance::Pending("starting".into())
        });
    };
    let observed = engine
        .inspect_container(id)
        .await
        .map_err(|e| e.to_string())?;
    match check_once(engine, &observed, reach, target, hc).await {
        Ok(()) => Ok(Glance::Ready),
        Err(reason) => Ok(Glance::Pending(format!(
            "not checked healthy yet: {reason}"
        ))),
    }
}

/// Waits for a job to exit with status 0.
pub async fn wait_completed(
    engine: &dyn Engine,
    id: &str,
    deadline: Instant,
) -> Result<(), NotReady> {
    match tokio::time::timeout_at(deadline, engine.wait_container(id)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(code)) => Err(format!("job exited with code {code}").into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        Err(_) => Err("job did not finish before the wait timeout".into()),
    }
}

/// `--wait-timeout 0`: one look at the service. Not ready yet is pending, not a failure.
pub(super) async fn glance_service(
    ctx: &super::Ctx,
    target: &ServiceTarget,
    id: &str,
    fresh: bool,
) -> super::Status {
    let name = target.name.as_str();
    let reach = Reach {
        network: &ctx.network,
        registry: &ctx.registry,
        published_at: ctx.published_at,
    };
    match glance(ctx.engine.as_ref(), id, reach, target, fresh).await {
        Ok(Glance::Ready) => {
            ctx.emit(name, Phase::Ready);
            super::Status::Healthy
        }
        Ok(Glance::Completed) => {
            ctx.emit(name, Phase::Completed);
            super::Status::Completed
        }
        Ok(Glance::Pending(why)) => {
            ctx.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string(), why);
            ctx.emit(name, Phase::Started);
            super::Status::Started
        }
        Err(NotReady(reason)) => {
            let logs = ctx.last_logs(id).await;
            ctx.fail(name, reason, logs);
            super::Status::Failed
        }
    }
}

fn not_running(state: ContainerState) -> Option<String> {
    match state {
        ContainerState::Running => None,
        ContainerState::Exited { code } => Some(format!("container exited with code {code}")),
        ContainerState::Restarting => Some("container keeps restarting".into()),
        other => Some(format!("container is {other:?}").to_lowercase()),
    }
}

fn last_line(output: &str) -> String {
    match output.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => format!(": {}", line.trim()),
        None => String::new(),
    }
}

/// A default for how long `up` waits overall.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(state: ContainerState, restarts: u64, age_secs: i64) -> ContainerRuntime {
        ContainerRuntime {
            state,
            restart_count: restarts,
            started_at: Some(chrono::Utc::now() - chrono::Duration::seconds(age_secs)),
            exit_code: 3,
        }
    }

    #[test]
    fn the_pause_backs_off_to_the_interval_however_long_the_wait() {
        for interval in [Duration::from_millis(100), Duration::MAX] {
            let mut pause = FIRST_PAUSE;
            for _ in 0..10_000 {
                pause = next_pause(pause, interval);
            }
            assert_eq!(pause, interval);
        }
    }

    #[test]
    fn a_restart_is_noticed_by_count_or_start_time() {
        let first = rt(ContainerState::Running, 0, 0);
        assert_eq!(restarted(&first, &first), None);
        let again = rt(ContainerState::Running, 1, 0);
        let reason = restarted(&first, &again).unwrap();
        assert!(reason.contains("exited with code 3"), "{reason}");
        // Running again, the engine reports 0 for the last run: not repeated as if it were.
        let running_again = ContainerRuntime {
            exit_code: 0,
            ..again.clone()
        };
        let reason = restarted(&first, &running_again).unwrap();
        assert!(!reason.contains("code 0"), "{reason}");
        assert!(reason.contains("restarted 1 times"), "{reason}");
        let later = ContainerRuntime {
            started_at: Some(chrono::Utc::now() + chrono::Duration::seconds(5)),
            ..first.clone()
        };
        assert!(restarted(&first, &later).is_some());
    }

    #[test]
    fn restarting_or_exited_after_restarts_is_not_up() {
        assert!(not_up(&rt(ContainerState::Restarting, 2, 0))
            .unwrap()
            .contains("keeps restarting"));
        assert!(not_up(&rt(ContainerState::Exited { code: 1 }, 4, 0))
            .unwrap()
            .contains("after 4 restarts"));
        assert_eq!(not_up(&rt(ContainerState::Running, 9, 0)), None);
    }

    #[test]
    fn only_an_old_container_may_prove_itself_by_its_start_time() {
        let old = rt(ContainerState::Running, 0, 3600);
        assert!(settled(&old, Duration::ZERO, false));
        assert!(!settled(&old, Duration::ZERO, true));
        assert!(settled(&old, SETTLE_WINDOW, true));
        assert!(!settled(
            &rt(ContainerState::Running, 0, 0),
            Duration::ZERO,
            false
        ));
    }
}
