//! What the cluster should hold for an environment: the mapping's manifests, each stamped
//! with the hash of its content (`io.envctl.spec-hash`, what `plan` compares) and a hash per
//! field (`io.envctl.field-hashes`, what lets `plan` say "changed: image, env"). The one
//! place desired objects are made. A Secret's values enter both hashes only as an HMAC under
//! this machine's spec key (as secrets do on Docker): annotations anyone with read access
//! sees must not confirm a guessed password.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::kubernetes::{MappingError, MappingInputs};
use crate::model::{labels, Environment};
use crate::plan::hmac_sha256;

/// The hash of an object's whole content, as applied.
pub const SPEC_HASH: &str = labels::SPEC_HASH;
/// JSON object: field name -> short hash of that field.
pub const FIELD_HASHES: &str = "io.envctl.field-hashes";

/// Every object of `env`'s instance as `up` applies it (node ports, secret values, registry
/// names from `mapping`), in apply order, stamped with its hashes; `key` seals secret values.
pub fn desired(
    env: &Environment,
    mapping: &MappingInputs,
    key: &[u8],
) -> Result<Vec<Value>, MappingError> {
    let mut docs = crate::kubernetes::manifests_with(env, mapping)?;
    for doc in &mut docs {
        stamp(doc, key);
    }
    Ok(docs)
}

fn stamp(doc: &mut Value, key: &[u8]) {
    let sealed = sealed(doc, key);
    let spec_hash = hash(&sealed);
    let fields: BTreeMap<String, String> = fields(&sealed)
        .into_iter()
        .map(|(name, value)| (name, hash(&value)[..12].to_string()))
        .collect();
    let metadata = doc["metadata"]
        .as_object_mut()
        .expect("every manifest has metadata");
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    annotations[SPEC_HASH] = json!(spec_hash);
    annotations[FIELD_HASHES] =
        json!(serde_json::to_string(&fields).expect("a map of strings serialises"));
}

/// What is hashed of `doc`: itself, but a Secret's values replaced by their HMAC under `key`.
fn sealed(doc: &Value, key: &[u8]) -> Value {
    let mut sealed = doc.clone();
    if doc["kind"] != "Secret" {
        return sealed;
    }
    for field in ["stringData", "data"] {
        if let Some(values) = sealed[field].as_object_mut() {
            for value in values.values_mut() {
                let text = value.as_str().unwrap_or_default();
                *value = json!(format!(
                    "hmac-sha256:{}",
                    hex::encode(hmac_sha256(key, text.as_bytes()))
                ));
            }
        }
    }
    sealed
}

/// The spec hash an object carries (observed or desired).
pub fn spec_hash(object: &Value) -> Option<&str> {
    object["metadata"]["annotations"][SPEC_HASH].as_str()
}

/// The field hashes an object carries; empty when it has none (made by an older envctl).
pub fn field_hashes(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["annotations"][FIELD_HASHES]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The fields whose hashes differ between `observed` and `desired`, by name; `spec` when the
/// observed object carries no field hashes to compare.
pub fn changed_fields(observed: &Value, desired: &Value) -> Vec<String> {
    let (old, new) = (field_hashes(observed), field_hashes(desired));
    if old.is_empty() {
        return vec!["spec".into()];
    }
    let mut names: Vec<String> = new
        .keys()
        .chain(old.keys())
        .filter(|name| old.get(*name) != new.get(*name))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        // Same fields, yet another hash: something the field split does not show.
        names.push("spec".into());
    }
    names
}

/// SHA-256 of the object's canonical JSON (keys sorted at every level, whatever order the
/// map type keeps).
fn hash(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical(value).to_string().as_bytes()))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The fields a user recognises, each with its content: for a workload its pod's and
/// containers' settings (`image`, `env`, `args`, `volumes`...), else the spec's own fields,
/// plus the object's `labels` and `annotations`.
fn fields(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let metadata = &doc["metadata"];
    for key in ["labels", "annotations"] {
        if !metadata[key].is_null() {
            out.push((key.to_string(), metadata[key].clone()));
        }
    }
    let empty = Map::new();
    let object = doc.as_object().unwrap_or(&empty);
    for (key, value) in object {
        match key.as_str() {
            "apiVersion" | "kind" | "metadata" => {}
            "spec" => out.extend(spec_fields(value)),
            "stringData" | "data" => out.push(("data".into(), value.clone())),
            other => out.push((other.to_string(), value.clone())),
        }
    }
    out
}

