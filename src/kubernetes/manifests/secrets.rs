//! `from_env`/`from_file` values → one Secret per instance, referenced by `secretKeyRef`, so
//! a value is never a plain env value in a Deployment. Render never reads the secret: each
//! key holds a placeholder naming where `up` will take the value from, so a manifest printed
//! or committed never carries one; `up` passes the values read on this machine
//! (`secret_values::resolve_from_host`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::meta::Scope;
use crate::model::{EnvValue, Environment};

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
        EnvValue::FromEnv(_) | EnvValue::FromFile(_) => {
            Some(format!("<secret: {}, filled at up>", describe(value)))
        }
    }
}

/// The Secret, or nothing when no service has a secret. With `values`, each key holds its
/// value, and a key without one is a problem naming the service and variable; without, the
/// placeholders.
pub fn secret(
    scope: &Scope,
    env: &Environment,
    values: Option<&BTreeMap<String, String>>,
) -> Result<Option<Value>, Vec<String>> {
    let mut data = Map::new();
    let mut problems = Vec::new();
    for service in env.services.values() {
        for (var, value) in &service.env {
            let Some(placeholder) = placeholder(value) else {
                continue;
            };
            let key = key(service.name.as_str(), var);
            let text = match values {
                None => placeholder,
                Some(values) => match values.get(&key) {
                    Some(text) => text.clone(),
                    None => {
                        problems.push(format!(
                            "service `{}`: env `{var}`: no value given for Secret key `{key}` ({})",
                            service.name,
                            describe(value)
                        ));
                        continue;
                    }
                },
            };
            data.insert(key, json!(text));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((!data.is_empty()).then(|| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": scope.metadata(SECRET_NAME, None),
            "type": "Opaque",
            "stringData": data,
        })
    }))
}

/// Where a secret's value comes from, for messages: `from_env NAME`, `from_file PATH`.
pub fn describe(value: &EnvValue) -> String {
    match value {
        EnvValue::Plain(_) => "plain".into(),
        EnvValue::FromEnv(name) => format!("from_env {name}"),
        EnvValue::FromFile(path) => format!("from_file {}", path.display()),
    }
}
