//! Names and labels shared by every object of an instance: the namespace, the `io.envctl.*`
//! ownership labels (the same keys as on Docker objects) and the selector of a service's pods.

use serde_json::{json, Map, Value};

use crate::model::{labels, Environment};

/// Kubernetes names (namespaces, Services) are DNS labels of at most 63 characters.
const MAX_NAME: usize = 63;

/// `envctl-<instance>`: one namespace per instance, so instances never share a name.
pub fn namespace_name(instance: &str) -> String {
    format!("envctl-{instance}")
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
        let mut labels = Map::new();
        labels.insert(labels::INSTANCE.into(), json!(env.instance.as_str()));
        labels.insert(labels::ENV.into(), json!(env.env));
        if let Some(feature) = &env.feature {
            labels.insert(labels::FEATURE.into(), json!(feature));
        }
        labels.insert(
            labels::MANAGED_BY_KEY.into(),
            json!(labels::MANAGED_BY_VALUE),
        );
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
