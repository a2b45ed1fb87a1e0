//! `plan` on a cluster: desired objects (`desired`) against what the instance's namespace
//! holds (`observe`), compared by spec hash. Each difference is an `ApplyObject` (missing, or
//! changed: naming the fields) or a `DeleteObject` (no longer defined; claims never), and
//! every change to an existing object is validated by the server with a dry-run apply.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::api::Kube;
use super::desired::{changed_fields, desired, spec_hash};
use super::kinds::{Kind, CLAIM, JOB, NAMESPACE};
use super::mapping::{self, MappingSettings};
use super::observe::{name_of, observe, ownership_problems};
use crate::apply::UpError;
use crate::engine::EngineError;
use crate::kubernetes::manifests::namespace_name;
use crate::kubernetes::MappingInputs;
use crate::model::{labels, Environment, Protocol};
use crate::plan::{Action, Plan, PlanError, PlanErrors, PlanInputs, ServiceTarget};

/// A plan and what carrying it out needs.
#[derive(Debug)]
pub struct KubePlan {
    pub plan: Plan,
    /// The objects to apply, in apply order (each has its `ApplyObject` in the plan).
    pub applies: Vec<ToApply>,
    /// The objects to delete (each has its `DeleteObject`).
    pub deletes: Vec<(Kind, String)>,
}

/// One object to apply, and the fields that changed (`None`: it does not exist yet). A
/// changed Job is deleted right before it is applied again (its template is immutable).
#[derive(Debug)]
pub struct ToApply {
    pub object: Value,
    pub changed: Option<Vec<String>>,
}

/// Plans `env`'s instance; changes nothing (dry-run applies persist nothing).
pub async fn plan(
    kube: &Kube,
    env: &Environment,
    inputs: &PlanInputs<'_>,
    settings: &MappingSettings,
) -> Result<KubePlan, UpError> {
    super::unsupported::refuse(env)?;
    let observed = observe(kube, &env.instance).await?;
    let problems = ownership_problems(&observed, &env.instance);
    if !problems.is_empty() {
        return Err(PlanErrors(problems.into_iter().map(PlanError::NotOurs).collect()).into());
    }
    let mapping = mapping::inputs(kube, env, &observed, settings, inputs).await?;
    let key = inputs.spec_key.get().map_err(|e| EngineError::Api {
        context: "the spec key (what seals secret values in spec hashes)".into(),
        message: e.to_string(),
    })?;
    let mut wanted = desired(env, &mapping, key)?;
    if let Some(ns) = &observed.namespace {
        if !ns["metadata"]["deletionTimestamp"].is_null() {
            return Err(EngineError::Api {
                context: format!("Kubernetes: namespace `{}`", name_of(ns)),
                message: "it is being deleted (a `down` of this instance); nothing can be created in it until it is gone: run up again once `envctl ls` no longer shows it".into(),
            }
            .into());
        }
    }
    let mut actions = Vec::new();
    let mut applies = Vec::new();
    let mut defined = BTreeSet::new();
    for doc in &mut wanted {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = name_of(doc).to_string();
        defined.insert((kind.clone(), name.clone()));
        let existing = if kind == NAMESPACE.kind {
            observed.namespace.as_ref()
        } else {
            observed.find(&kind, &name)
        };
        if kind == NAMESPACE.kind {
            namespace_extras(doc, existing, &inputs.owner);
        }
        let Some(found) = existing else {
            actions.push(Action::ApplyObject {
                kind,
                name,
                reason: "does not exist".into(),
            });
            applies.push(ToApply {
                object: doc.clone(),
                changed: None,
            });
            continue;
        };
        if spec_hash(found) == spec_hash(doc) {
            continue;
        }
        let changed = changed_fields(found, doc);
        let how = if kind == JOB.kind {
            // A Job's pod template is immutable: it runs again as a new Job.
            "a Job cannot change: deleted and created again"
        } else {
            // The server checks the change now (admission, immutable fields, someone else's
            // fields), so `plan` fails where `up` would.
            kube.apply(doc, true).await?;
            "server dry-run accepted"
        };
        let reason = format!("changed: {}; {how}", changed.join(", "));
        actions.push(Action::ApplyObject { kind, name, reason });
        applies.push(ToApply {
            object: doc.clone(),
            changed: Some(changed),
        });
    }
    let mut deletes = Vec::new();
    for (kind, object) in &observed.objects {
        let name = name_of(object).to_string();
        if *kind == CLAIM || defined.contains(&(kind.kind.to_string(), name.clone())) {
            continue;
        }
        actions.push(Action::DeleteObject {
            kind: kind.kind.to_string(),
            name: name.clone(),
        });
        deletes.push((*kind, name));
    }
    let plan = Plan {
        instance: env.instance.clone(),
        network: namespace_name(env.instance.as_str()),
        actions,
        services: targets(env, &mapping),
        port_moves: Vec::new(),
    };
    Ok(KubePlan {
        plan,
        applies,
        deletes,
    })
}

