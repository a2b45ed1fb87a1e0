//! `from_env`/`from_file` values → one Secret per instance, referenced by `secretKeyRef`.
//! Render never reads the secret: each key holds a placeholder naming where `up` will take
//! the value from, so a manifest printed or committed never carries one.

use serde_json::{json, Map, Value};

use super::meta::Scope;
use crate::model::{EnvValue, Environment, Service};

/// The Secret's name in the instance's namespace.
pub const SECRET_NAME: &str = "envctl-secrets";

/// The key of `service`'s variable `var`: unique per instance, and a valid Secret key
/// (service names are DNS labels; variable names are checked at load).
pub fn key(service: &str, var: &str) -> String {
    format!("{service}.{var}")
}

/// What stands in for a secret's value in rendered output.
pub fn placeholder(value: &EnvValue) -> Option<String> {
    match value {
        EnvValue::Plain(_) => None,
        EnvValue::FromEnv(name) => Some(format!("<secret: from_env {name}, filled at up>")),
        EnvValue::FromFile(path) => Some(format!(
            "<secret: from_file {}, filled at up>",
            path.display()
        )),
    }
}

/// The Secret, or nothing when no service has a secret.
pub fn secret(scope: &Scope, env: &Environment) -> Option<Value> {
    let mut data = Map::new();
    for service in env.services.values() {
        for (var, value) in secret_vars(service) {
            data.insert(key(service.name.as_str(), var), json!(value));
        }
    }
    (!data.is_empty()).then(|| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": scope.metadata(SECRET_NAME, None),
            "type": "Opaque",
            "stringData": data,
        })
    })
}

fn secret_vars(service: &Service) -> impl Iterator<Item = (&str, String)> {
    service
        .env
        .iter()
        .filter_map(|(var, value)| Some((var.as_str(), placeholder(value)?)))
}
