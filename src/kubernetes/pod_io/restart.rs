//! Restarting a service's pod (`envctl ui`): delete it with a grace period; its Deployment
//! starts a new one, which is what "restarted" means on Kubernetes. Done when a new pod of the
//! same service runs.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};

use super::errors::Request;
use crate::engine::EngineResult;
use crate::model::labels;

/// How long a new pod may take to run after the old one is gone (scheduling, image pull).
const START_PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(500);

/// Deletes `pod` (its processes get `grace` to stop, then are killed) and waits until a new
/// pod of its service is Running. Refuses a pod without envctl's labels.
pub async fn restart(
    client: &Client,
    namespace: &str,
    pod: &str,
    grace: Duration,
) -> EngineResult<()> {
    restart_within(client, namespace, pod, grace, grace + START_PATIENCE, POLL).await
}

async fn restart_within(
    client: &Client,
    namespace: &str,
    pod: &str,
    grace: Duration,
    patience: Duration,
    poll: Duration,
) -> EngineResult<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let request = |verb, resource| Request {
        verb,
        resource,
        kind: "pod",
        namespace,
        name: pod,
    };
    let old = pods
        .get(pod)
        .await
        .map_err(|e| request("get", "pods").error(e))?;
    let label = |key: &str| {
        old.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
    };
    let (Some(instance), Some(service)) = (label(labels::INSTANCE), label(labels::SERVICE)) else {
        return Err(request("delete", "pods")
            .failed("it carries no io.envctl.instance/io.envctl.service labels: envctl restarts only its own pods"));
    };
    let params = DeleteParams {
        grace_period_seconds: Some(u32::try_from(grace.as_secs()).unwrap_or(u32::MAX)),
        ..DeleteParams::default()
    };
    pods.delete(pod, &params)
        .await
        .map_err(|e| request("delete", "pods").error(e))?;

    let selector = format!(
        "{}={instance},{}={service}",
        labels::INSTANCE,
        labels::SERVICE
    );
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| request("list", "pods").error(e))?;
        let new: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| {
                p.metadata.uid != old.metadata.uid && p.metadata.deletion_timestamp.is_none()
            })
            .collect();
        if new.iter().any(|p| phase(p) == "Running") {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let seen = match new.first() {
                Some(p) => format!(
                    "its new pod {} is {}",
                    p.metadata.name.as_deref().unwrap_or("?"),
                    describe(p)
                ),
                None => "no new pod was created (is its Deployment scaled to 0?)".into(),
            };
            return Err(request("restart", "pods").failed(&format!(
                "service {service} has no running pod {}s after the old one was deleted: {seen}",
                patience.as_secs()
            )));
        }
        tokio::time::sleep(poll).await;
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// `Pending (ImagePullBackOff: Back-off pulling image "x")`: the phase and why a container
/// waits, the first thing a user asks.
fn describe(pod: &Pod) -> String {
    let waiting = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref());
    match waiting {
        Some(w) => format!(
            "{} ({}: {})",
            phase(pod),
            w.reason.as_deref().unwrap_or("waiting"),
            w.message.as_deref().unwrap_or("")
        ),
        None => phase(pod).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_api::{client, json, status};
    use super::*;
    use serde_json::{json, Value};

    fn pod(name: &str, uid: &str, phase: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": "envctl-shop", "uid": uid,
                "labels": { "io.envctl.instance": "shop", "io.envctl.service": "web" }
            },
            "status": { "phase": phase }
        })
    }

    fn list(items: Vec<Value>) -> http::Response<axum::body::Body> {
        json(
            200,
            json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items }),
        )
    }

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn deletes_with_the_grace_period_and_waits_for_a_new_running_pod() {
        let (client, log) =
            client(
                |seen, index| match (seen.line.split_once(' ').unwrap().0, index) {
                    ("GET", 0) => json(200, pod("web-a", "u1", "Running")),
                    ("DELETE", 1) => json(200, pod("web-a", "u1", "Running")),
                    // The old pod is still terminating, the new one not running yet; then it runs.
                    (_, 2) => list(vec![
                        pod("web-a", "u1", "Running"),
                        pod("web-b", "u2", "Pending"),
                    ]),
                    (_, _) => list(vec![pod("web-b", "u2", "Running")]),
                },
            );
        restart_within(
            &client,
            "envctl-shop",
            "web-a",
            Duration::from_secs(7),
            Duration::from_secs(10),
            MS,
        )
        .await
        .unwrap();
        let lines = log.lines();
        assert_eq!(
            lines,
            [
                "GET /api/v1/namespaces/envctl-shop/pods/web-a",
                "DELETE /api/v1/namespaces/envctl-shop/pods/web-a?",
                "GET /api/v1/namespaces/envctl-shop/pods?&labelSelector=io.envctl.instance=shop,io.envctl.service=web",
                "GET /api/v1/namespaces/envctl-shop/pods?&labelSelector=io.envctl.instance=shop,io.envctl.service=web",
            ]
        );
        assert_eq!(log.all()[1].json()["gracePeriodSeconds"], 7);
    }

    #[tokio::test]
    async fn a_new_pod_that_never_runs_is_reported_with_its_reason() {
        let (client, _) = client(|seen, _| match seen.line.split_once(' ').unwrap().0 {
            "GET" if seen.line.contains("labelSelector") => {
                let mut waiting = pod("web-b", "u2", "Pending");
                waiting["status"]["containerStatuses"] = json!([{
                    "name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                    "state": { "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image" } }
                }]);
                list(vec![waiting])
            }
            _ => json(200, pod("web-a", "u1", "Running")),
        });
        let err = restart_within(
            &client,
            "envctl-shop",
            "web-a",
            Duration::ZERO,
            Duration::from_millis(20),
            MS,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("pod envctl-shop/web-a"), "{err}");
        assert!(
            err.contains("web-b is Pending (ImagePullBackOff: Back-off pulling image)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_pod_without_envctl_labels_is_not_touched() {
        let (client, log) = client(|_, _| {
            json(
                200,
                json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "x" } }),
            )
        });
        let err = restart(&client, "kube-system", "x", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("envctl restarts only its own pods"),
            "{err}"
        );
        assert_eq!(log.lines().len(), 1, "no delete");
    }

    #[tokio::test]
    async fn a_missing_pod_is_not_found() {
        let (client, _) = client(|_, _| status(404, "NotFound", "pods \"x\" not found"));
        let err = restart(&client, "envctl-shop", "x", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            matches!(err, crate::engine::EngineError::NotFound { .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "pod envctl-shop/x not found");
    }
}
