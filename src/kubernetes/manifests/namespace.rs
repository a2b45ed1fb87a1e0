//! The instance's Namespace, labelled like the Docker network and annotated with the lease
//! envctl knows at render time.

use serde_json::{json, Value};

use super::meta::Scope;
use crate::model::{labels, Environment};

/// The Namespace. A feature instance carries its default lifetime (`ttl:`, seconds) as on a
/// Docker lease; the owner and the expiry time are known only when `up` runs, so render
/// leaves them out (and stays reproducible).
pub fn namespace(scope: &Scope, env: &Environment) -> Value {
    let mut doc = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": scope.namespace, "labels": scope.labels(None) },
    });
    if let (Some(_), Some(ttl)) = (&env.feature, env.ttl) {
        doc["metadata"]["annotations"] = json!({ labels::TTL: ttl.as_secs().to_string() });
    }
    doc
}
