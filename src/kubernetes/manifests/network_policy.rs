//! One NetworkPolicy per instance: pods take traffic from their own namespace only, so
//! instances cannot reach each other (as separate Docker networks keep them apart), plus the
//! published ports from anywhere, which is what NodePorts are for.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{meta::Scope, services::kube_protocol};
use crate::model::{Environment, Protocol};

pub const NAME: &str = "envctl-isolation";

pub fn isolation(scope: &Scope, env: &Environment) -> Value {
    let mut ingress = vec![json!({ "from": [{ "podSelector": {} }] })];
    let published: BTreeSet<(u16, Protocol)> = env
        .services
        .values()
        .flat_map(|s| &s.ports)
        .map(|p| (p.container, p.protocol))
        .collect();
    if !published.is_empty() {
        // Node-port traffic reaches the pod on its container port, often from a node address.
        let ports: Vec<Value> = published
            .iter()
            .map(|&(port, protocol)| json!({ "port": port, "protocol": kube_protocol(protocol) }))
            .collect();
        ingress.push(json!({ "ports": ports }));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": scope.metadata(NAME, None),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    })
}
