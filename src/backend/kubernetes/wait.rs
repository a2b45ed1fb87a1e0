//! Readiness after apply, with the Docker path's semantics: every service is waited for
//! (`opts.wait`), else only those a dependent needs `healthy` or `completed`. A Deployment is
//! ready when rolled out, its pod Ready and its health check passing from here
//! (`protocol_probe`); a Job when it succeeded. A pod stuck in CrashLoopBackOff /
//! ImagePullBackOff / ErrImagePull, or a failed Job, fails `up` at once with the pod's last
//! log lines. Each round reads pods, Deployments and Jobs: three LISTs however many services
//! wait.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::api::Kube;
use super::kinds::{DEPLOYMENT, JOB, POD};
use super::observe::{instance_selector, name_of};
use super::progress::Progress;
use super::protocol_probe::{check_protocol_probe, runs_here, Reach};
use super::workloads::pod_ready;
use crate::apply::{
    ApplyOptions, ApplyReport, Failure, Interrupt, NotReady, Phase, FAILURE_LOG_LINES, INTERRUPTED,
};
use crate::engine::EngineResult;
use crate::model::{labels, Condition, ServiceKind};
use crate::plan::registry_candidates;
use crate::plan::Plan;

/// Container waiting reasons that will not resolve by waiting.
const FATAL: [&str; 5] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
];

/// What a service must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Started,
    Ready,
    Completed,
}

/// Where a service stands in one look.
enum Look {
    Reached(Phase),
    Waiting(String),
    /// Failed for good: why, the pod whose log tells more, and whether it is its
    /// container crashing (which a dependency not there yet may explain).
    Failed(String, Option<String>, Crash),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    Yes,
    No,
}

/// A Deployment's look, which may need its health check run first.
enum Seen {
    Now(Look),
    /// Rolled out with this pod Ready: ready once its health check passes from here
    /// (`protocol_probe`).
    AfterProbe(Value),
}

/// The services to wait for and what each must reach.
fn goals(plan: &Plan, opts: &ApplyOptions) -> BTreeMap<String, Goal> {
    let mut goals = BTreeMap::new();
    for target in &plan.services {
        if opts.wait || opts.check_once {
            let goal = match target.kind {
                ServiceKind::Job => Goal::Completed,
                ServiceKind::Service => Goal::Ready,
            };
            goals.insert(target.name.to_string(), goal);
        }
        for (dep, condition) in &target.depends_on {
            let goal = match condition {
                Condition::Started => Goal::Started,
                Condition::Healthy => Goal::Ready,
                Condition::Completed => Goal::Completed,
            };
            let entry = goals.entry(dep.to_string()).or_insert(goal);
            if goal != Goal::Started {
                *entry = goal;
            }
        }
    }
    // A dependency that is not in the plan (a `--local` service) runs elsewhere.
    goals.retain(|name, _| plan.service(name).is_some());
    goals
}

