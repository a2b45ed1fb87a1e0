//! Names and labels shared by every object of an instance: the namespace, the `io.envctl.*`
//! ownership labels (the same keys as on Docker objects) and the selector of a service's pods.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::model::{labels, Environment, InstanceId};

/// Kubernetes names (namespaces, Services) are DNS labels of at most 63 characters.
const MAX_NAME: usize = 63;

/// `envctl-<instance>`: one namespace per instance, so instances never share a name.
pub fn namespace_name(instance: &str) -> String {
    format!("envctl-{instance}")
}

/// The ownership labels of every object of `instance` (the keys Docker objects carry, plus
/// Kubernetes' managed-by); the instance lock's namespace gets them too.
pub fn instance_labels(instance: &InstanceId) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (labels::INSTANCE.to_string(), instance.as_str().to_string()),
        (labels::ENV.to_string(), instance.env().to_string()),
        (
            labels::MANAGED_BY_KEY.to_string(),
            labels::MANAGED_BY_VALUE.to_string(),
        ),
    ]);
    if let Some(feature) = instance.feature() {
        labels.insert(labels::FEATURE.to_string(), feature.to_string());
    }
    labels
}

/// What every object of one instance carries: its namespace and ownership labels.
pub struct Scope {
    pub namespace: String,
    labels: Map<String, Value>,
}

impl Scope {
    pub fn new(env: &Environment) -> Result<Self, String> {
        let namespace = namespace_name(env.instance.as_str());
        check_name("namespace", &namespace)?;
        let labels = instance_labels(&env.instance)
            .into_iter()
            .map(|(key, value)| (key, json!(value)))
            .collect();
        Ok(Self { namespace, labels })
    }

    /// The instance's labels, plus `io.envctl.service` for a service's objects.
    pub fn labels(&self, service: Option<&str>) -> Value {
        let mut labels = self.labels.clone();
        if let Some(service) = service {
            labels.insert(labels::SERVICE.into(), json!(service));
        }
        Value::Object(labels)
    }

    /// The labels that pick one service's pods: instance and service (the namespace already
    /// separates instances; the instance label keeps a selector exact if copied elsewhere).
    pub fn selector(&self, service: &str) -> Value {
        json!({
            labels::INSTANCE: self.labels[labels::INSTANCE],
            labels::SERVICE: service,
        })
    }

    /// `metadata` of a namespaced object.
    pub fn metadata(&self, name: &str, service: Option<&str>) -> Value {
        json!({
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(service),
        })
    }
}

/// A name Kubernetes accepts for a namespace or Service (RFC 1035 label: starts with a
/// letter, at most 63 characters); model names are already lowercase DNS labels.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME {
        return Err(format!(
            "{what} name `{name}` is {} characters; Kubernetes allows {MAX_NAME}",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "{what} name `{name}` must start with a letter on Kubernetes"
        ));
    }
    Ok(())
}
