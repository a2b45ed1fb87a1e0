//! The fake server's objects, by kind, namespace and name, with the bookkeeping the API
//! server does on write (uid, creation time, resource version, generation).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// (kind, namespace or "", name) -> object, `kind` and `apiVersion` included.
#[derive(Default)]
pub struct Store {
    objects: BTreeMap<(String, String, String), Value>,
    /// Namespaces being deleted -> reads left before they are gone.
    pub terminating: BTreeMap<String, usize>,
    counter: u64,
}

fn key_of(object: &Value) -> (String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}

impl Store {
    /// A number that grows with every write: resource versions, uids, addresses.
    pub fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Stores a new object, filling what the server sets on create.
    pub fn put_new(&mut self, mut object: Value) -> Value {
        let n = self.next();
        let metadata = &mut object["metadata"];
        if metadata["uid"].is_null() {
            metadata["uid"] = json!(format!("uid-{n}"));
        }
        if metadata["creationTimestamp"].is_null() {
            metadata["creationTimestamp"] =
                json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        metadata["resourceVersion"] = json!(n.to_string());
        if metadata["generation"].is_null() {
            metadata["generation"] = json!(1);
        }
        self.objects.insert(key_of(&object), object.clone());
        object
    }

    /// Stores an object that exists already (its bookkeeping done by the caller).
    pub fn put(&mut self, object: Value) {
        self.objects.insert(key_of(&object), object);
    }

    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }

    pub fn find_mut(&mut self, kind: &str, namespace: &str, name: &str) -> Option<&mut Value> {
        self.objects
            .get_mut(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }

    pub fn remove(&mut self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .remove(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }

    /// Every object of `kind` in `namespace`.
    pub fn all(&self, kind: &str, namespace: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((k, ns, _), _)| k == kind && ns == namespace)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every object of `kind` in `namespace` (`None`: anywhere) matching `selector`.
    pub fn list(&self, kind: &str, namespace: Option<&str>, selector: &str) -> Vec<Value> {
        // Keys sort by kind, then namespace: one range holds exactly the candidates, so a
        // store of thousands of objects (a scale benchmark's) lists in proportion to one
        // namespace.
        let from = (
            kind.to_string(),
            namespace.unwrap_or_default().to_string(),
            String::new(),
        );
        self.objects
            .range(from..)
            .take_while(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .filter(|(_, o)| matches(selector, &o["metadata"]["labels"]))
            .map(|(_, o)| o.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Removes a namespace and everything in it.
    pub fn purge_namespace(&mut self, name: &str) {
        self.objects
            .retain(|(kind, ns, n), _| ns != name && !(kind == "Namespace" && n == name));
        self.terminating.remove(name);
    }
}

/// Whether `labels` match a label selector (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-joined).
pub fn matches(selector: &str, labels: &Value) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
        .all(|term| {
            let value = |key: &str| labels[key.trim()].as_str().map(str::to_string);
            if let Some((key, want)) = term.split_once("!=") {
                value(key).as_deref() != Some(want.trim())
            } else if let Some((key, want)) = term.split_once("==").or(term.split_once('=')) {
                value(key).as_deref() == Some(want.trim())
            } else if let Some(key) = term.strip_prefix('!') {
                value(key).is_none()
            } else {
                value(term).is_some()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_as_the_api_server_does() {
        let labels = json!({ "a": "1", "b": "2" });
        assert!(matches("a=1,b", &labels));
        assert!(matches("a==1,!c", &labels));
        assert!(!matches("a=2", &labels));
        assert!(!matches("c", &labels));
        assert!(matches("b!=3", &labels));
        assert!(matches("", &labels));
    }
}
