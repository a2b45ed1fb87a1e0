//! The `io.envctl.*` labels: the contract that marks what envctl owns, every name in one place,
//! and a typed reader of an object's ownership labels.
//! envctl never modifies or removes a resource without `io.envctl.instance`.

use std::collections::BTreeMap;

pub const INSTANCE: &str = "io.envctl.instance";
pub const ENV: &str = "io.envctl.env";
pub const FEATURE: &str = "io.envctl.feature";
pub const SERVICE: &str = "io.envctl.service";
pub const SPEC_HASH: &str = "io.envctl.spec-hash";
pub const CREATED: &str = "io.envctl.created";
pub const EXPIRES_AT: &str = "io.envctl.expires-at";
/// Host ports allocated to a service, `container/proto=host` comma-separated; read back so
/// allocations stay stable across re-ups.
pub const PORTS: &str = "io.envctl.ports";
/// The template a service was made from.
pub const TEMPLATE: &str = "io.envctl.template";
/// The container's spec as JSON (what `plan` compares and `down` reads).
pub const SPEC: &str = "io.envctl.spec";
/// `service` or `job`.
pub const KIND: &str = "io.envctl.kind";
/// Marks a volume as an instance's lease (see `lifetime`).
pub const LEASE: &str = "io.envctl.lease";
/// The lifetime a lease was made with, in seconds.
pub const TTL: &str = "io.envctl.ttl";

/// Who owns an object, as its labels say. Only objects with an instance label have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub instance: String,
    pub env: String,
    /// `None` for the main instance.
    pub feature: Option<String>,
    /// Containers only.
    pub service: Option<String>,
}

impl Ownership {
    /// The ownership labels of an object; `None` when envctl does not own it.
    pub fn read(labels: &BTreeMap<String, String>) -> Option<Self> {
        let get = |key: &str| labels.get(key).filter(|v| !v.is_empty()).cloned();
        Some(Self {
            instance: get(INSTANCE)?,
            env: get(ENV).unwrap_or_default(),
            feature: get(FEATURE),
            service: get(SERVICE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_the_instance_label() {
        let mut labels = BTreeMap::from([(ENV.to_string(), "shop".to_string())]);
        assert_eq!(Ownership::read(&labels), None);
        labels.insert(INSTANCE.into(), "shop--x".into());
        labels.insert(FEATURE.into(), "x".into());
        labels.insert(SERVICE.into(), "db".into());
        let owner = Ownership::read(&labels).unwrap();
        assert_eq!(owner.instance, "shop--x");
        assert_eq!(owner.feature.as_deref(), Some("x"));
        assert_eq!(owner.service.as_deref(), Some("db"));
    }
}