/// Waits per `opts` and reports, as `apply` does on Docker.
pub async fn wait(
    kube: &Kube,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &Progress,
    interrupt: &Interrupt,
    poll: Duration,
    published_at: IpAddr,
) -> EngineResult<ApplyReport> {
    let namespace = plan.network.clone();
    let goals = goals(plan, opts);
    let mut report = ApplyReport::default();
    for target in plan
        .services
        .iter()
        .filter(|t| !goals.contains_key(t.name.as_str()))
    {
        progress.emit(target.name.as_str(), Phase::Started);
    }
    // In the plan's (dependency) order, so a dependency reached in a round counts for its
    // dependents in the same round.
    let mut pending: Vec<String> = plan
        .services
        .iter()
        .map(|t| t.name.to_string())
        .filter(|name| goals.contains_key(name))
        .collect();
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    // The pod last seen for each service: its log explains a timeout.
    let mut last_pod: BTreeMap<String, String> = BTreeMap::new();
    for name in &pending {
        progress.emit(
            name,
            Phase::Waiting {
                reason: "rolling out".into(),
            },
        );
    }
    let deadline = progress.began() + opts.wait_timeout;
    let selector = instance_selector(plan.instance.as_str());
    // The plan's node ports are the ones just applied (envctl allocates them).
    let registry = [
        registry_candidates(&plan.services),
        opts.registry_beyond.clone(),
    ]
    .concat();
    while !pending.is_empty() {
        let pods = kube.list(&POD, Some(&namespace), &selector).await?;
        let deployments = kube.list(&DEPLOYMENT, Some(&namespace), &selector).await?;
        let jobs = kube.list(&JOB, Some(&namespace), &selector).await?;
        for name in pending.clone() {
            let target = plan.service(&name).expect("goals come from the plan");
            let own_pods: Vec<&Value> = pods
                .iter()
                .filter(|p| p["metadata"]["labels"][labels::SERVICE].as_str() == Some(&name))
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .collect();
            if let Some(pod) = own_pods.first() {
                last_pod.insert(name.clone(), name_of(pod).to_string());
            }
            let seen = match target.kind {
                ServiceKind::Job => Seen::Now(look_job(find(&jobs, &name), &own_pods)),
                ServiceKind::Service => {
                    look_deployment(goals[&name], find(&deployments, &name), &own_pods)
                }
            };
            let look = match seen {
                Seen::Now(look) => look,
                // Its Ready pod passed the kubelet's readinessProbe: that is its check.
                Seen::AfterProbe(_) if !runs_here(target) => Look::Reached(Phase::Ready),
                Seen::AfterProbe(pod) => {
                    let reach = Reach {
                        published_at,
                        registry: &registry,
                    };
                    match check_protocol_probe(kube, target, &pod, reach).await {
                        Ok(()) => Look::Reached(Phase::Ready),
                        Err(NotReady(why)) => Look::Waiting(why),
                    }
                }
            };
            let unmet: Vec<&str> = target
                .depends_on
                .keys()
                .map(|dep| dep.as_str())
                .filter(|dep| pending.iter().any(|p| p == dep))
                .collect();
            let look = match look {
                // Kubernetes starts every workload at once: one that crashes while what it
                // depends on is not there yet may well be fine once it is. Only a crash with
                // its dependencies met is final (an image that cannot be pulled always is).
                Look::Failed(why, _, Crash::Yes) if !unmet.is_empty() => {
                    Look::Waiting(format!("{why}; waiting for {} first", unmet.join(", ")))
                }
                other => other,
            };
            match look {
                Look::Reached(phase) => {
                    progress.emit(&name, phase);
                    pending.retain(|p| *p != name);
                }
                Look::Waiting(reason) => {
                    reasons.insert(name, reason);
                }
                Look::Failed(reason, pod, crash) => {
                    let logs = match pod {
                        Some(pod) => last_lines(kube, &namespace, &pod, crash).await,
                        None => Vec::new(),
                    };
                    return Ok(fail(report, progress, &name, reason, logs));
                }
            }
        }
        if pending.is_empty() {
            break;
        }
        if opts.check_once {
            for name in pending {
                let reason = reasons.remove(&name).unwrap_or_default();
                report.pending.insert(name, reason);
            }
            break;
        }
        if interrupt.is_set() {
            for name in pending {
                report = fail(report, progress, &name, INTERRUPTED.into(), Vec::new());
            }
            break;
        }
        if Instant::now() >= deadline {
            for name in pending {
                let why = reasons.remove(&name).unwrap_or_default();
                let reason = format!("not ready after {}s: {why}", opts.wait_timeout.as_secs());
                let logs = match last_pod.get(&name) {
                    Some(pod) => last_lines(kube, &namespace, pod, Crash::No).await,
                    None => Vec::new(),
                };
                report = fail(report, progress, &name, reason, logs);
            }
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))) => {}
            _ = interrupt.wait() => {}
        }
    }
    Ok(report)
}

