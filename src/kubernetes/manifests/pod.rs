//! One service → the pod template its Deployment or Job runs: the container (image, command,
//! env, ports, resources, readiness, mounts) and the pod-level host access `allow:` permits.

use serde_json::{json, Map, Value};

use super::inputs::{Advertise, MappingInputs};
use super::{probes, quantities, secrets, services::kube_protocol, storage};
use crate::kubernetes::images;
use crate::local::SELF_ADDRESS_KEYS;
use crate::model::{host_port_token, EnvValue, Resources, Service, VolumeSource};

/// The pod template's `spec` (without `restartPolicy`, which the workload decides), or the
/// problems of its service (a `host_port` token without a node port).
pub fn pod_spec(service: &Service, inputs: &MappingInputs) -> Result<Value, Vec<String>> {
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([container(service, inputs)?]));
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
    Ok(Value::Object(spec))
}

fn container(service: &Service, inputs: &MappingInputs) -> Result<Value, Vec<String>> {
    let mut c = Map::new();
    c.insert("name".into(), json!(service.name.as_str()));
    let image = images::mapped(service, inputs.registry.as_deref());
    c.insert("image".into(), json!(image.name));
    c.insert("imagePullPolicy".into(), json!(image.pull_policy));
    // Docker's entrypoint is Kubernetes' command; Docker's command is its args.
    if let Some(entrypoint) = &service.entrypoint {
        c.insert("command".into(), json!(entrypoint));
    }
    if let Some(command) = &service.command {
        c.insert("args".into(), json!(command));
    }
    if !service.env.is_empty() {
        c.insert("env".into(), json!(env(service, inputs)?));
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
    Ok(Value::Object(c))
}

/// Plain values, with `host_port` tokens as node ports (placeholders when none are known:
/// render); the provider's own address (`DUBBO_IP_TO_REGISTRY`) as `inputs.advertise` says;
/// secrets only as references into the instance's Secret.
fn env(service: &Service, inputs: &MappingInputs) -> Result<Vec<Value>, Vec<String>> {
    let mut problems = Vec::new();
    let vars = service
        .env
        .iter()
        .map(|(name, value)| match value {
            EnvValue::Plain(text) if SELF_ADDRESS_KEYS.contains(&name.as_str()) => {
                match &inputs.advertise {
                    Advertise::AsDefined => json!({ "name": name, "value": text }),
                    Advertise::Literal(host) => json!({ "name": name, "value": host }),
                    // The node the pod landed on: its node ports answer there.
                    Advertise::NodeHostIp => json!({
                        "name": name,
                        "valueFrom": { "fieldRef": { "fieldPath": "status.hostIP" } },
                    }),
                }
            }
            EnvValue::Plain(text) => {
                let value = if inputs.node_port_range.is_some() {
                    host_port_token::expand(text, |s, p| inputs.node_port(s, p)).unwrap_or_else(
                        |e| {
                            problems.push(format!(
                                "service `{}`: env `{name}`: {e} (no node port was allocated for it)",
                                service.name
                            ));
                            text.clone()
                        },
                    )
                } else {
                    host_port_token::display(text, |s, p| inputs.node_port(s, p))
                };
                json!({ "name": name, "value": value })
            }
            EnvValue::FromEnv(_) | EnvValue::FromFile(_) => json!({
                "name": name,
                "valueFrom": { "secretKeyRef": {
                    "name": secrets::SECRET_NAME,
                    "key": secrets::key(service.name.as_str(), name),
                }},
            }),
        })
        .collect();
    if problems.is_empty() {
        Ok(vars)
    } else {
        Err(problems)
    }
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
