//! The fake server's "controllers", run right after a write: a Deployment gets one pod (a new
//! one when its template changed), a Job a pod and a result, a NodePort Service its node
//! ports; deleting a workload takes its pods along, a deleted pod of a Deployment is replaced. Pods turn out as the test's `PodFate`
//! for their service says (Ready by default).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{PodFate, State};

const SERVICE_LABEL: &str = "io.envctl.service";

/// Gives each port of a NodePort Service a node port (kept ones stay). A node port another
/// Service holds is refused, as the API server refuses it: the port it names.
pub fn allocate_node_ports(state: &mut State, service: &mut Value) -> Result<(), u16> {
    if service["spec"]["type"] != "NodePort" {
        return Ok(());
    }
    let me = (
        service["metadata"]["namespace"].clone(),
        service["metadata"]["name"].clone(),
    );
    let held: Vec<u64> = state
        .store
        .list("Service", None, "")
        .iter()
        .filter(|other| {
            (
                other["metadata"]["namespace"].clone(),
                other["metadata"]["name"].clone(),
            ) != me
        })
        .flat_map(|other| {
            other["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["nodePort"].as_u64())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut next = || 30000 + (state.store.next() % 2000);
    for port in service["spec"]["ports"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        match port["nodePort"].as_u64() {
            Some(wanted) if held.contains(&wanted) => return Err(wanted as u16),
            Some(_) => {}
            None => port["nodePort"] = json!(next()),
        }
    }
    Ok(())
}

pub fn after_apply(state: &mut State, object: &Value) {
    match object["kind"].as_str() {
        Some("Deployment") => run_pod(state, object, false),
        Some("Job") => run_pod(state, object, true),
        _ => {}
    }
}

pub fn after_delete(state: &mut State, object: &Value) {
    let kind = object["kind"].as_str().unwrap_or_default();
    if kind == "Pod" {
        return replace_pod(state, object);
    }
    if kind != "Deployment" && kind != "Job" {
        return;
    }
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    for pod in owned_pods(state, namespace, kind, name) {
        state.store.remove("Pod", namespace, &pod);
    }
}

/// A deleted pod of a Deployment is replaced (a new uid), as its ReplicaSet would.
fn replace_pod(state: &mut State, pod: &Value) {
    let owner = &pod["metadata"]["ownerReferences"][0];
    if owner["kind"] != "Deployment" {
        return;
    }
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = owner["name"].as_str().unwrap_or_default();
    if let Some(deployment) = state.store.find("Deployment", namespace, name).cloned() {
        run_pod(state, &deployment, false);
    }
}

fn owned_pods(state: &State, namespace: &str, kind: &str, name: &str) -> Vec<String> {
    state
        .store
        .all("Pod", namespace)
        .iter()
        .filter(|pod| {
            let owner = &pod["metadata"]["ownerReferences"][0];
            owner["kind"] == kind && owner["name"] == name
        })
        .map(|pod| {
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// One pod for the workload's current template, and the workload's status.
fn run_pod(state: &mut State, workload: &Value, job: bool) {
    let namespace = workload["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = workload["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kind = workload["kind"].as_str().unwrap_or_default().to_string();
    let template = &workload["spec"]["template"];
    let digest = hex::encode(Sha256::digest(template.to_string().as_bytes()));
    let pod_name = format!("{name}-{}", &digest[..10]);
    for old in owned_pods(state, &namespace, &kind, &name) {
        if old != pod_name {
            state.store.remove("Pod", &namespace, &old);
        }
    }
    let service = template["metadata"]["labels"][SERVICE_LABEL]
        .as_str()
        .unwrap_or(&name)
        .to_string();
    let fate = state.fates.get(&service).cloned().unwrap_or(PodFate::Ready);
    if state.store.find("Pod", &namespace, &pod_name).is_none() {
        let ip = format!("10.244.0.{}", state.store.next() % 250 + 2);
        let container = template["spec"]["containers"][0]["name"]
            .as_str()
            .unwrap_or(&name)
            .to_string();
        let image = template["spec"]["containers"][0]["image"].clone();
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "labels": template["metadata"]["labels"].clone(),
                "ownerReferences": [{ "kind": kind, "name": name }],
            },
            "spec": template["spec"].clone(),
            "status": pod_status(&fate, job, &container, &image, &ip),
        });
        state.store.put_new(pod);
    }
    let status = workload_status(&fate, job, workload);
    if let Some(stored) = state.store.find_mut(&kind, &namespace, &name) {
        stored["status"] = status;
    }
}

fn pod_status(fate: &PodFate, job: bool, container: &str, image: &Value, ip: &str) -> Value {
    let waiting = |reason: &str, message: &str| json!({ "waiting": { "reason": reason, "message": message } });
    let (phase, ready, state, restarts) = match (fate, job) {
        (PodFate::Ready, false) => ("Running", true, json!({ "running": {} }), 0),
        (PodFate::Ready, true) => (
            "Succeeded",
            false,
            json!({ "terminated": { "exitCode": 0, "reason": "Completed" } }),
            0,
        ),
        (PodFate::JobFails, _) => (
            "Failed",
            false,
            json!({ "terminated": { "exitCode": 1, "reason": "Error" } }),
            0,
        ),
        (PodFate::Starting, _) => ("Running", false, json!({ "running": {} }), 0),
        (PodFate::CrashLoop, _) => (
            "Running",
            false,
            waiting(
                "CrashLoopBackOff",
                &format!("back-off 40s restarting failed container={container}"),
            ),
            4,
        ),
        (PodFate::ImagePullBackOff, _) => (
            "Pending",
            false,
            waiting(
                "ImagePullBackOff",
                &format!("Back-off pulling image {image}"),
            ),
            0,
        ),
    };
    json!({
        "phase": phase,
        "podIP": ip,
        "hostIP": "127.0.0.1",
        "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
        "containerStatuses": [{
            "name": container, "image": image, "ready": ready,
            "restartCount": restarts, "state": state,
        }],
    })
}

fn workload_status(fate: &PodFate, job: bool, workload: &Value) -> Value {
    let generation = workload["metadata"]["generation"].clone();
    if job {
        return match fate {
            PodFate::Ready => json!({
                "succeeded": 1,
                "conditions": [{ "type": "Complete", "status": "True" }],
            }),
            PodFate::JobFails => json!({
                "failed": 1,
                "conditions": [{
                    "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }],
            }),
            _ => json!({ "active": 1 }),
        };
    }
    let ready = i64::from(*fate == PodFate::Ready);
    json!({
        "observedGeneration": generation,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": ready,
        "availableReplicas": ready,
    })
}
