//! What an instance has on the cluster, read with a constant number of requests however many
//! services it has: its namespace (one GET), then one labelled LIST per kind envctl writes.

use std::collections::BTreeMap;

use serde_json::Value;

use super::api::Kube;
use super::kinds::{Kind, MANAGED, NAMESPACE};
use crate::engine::{EngineResult, Labels};
use crate::kubernetes::manifests::namespace_name;
use crate::model::labels::{self, check_owner, NotOurs};
use crate::model::InstanceId;

/// One instance's objects as the cluster holds them.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Its namespace, when it exists.
    pub namespace: Option<Value>,
    /// Every object of the managed kinds labelled with the instance, in `MANAGED` order.
    pub objects: Vec<(Kind, Value)>,
}

impl Observed {
    /// The object of `kind` named `name`.
    pub fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|(k, o)| k.kind == kind && name_of(o) == name)
            .map(|(_, o)| o)
    }
}

/// `instance=<id>`: what selects an instance's objects.
pub fn instance_selector(instance: &str) -> String {
    format!("{}={instance}", labels::INSTANCE)
}

/// Reads the instance's namespace and, when it exists, its objects.
pub async fn observe(kube: &Kube, instance: &InstanceId) -> EngineResult<Observed> {
    let ns = namespace_name(instance.as_str());
    let Some(namespace) = kube.get(&NAMESPACE, None, &ns).await? else {
        return Ok(Observed::default());
    };
    if check_owner("namespace", &ns, &labels_of(&namespace), instance).is_err() {
        // Someone else's: refused (`ownership_problems`), and not looked into.
        return Ok(Observed {
            namespace: Some(namespace),
            objects: Vec::new(),
        });
    }
    let selector = instance_selector(instance.as_str());
    // One after the other: a handful of requests, in an order tests can assert.
    let mut objects = Vec::new();
    for kind in MANAGED {
        let items = kube.list(&kind, Some(&ns), &selector).await?;
        objects.extend(items.into_iter().map(|o| (kind, o)));
    }
    Ok(Observed {
        namespace: Some(namespace),
        objects,
    })
}

/// Whether the namespace and every object found carry exactly this instance's ownership
/// labels; each one that does not is a problem naming it. A namespace without our labels
/// is someone else's: nothing in it is ever touched.
pub fn ownership_problems(observed: &Observed, instance: &InstanceId) -> Vec<NotOurs> {
    let mut problems = Vec::new();
    if let Some(ns) = &observed.namespace {
        if let Err(problem) = check_owner("namespace", name_of(ns), &labels_of(ns), instance) {
            problems.push(problem);
        }
    }
    for (kind, object) in &observed.objects {
        let name = format!("{}/{}", namespace_of(object), name_of(object));
        if let Err(problem) = check_owner(kind.word(), &name, &labels_of(object), instance) {
            problems.push(problem);
        }
    }
    problems
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// An object's labels as envctl's label map.
pub fn labels_of(object: &Value) -> Labels {
    string_map(&object["metadata"]["labels"])
}

/// An object's annotations.
pub fn annotations_of(object: &Value) -> BTreeMap<String, String> {
    string_map(&object["metadata"]["annotations"])
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Unix seconds of `metadata.creationTimestamp` (0 when absent).
pub fn created(object: &Value) -> i64 {
    object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}
