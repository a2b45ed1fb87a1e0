//! Waiting until a started container is ready: its health check passes (or a job exits 0).
//! Polls with the check's interval and gives up at the deadline; no fixed sleeps.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::{ContainerState, Engine, ObservedContainer};
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
    registry: Option<SocketAddr>,
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
    ProbeTarget {
        container_ip,
        host_ports,
        registry,
    }
}

/// The first pause between health-check attempts; it doubles up to the check's interval.
const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// How the instance is reached from the host.
#[derive(Debug, Clone, Copy)]
pub struct Reach<'a> {
    /// The instance network, whose container address probes may use.
    pub network: &'a str,
    /// The instance's registry (ZooKeeper) for dubbo probes.
    pub registry: Option<SocketAddr>,
}

/// Waits until the service's health check passes. `on_wait` hears each failed attempt.
pub async fn wait_healthy(
    engine: &dyn Engine,
    id: &str,
    reach: Reach<'_>,
    target: &ServiceTarget,
    hc: &HealthCheck,
    deadline: Instant,
    on_wait: &(dyn Fn(String) + Send + Sync),
) -> Result<(), String> {
    let began = Instant::now();
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
        let ip = observed
            .ips
            .get(reach.network)
            .and_then(|ip| ip.parse().ok());
        let attempt_started = Instant::now();
        let attempt = match (observed.state, &hc.probe) {
            (ContainerState::Restarting | ContainerState::Created, _) => {
                Err("container is not running yet".to_string())
            }
            (state, _) if !state.is_running() => return Err(not_running(state).unwrap_or_default()),
            (_, Probe::Cmd(cmd)) => {
                match tokio::time::timeout(hc.timeout, engine.exec(id, cmd)).await {
                    Ok(Ok(out)) if out.exit_code == 0 => Ok(()),
                    Ok(Ok(out)) => Err(format!(
                        "`{}` exited with {}{}",
                        cmd.join(" "),
                        out.exit_code,
                        last_line(&out.output)
                    )),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err(format!(
                        "`{}` took longer than {:?}",
                        cmd.join(" "),
                        hc.timeout
                    )),
                }
            }
            (_, other) => {
                let target = probe_target(target, other, ip, reach.registry);
                probe::check(other, &target, hc.timeout).await
            }
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
            return Err(format!(
                "unhealthy after {failures} failed checks: {reason}"
            ));
        }
        on_wait(format!("health check: {reason}"));
        let next = attempt_started + pause.min(hc.interval);
        pause *= 2;
        if next >= deadline {
            return Err(format!("not healthy before the wait timeout: {reason}"));
        }
        tokio::time::sleep_until(next).await;
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
) -> Result<(), String> {
    if let Some(reason) = not_running(container.state) {
        return Err(reason);
    }
    match &hc.probe {
        Probe::Cmd(cmd) => {
            match tokio::time::timeout(hc.timeout, engine.exec(&container.id, cmd)).await {
                Ok(Ok(out)) if out.exit_code == 0 => Ok(()),
                Ok(Ok(out)) => Err(format!("`{}` exited with {}", cmd.join(" "), out.exit_code)),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err(format!(
                    "`{}` took longer than {:?}",
                    cmd.join(" "),
                    hc.timeout
                )),
            }
        }
        other => {
            let ip = container
                .ips
                .get(reach.network)
                .and_then(|ip| ip.parse().ok());
            probe::check(
                other,
                &probe_target(target, other, ip, reach.registry),
                hc.timeout,
            )
            .await
        }
    }
}

/// Waits until a running container is confirmed running (services without a health check).
pub async fn confirm_running(engine: &dyn Engine, id: &str) -> Result<(), String> {
    let observed = engine
        .inspect_container(id)
        .await
        .map_err(|e| e.to_string())?;
    match not_running(observed.state) {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// Waits for a job to exit with status 0.
pub async fn wait_completed(
    engine: &dyn Engine,
    id: &str,
    deadline: Instant,
) -> Result<(), String> {
    match tokio::time::timeout_at(deadline, engine.wait_container(id)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(code)) => Err(format!("job exited with code {code}")),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("job did not finish before the wait timeout".into()),
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