/// The log lines a failure shows: a crashed container's previous run's (what it said before
/// it died), else (or when that has none) the current one's. A log that cannot be read
/// leaves the failure without lines rather than hiding its reason.
async fn last_lines(kube: &Kube, namespace: &str, pod: &str, crash: Crash) -> Vec<String> {
    if crash == Crash::Yes {
        match kube.logs(namespace, pod, FAILURE_LOG_LINES, true).await {
            Ok(lines) if !lines.is_empty() => return lines,
            _ => {}
        }
    }
    kube.logs(namespace, pod, FAILURE_LOG_LINES, false)
        .await
        .unwrap_or_default()
}

fn fail(
    mut report: ApplyReport,
    progress: &Progress,
    service: &str,
    reason: String,
    logs: Vec<String>,
) -> ApplyReport {
    progress.emit(
        service,
        Phase::Failed {
            reason: reason.clone(),
            logs: logs.clone(),
        },
    );
    report.failures.push(Failure {
        service: service.to_string(),
        reason,
        logs,
    });
    report
}

fn find<'a>(objects: &'a [Value], name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| name_of(o) == name)
}

/// A pod's container stuck for good, as `pod NAME: REASON: message`, with the pod's name.
fn fatal(pods: &[&Value]) -> Option<Look> {
    pods.iter().find_map(|pod| {
        let statuses = pod["status"]["containerStatuses"].as_array()?;
        statuses.iter().find_map(|status| {
            let waiting = &status["state"]["waiting"];
            let reason = waiting["reason"].as_str()?;
            if !FATAL.contains(&reason) {
                return None;
            }
            let pod_name = name_of(pod).to_string();
            let message = waiting["message"].as_str().unwrap_or_default();
            let restarts = status["restartCount"].as_u64().unwrap_or(0);
            let mut why = format!("pod {pod_name}: {reason}");
            if restarts > 0 {
                why.push_str(&format!(" (restarted {restarts} times)"));
            }
            if !message.is_empty() {
                why.push_str(&format!(": {message}"));
            }
            let crash = if reason == "CrashLoopBackOff" {
                Crash::Yes
            } else {
                Crash::No
            };
            Some(Look::Failed(why, Some(pod_name), crash))
        })
    })
}

fn look_deployment(goal: Goal, deployment: Option<&Value>, pods: &[&Value]) -> Seen {
    if let Some(failed) = fatal(pods) {
        return Seen::Now(failed);
    }
    let Some(deployment) = deployment else {
        return Seen::Now(Look::Waiting("its Deployment does not exist".into()));
    };
    let status = &deployment["status"];
    let generation = deployment["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = status["observedGeneration"].as_i64().unwrap_or(-1);
    let updated = status["updatedReplicas"].as_i64().unwrap_or(0);
    let available = status["availableReplicas"].as_i64().unwrap_or(0);
    let rolled_out = observed >= generation && updated >= 1 && available >= 1;
    let running = pods.iter().find(|p| p["status"]["phase"] == "Running");
    let look = match goal {
        Goal::Started | Goal::Completed if running.is_some() => Look::Reached(Phase::Started),
        Goal::Ready => match pods.iter().find(|p| pod_ready(p)) {
            Some(pod) if rolled_out => return Seen::AfterProbe((*pod).clone()),
            Some(_) => Look::Waiting("rolling out".into()),
            None if running.is_some() => Look::Waiting("pod running, not Ready yet".into()),
            None => Look::Waiting("no pod running yet".into()),
        },
        _ => Look::Waiting("no pod running yet".into()),
    };
    Seen::Now(look)
}

fn look_job(job: Option<&Value>, pods: &[&Value]) -> Look {
    let Some(job) = job else {
        return Look::Waiting("its Job does not exist".into());
    };
    let status = &job["status"];
    if status["succeeded"].as_i64().unwrap_or(0) >= 1 {
        return Look::Reached(Phase::Completed);
    }
    let failed = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Failed" && c["status"] == "True");
    if let Some(condition) = failed {
        let message = condition["message"].as_str().unwrap_or("the Job failed");
        let pod = pods.first().map(|p| name_of(p).to_string());
        return Look::Failed(format!("job failed: {message}"), pod, Crash::No);
    }
    if let Some(failed) = fatal(pods) {
        return failed;
    }
    Look::Waiting("running".into())
}
