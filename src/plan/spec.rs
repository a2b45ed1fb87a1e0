//! The canonical, serializable view of a service's container: what decides recreation.
//!
//! The view is hashed (sha256, hex) into `io.envctl.spec-hash` and stored as compact JSON in
//! `io.envctl.spec`, so a later plan can say which fields changed. Secrets appear in the view
//! only by reference; their values go into the digest only through a keyed HMAC (see
//! `spec_key`), so the label cannot confirm a guessed secret.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::spec_key::{hmac_sha256, SpecKey};

/// The scheme of `io.envctl.spec-hash`. Every container whose hash changes is recreated on the
/// next `up`, so changing what goes into the hash (or how) is a deliberate, versioned decision:
/// bump this, update the golden values in the tests below and say so in the release notes.
///
/// - 1: sha256 over the view's JSON, then `\0KEY=VALUE` for every secret (unsalted: the label
///   confirmed guessed secrets).
/// - 2: sha256 over the view's JSON alone when there are no secrets (unchanged from 1, so only
///   containers with secrets are recreated by the upgrade); with secrets, the JSON then
///   `\0hmac-sha256:` and the hex HMAC of the secrets under the machine's spec key.
pub const SPEC_HASH_VERSION: u32 = 2;

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
    /// An overlay service's container-private names (`container:alias`); left out when
    /// empty, so existing hashes stay valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
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
    /// Digest of the `init:` steps (files included); left out without them, so existing
    /// hashes stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl SpecView {
    /// The spec hash (scheme `SPEC_HASH_VERSION`): the view's JSON, plus a keyed digest of
    /// the secret values when there are any. The key is only read when there are secrets.
    pub fn hash(
        &self,
        secrets: &BTreeMap<String, String>,
        key: &SpecKey,
    ) -> Result<String, super::SpecKeyError> {
        let mut digest = Sha256::new();
        digest.update(self.to_json().as_bytes());
        if !secrets.is_empty() {
            // Length-prefixed, so no two different maps encode alike.
            let mut message = Vec::new();
            for (name, value) in secrets {
                for part in [name, value] {
                    message.extend_from_slice(format!("{}:", part.len()).as_bytes());
                    message.extend_from_slice(part.as_bytes());
                }
            }
            digest.update(b"\0hmac-sha256:");
            digest.update(hex::encode(hmac_sha256(key.get()?, &message)).as_bytes());
        }
        Ok(hex::encode(digest.finalize()))
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
        field("links", self.links != new.links);
        field("resources.memory", self.memory_bytes != new.memory_bytes);
        field("resources.cpus", self.nano_cpus != new.nano_cpus);
        field("restart", self.restart != new.restart);
        field("extra_hosts", self.extra_hosts != new.extra_hosts);
        field("privileged", self.privileged != new.privileged);
        field("network_mode", self.host_network != new.host_network);
        field("pid", self.host_pid != new.host_pid);
        field(
            "init (a seed runs once per volume; `up --reseed SERVICE` runs the new one)",
            self.init != new.init,
        );
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

    fn key() -> SpecKey {
        SpecKey::fixed(&[7; 32])
    }

    fn hash(secrets: &[(&str, &str)], key: &SpecKey) -> String {
        let secrets = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        view().hash(&secrets, key).unwrap()
    }

    /// Golden values: if these change, every user's containers are recreated after the
    /// upgrade. That must be a decision: bump `SPEC_HASH_VERSION` and note it. (Both values
    /// were computed independently with Python's hashlib and hmac.)
    #[test]
    fn the_spec_hash_is_pinned_for_this_version() {
        assert_eq!(SPEC_HASH_VERSION, 2);
        assert_eq!(
            view().to_json(),
            r#"{"image":"redis:7","env":{"A":"1"},"ports":["20001:6379/tcp"],"volumes":[],"network":"envctl-x","aliases":[],"restart":"no","extra_hosts":[]}"#
        );
        assert_eq!(
            hash(&[], &key()),
            "ecc447759e3c625889dee3ed962ed9cd12aa424b5d908c10e2a0b45de229736a"
        );
        assert_eq!(
            hash(&[("PW", "hunter2")], &key()),
            "f74fb628595cf2eb7fdee86cc00d2b9b41e6a7ce1979e807195633ac2d49e91d"
        );
    }

    #[test]
    fn without_secrets_the_key_is_not_needed() {
        let missing = SpecKey::fixed(&[]);
        assert_eq!(hash(&[], &missing), hash(&[], &key()));
    }

    #[test]
    fn secrets_change_the_hash_but_not_the_view() {
        let a = hash(&[("PW", "one")], &key());
        let b = hash(&[("PW", "two")], &key());
        assert_ne!(a, b);
        assert!(!view().to_json().contains("one"));
    }

    /// Someone who reads the label and guesses the secret cannot confirm the guess without
    /// the machine's key: neither the unsalted v1 scheme nor another key gives the label.
    #[test]
    fn a_guessed_secret_cannot_be_confirmed_from_the_label() {
        let label = hash(&[("PW", "hunter2")], &key());
        let mut v1 = Sha256::new();
        v1.update(view().to_json().as_bytes());
        v1.update(b"\0PW=hunter2");
        assert_ne!(label, hex::encode(v1.finalize()));
        assert_ne!(label, hash(&[("PW", "hunter2")], &SpecKey::fixed(&[8; 32])));
        assert_eq!(label, hash(&[("PW", "hunter2")], &key()));
    }

    #[test]
    fn secrets_are_encoded_unambiguously() {
        assert_ne!(
            hash(&[("A", "1\0B=2")], &key()),
            hash(&[("A", "1"), ("B", "2")], &key())
        );
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