/// What the applied namespace carries beyond its manifest (after hashing). Who made the
/// instance goes on it once, when it is created, and stays: a later `up` by someone else
/// keeps the first owner, as the Docker network does. Its lifetime (`io.envctl.ttl`) is left
/// to the lease (`leases`), which writes it with the expiry: were both to set it, an
/// `up --ttl` other than the definition's would make the next apply conflict with it.
fn namespace_extras(namespace: &mut Value, existing: Option<&Value>, owner: &str) {
    if let Some(annotations) = namespace["metadata"]["annotations"].as_object_mut() {
        annotations.remove(labels::TTL);
    }
    let owner = existing
        .and_then(|ns| ns["metadata"]["annotations"][labels::OWNER].as_str())
        .unwrap_or(owner)
        .to_string();
    if owner.is_empty() {
        return;
    }
    let metadata = &mut namespace["metadata"];
    if metadata["annotations"].is_null() {
        metadata["annotations"] = json!({});
    }
    metadata["annotations"][labels::OWNER] = json!(owner);
}

/// What `apply` and `status` need of every service, in dependency order. Its "host ports"
/// are the node ports envctl gives it (kept from its NodePort Service when that exists).
fn targets(env: &Environment, mapping: &MappingInputs) -> Vec<ServiceTarget> {
    env.dependency_order()
        .into_iter()
        .map(|name| {
            let service = &env.services[name];
            ServiceTarget {
                name: name.clone(),
                container_name: env.instance.container_name(name),
                kind: service.kind,
                image: service.image.clone(),
                depends_on: service.depends_on.clone(),
                healthcheck: service.healthcheck.clone(),
                ports: service
                    .ports
                    .iter()
                    .filter_map(|p| {
                        let node_port = mapping.node_ports.get(&(name.to_string(), p.container))?;
                        Some(((p.container, p.protocol), *node_port))
                    })
                    .collect(),
                existing_id: None,
                bind_sources: Vec::new(),
                seed: None,
                own_registrations: env.overlay.is_some(),
            }
        })
        .collect()
}

/// `node_ports` over Services (those listed in a namespace).
pub fn node_ports_of<'a>(
    objects: impl Iterator<Item = &'a Value>,
    service: &str,
) -> BTreeMap<(u16, Protocol), u16> {
    let mut ports = BTreeMap::new();
    for object in objects {
        let own = object["metadata"]["labels"][labels::SERVICE].as_str() == Some(service);
        if !own || object["spec"]["type"] != "NodePort" {
            continue;
        }
        for port in object["spec"]["ports"].as_array().into_iter().flatten() {
            let protocol = match port["protocol"].as_str() {
                Some("UDP") => Protocol::Udp,
                _ => Protocol::Tcp,
            };
            let (Some(container), Some(node)) = (port["port"].as_u64(), port["nodePort"].as_u64())
            else {
                continue;
            };
            ports.insert((container as u16, protocol), node as u16);
        }
    }
    ports
}
