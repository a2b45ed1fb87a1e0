//! The canonical, serializable view of a service's container: what decides recreation.
//!
//! The view is hashed (sha256, hex) into `io.envctl.spec-hash` and stored as compact JSON in
//! `io.envctl.spec`, so a later plan can say which fields changed. Secrets appear in the view
//! only by reference; their values go into the digest and nowhere else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Label holding the compact JSON spec view, read back to explain a recreation.
pub const SPEC_LABEL: &str = crate::model::labels::SPEC;

/// Label saying whether a container is a `service` or a `job` (for status and ls).
pub const KIND_LABEL: &str = crate::model::labels::KIND;

/// Everything about a container that, when changed, requires recreating it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpecView {
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Plain values as they are; secrets as `<from_env NAME>` / `<from_file PATH>`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `host:container/proto`, sorted.
    #[serde(default)]
    pub ports: Vec<String>,
    /// `source:target[:ro]`, in definition order.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<i64>,
    #[serde(default)]
    pub restart: String,
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// Host access (`allow:`); left out of the JSON when off, so existing hashes stay valid.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub host_network: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub host_pid: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl SpecView {
    /// The spec hash: the view's JSON plus the secret values (`KEY=VALUE`, sorted by key).
    pub fn hash(&self, secrets: &BTreeMap<String, String>) -> String {
        let mut digest = Sha256::new();
        digest.update(self.to_json().as_bytes());
        for (key, value) in secrets {
            digest.update(b"\0");
            digest.update(key.as_bytes());
            digest.update(b"=");
            digest.update(value.as_bytes());
        }
        hex::encode(digest.finalize())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The names of the fields that differ, `env.KEY` for single variables.
    pub fn changed_fields(&self, new: &SpecView) -> Vec<String> {
        let mut changed = Vec::new();
        let mut field = |name: &str, differs: bool| {
            if differs {
                changed.push(name.to_string());
            }
        };
        field("image", self.image != new.image);
        field("command", self.command != new.command);
        field("entrypoint", self.entrypoint != new.entrypoint);
        field("ports", self.ports != new.ports);
        field("volumes", self.volumes != new.volumes);
        field("network", self.network != new.network);
        field("aliases", self.aliases != new.aliases);
        field("resources.memory", self.memory_bytes != new.memory_bytes);
        field("resources.cpus", self.nano_cpus != new.nano_cpus);
        field("restart", self.restart != new.restart);
        field("extra_hosts", self.extra_hosts != new.extra_hosts);
        field("privileged", self.privileged != new.privileged);
        field("network_mode", self.host_network != new.host_network);
        field("pid", self.host_pid != new.host_pid);
        let keys: std::collections::BTreeSet<&String> =
            self.env.keys().chain(new.env.keys()).collect();
        for key in keys {
            if self.env.get(key) != new.env.get(key) {
                changed.push(format!("env.{key}"));
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> SpecView {
        SpecView {
            image: "redis:7".into(),
            env: BTreeMap::from([("A".into(), "1".into())]),
            ports: vec!["20001:6379/tcp".into()],
            network: "envctl-x".into(),
            restart: "no".into(),
            ..SpecView::default()
        }
    }

    #[test]
    fn hash_is_stable_and_hex() {
        let h = view().hash(&BTreeMap::new());
        assert_eq!(h, view().hash(&BTreeMap::new()));
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn secrets_change_the_hash_but_not_the_view() {
        let a = view().hash(&BTreeMap::from([("PW".into(), "one".into())]));
        let b = view().hash(&BTreeMap::from([("PW".into(), "two".into())]));
        assert_ne!(a, b);
        assert!(!view().to_json().contains("one"));
    }

    #[test]
    fn changed_fields_names_each_difference() {
        let old = view();
        let mut new = view();
        new.image = "redis:8".into();
        new.env.insert("B".into(), "2".into());
        new.env.insert("A".into(), "x".into());
        assert_eq!(old.changed_fields(&new), ["image", "env.A", "env.B"]);
        assert!(old.changed_fields(&old).is_empty());
    }

    #[test]
    fn json_round_trips() {
        let v = view();
        assert_eq!(SpecView::from_json(&v.to_json()), Some(v));
    }
}
