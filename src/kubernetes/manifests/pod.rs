//! One service → the pod template its Deployment or Job runs: the container (image, command,
//! env, ports, resources, readiness, mounts) and the pod-level host access `allow:` permits.

use serde_json::{json, Map, Value};

use super::{probes, quantities, secrets, services::kube_protocol, storage};
use crate::model::{host_port_token, EnvValue, PullPolicy, Resources, Service, VolumeSource};

/// The pod template's `spec` (without `restartPolicy`, which the workload decides).
pub fn pod_spec(service: &Service) -> Value {
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([container(service)]));
    let volumes = volumes(service);
    if !volumes.is_empty() {
        spec.insert("volumes".into(), json!(volumes));
    }
    // Loading refused these unless the definition's `allow:` names them.
    if service.host_access.network {
        spec.insert("hostNetwork".into(), json!(true));
    }
    if service.host_access.pid {
        spec.insert("hostPID".into(), json!(true));
    }
    Value::Object(spec)
}

fn container(service: &Service) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(service.name.as_str()));
    c.insert("image".into(), json!(service.image));
    c.insert("imagePullPolicy".into(), json!(pull_policy(service.pull)));
    // Docker's entrypoint is Kubernetes' command; Docker's command is its args.
    if let Some(entrypoint) = &service.entrypoint {
        c.insert("command".into(), json!(entrypoint));
    }
    if let Some(command) = &service.command {
        c.insert("args".into(), json!(command));
    }
    if !service.env.is_empty() {
        c.insert("env".into(), json!(env(service)));
    }
    if !service.ports.is_empty() {
        let ports: Vec<Value> = service
            .ports
            .iter()
            .map(|p| json!({ "containerPort": p.container, "protocol": kube_protocol(p.protocol) }))
            .collect();
        c.insert("ports".into(), json!(ports));
    }
    if let Some(resources) = resources(&service.resources) {
        c.insert("resources".into(), resources);
    }
    if let Some(probe) = probes::readiness(service) {
        c.insert("readinessProbe".into(), probe);
    }
    if !service.volumes.is_empty() {
        let mounts: Vec<Value> = service
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut m = json!({ "name": volume_name(i, &v.source), "mountPath": v.target });
                if v.read_only {
                    m["readOnly"] = json!(true);
                }
                m
            })
            .collect();
        c.insert("volumeMounts".into(), json!(mounts));
    }
    if service.host_access.privileged {
        c.insert("securityContext".into(), json!({ "privileged": true }));
    }
    Value::Object(c)
}

pub fn pull_policy(pull: PullPolicy) -> &'static str {
    match pull {
        PullPolicy::Missing => "IfNotPresent",
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
    }
}

/// Plain values as they are (a host-port token shown as its placeholder: the node port is
/// allocated by the backend step); secrets only as references into the instance's Secret.
fn env(service: &Service) -> Vec<Value> {
    service
        .env
        .iter()
        .map(|(name, value)| match value {
            EnvValue::Plain(text) => json!({
                "name": name,
                "value": host_port_token::display(text, |_, _| None),
            }),
            EnvValue::FromEnv(_) | EnvValue::FromFile(_) => json!({
                "name": name,
                "valueFrom": { "secretKeyRef": {
                    "name": secrets::SECRET_NAME,
                    "key": secrets::key(service.name.as_str(), name),
                }},
            }),
        })
        .collect()
}

/// Requests equal limits: Docker reserves nothing but caps usage, and a request below the
/// limit would let the scheduler overcommit a node the definition sized for.
pub fn resources(r: &Resources) -> Option<Value> {
    let mut amounts = Map::new();
    if let Some(bytes) = r.memory_bytes {
        amounts.insert("memory".into(), json!(quantities::memory(bytes)));
    }
    if let Some(cpus) = r.cpus {
        amounts.insert("cpu".into(), json!(quantities::cpu(cpus)));
    }
    (!amounts.is_empty()).then(|| json!({ "requests": amounts, "limits": amounts }))
}

/// A pod volume per mount: named volumes by their own name (a DNS label already), host
/// paths by position (`bind-0`; a named volume called so would clash and the API server
/// would refuse the duplicate, never mix them up).
fn volume_name(index: usize, source: &VolumeSource) -> String {
    match source {
        VolumeSource::Named(name) => name.clone(),
        VolumeSource::Bind(_) => format!("bind-{index}"),
    }
}

fn volumes(service: &Service) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    service
        .volumes
        .iter()
        .enumerate()
        .filter(|(i, v)| seen.insert(volume_name(*i, &v.source)))
        .map(|(i, v)| {
            let name = volume_name(i, &v.source);
            match &v.source {
                VolumeSource::Named(volume) => json!({
                    "name": name,
                    "persistentVolumeClaim": { "claimName": storage::claim_name(volume) },
                }),
                // The path is this machine's; on a cluster it must exist on the node
                // (docs/kubernetes.md). Loading refused it unless inside the definition's
                // directory or allowed with `allow: [outside-binds]`.
                VolumeSource::Bind(path) => json!({
                    "name": name,
                    "hostPath": { "path": path.display().to_string() },
                }),
            }
        })
        .collect()
}
