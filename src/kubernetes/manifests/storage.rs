//! Named volumes → PersistentVolumeClaims, one per volume name in the instance (services that
//! share a name share the claim, as they share the Docker volume).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::meta::Scope;
use crate::model::{Environment, VolumeSource};

/// Definitions give no size; a claim must ask for one. The cluster's default StorageClass
/// provisions it (docs/kubernetes.md).
pub const DEFAULT_SIZE: &str = "1Gi";

/// The claim's name: the volume's own name (the namespace already scopes it to the instance).
pub fn claim_name(volume: &str) -> String {
    volume.to_string()
}

pub fn claims(scope: &Scope, env: &Environment) -> Vec<Value> {
    let names: BTreeSet<&str> = env
        .services
        .values()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| match &v.source {
            VolumeSource::Named(name) => Some(name.as_str()),
            VolumeSource::Bind(_) => None,
        })
        .collect();
    names
        .into_iter()
        .map(|name| {
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": scope.metadata(&claim_name(name), None),
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": DEFAULT_SIZE } },
                },
            })
        })
        .collect()
}
