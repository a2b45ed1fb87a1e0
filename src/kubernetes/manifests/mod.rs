//! `model::Environment` → Kubernetes manifests, as `serde_json::Value`s: pure, no I/O, no
//! cluster client. One file per kind of object; this one orders them and gathers every
//! problem at once, as the definition loader does.

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

pub use meta::namespace_name;

/// Parts of a definition Kubernetes cannot express, one line each, naming the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot map `{instance}` to Kubernetes:\n  {}", .problems.join("\n  "))]
pub struct MappingError {
    pub instance: String,
    pub problems: Vec<String>,
}

/// Every manifest of one instance, in apply order: Namespace, Secrets, PersistentVolumeClaims,
/// Services, Deployments and Jobs (dependency order), NetworkPolicy.
pub fn manifests(env: &Environment) -> Result<Vec<Value>, MappingError> {
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
    docs.extend(secrets::secret(&ns, env));
    docs.extend(storage::claims(&ns, env));
    match services::services(&ns, env) {
        Ok(services) => docs.extend(services),
        Err(mut more) => problems.append(&mut more),
    }
    for name in env.dependency_order() {
        match workloads::workload(&ns, &env.services[name]) {
            Ok(doc) => docs.push(doc),
            Err(problem) => problems.push(problem),
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