fn spec_fields(spec: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(spec) = spec.as_object() else {
        return out;
    };
    for (key, value) in spec {
        if key != "template" {
            out.push((key.clone(), value.clone()));
            continue;
        }
        // A workload: what its pods run.
        if !value["metadata"].is_null() {
            out.push(("pod metadata".into(), value["metadata"].clone()));
        }
        let Some(pod) = value["spec"].as_object() else {
            continue;
        };
        for (key, value) in pod {
            if key != "containers" {
                out.push((key.clone(), value.clone()));
                continue;
            }
            let containers = value.as_array().cloned().unwrap_or_default();
            let several = containers.len() > 1;
            for container in &containers {
                let name = container["name"].as_str().unwrap_or_default();
                for (field, value) in container.as_object().into_iter().flatten() {
                    if field == "name" {
                        continue;
                    }
                    let label = if several {
                        format!("{name}.{field}")
                    } else {
                        field.clone()
                    };
                    out.push((label, value.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, env: &str) -> Value {
        let mut doc = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web", "namespace": "envctl-a", "labels": { "x": "1" } },
            "spec": { "replicas": 1, "template": { "metadata": {}, "spec": { "containers": [
                { "name": "web", "image": image, "env": [{ "name": "A", "value": env }] }
            ] } } }
        });
        stamp(&mut doc, KEY);
        doc
    }

    const KEY: &[u8] = &[7; 32];

    fn unstamped_secret(value: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "envctl-secrets", "namespace": "envctl-a" },
            "stringData": { "db.PASSWORD": value }
        })
    }

    fn secret(value: &str, key: &[u8]) -> Value {
        let mut doc = unstamped_secret(value);
        stamp(&mut doc, key);
        doc
    }

    #[test]
    fn secret_values_change_the_hash_only_through_the_keyed_hmac() {
        let a = secret("hunter2", KEY);
        assert_eq!(spec_hash(&a), spec_hash(&secret("hunter2", KEY)));
        assert_ne!(spec_hash(&a), spec_hash(&secret("hunter3", KEY)));
        assert_eq!(
            changed_fields(&a, &secret("hunter3", KEY)),
            vec!["data".to_string()]
        );
        // Hashing a guessed value as any other object is hashed reproduces neither annotation.
        let guess = unstamped_secret("hunter2");
        assert_ne!(spec_hash(&a), Some(hash(&guess).as_str()));
        let fields = a["metadata"]["annotations"][FIELD_HASHES].as_str().unwrap();
        let plain_data = &hash(&guess["stringData"])[..12];
        assert!(!fields.contains(plain_data), "{fields}");
        // Another machine's key gives another hash for the same value.
        assert_ne!(spec_hash(&a), spec_hash(&secret("hunter2", &[8; 32])));
    }

    #[test]
    fn other_objects_are_hashed_as_they_are() {
        let mut plain = deployment("img:1", "a");
        let stamped_hash = spec_hash(&plain).unwrap().to_string();
        plain["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        assert_eq!(stamped_hash, hash(&plain));
    }

    #[test]
    fn a_changed_container_field_is_named() {
        let old = deployment("img:1", "a");
        assert_eq!(spec_hash(&old), spec_hash(&deployment("img:1", "a")));
        assert_ne!(spec_hash(&old), spec_hash(&deployment("img:2", "a")));
        assert_eq!(
            changed_fields(&old, &deployment("img:2", "b")),
            vec!["env".to_string(), "image".to_string()]
        );
        let mut unstamped = old.clone();
        unstamped["metadata"]["annotations"] = json!({});
        assert_eq!(changed_fields(&unstamped, &old), vec!["spec".to_string()]);
    }

    #[test]
    fn the_hash_ignores_key_order() {
        let a = json!({ "a": 1, "b": { "c": 2, "d": 3 } });
        let b: Value = serde_json::from_str(r#"{ "b": { "d": 3, "c": 2 }, "a": 1 }"#).unwrap();
        assert_eq!(hash(&a), hash(&b));
    }
}
