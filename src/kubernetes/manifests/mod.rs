//! `model::Environment` → Kubernetes manifests, as `serde_json::Value`s: pure, no I/O, no
//! cluster client. One file per kind of object; this one orders them and gathers every
//! problem at once, as the definition loader does.

mod inputs;
mod meta;
mod namespace;
mod network_policy;
mod pod;
mod probes;
mod quantities;
mod secrets;
mod services;
mod storage;
mod workloads;

use serde_json::Value;

use crate::model::Environment;

pub use inputs::{Advertise, MappingInputs, NodePorts};
pub use meta::{instance_labels, namespace_name};
pub use secrets::{key as secret_key, SECRET_NAME};
pub use services::NODEPORT_SUFFIX;
pub use workloads::LOCAL_IMAGE;

/// Parts of a definition Kubernetes cannot express, one line each, naming the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot map `{instance}` to Kubernetes:\n  {}", .problems.join("\n  "))]
pub struct MappingError {
    pub instance: String,
    pub problems: Vec<String>,
}

/// Every manifest of one instance as render shows it (`MappingInputs::render`: placeholders
/// for node ports, secrets and the Dubbo address).
pub fn manifests(env: &Environment) -> Result<Vec<Value>, MappingError> {
    manifests_with(env, &MappingInputs::render())
}

/// Every manifest of one instance, in apply order: Namespace, Secrets, PersistentVolumeClaims,
/// Services, Deployments and Jobs (dependency order), NetworkPolicy; with what `inputs` knows
/// filled in.
pub fn manifests_with(
    env: &Environment,
    inputs: &MappingInputs,
) -> Result<Vec<Value>, MappingError> {
    let mut problems = Vec::new();
    let ns = match meta::Scope::new(env) {
        Ok(ns) => ns,
        Err(problem) => {
            return Err(MappingError {
                instance: env.instance.to_string(),
                problems: vec![problem],
            })
        }
    };
    let mut docs = vec![namespace::namespace(&ns, env)];
    match secrets::secret(&ns, env, inputs.secrets.as_ref()) {
        Ok(secret) => docs.extend(secret),
        Err(mut more) => problems.append(&mut more),
    }
    docs.extend(storage::claims(&ns, env));
    match services::services(&ns, env, inputs) {
        Ok(services) => docs.extend(services),
        Err(mut more) => problems.append(&mut more),
    }
    for name in env.dependency_order() {
        match workloads::workload(&ns, &env.services[name], inputs) {
            Ok(doc) => docs.push(doc),
            Err(mut more) => problems.append(&mut more),
        }
    }
    docs.push(network_policy::isolation(&ns, env));
    if problems.is_empty() {
        Ok(docs)
    } else {
        Err(MappingError {
            instance: env.instance.to_string(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests;
