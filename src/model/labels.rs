//! The `io.envctl.*` labels: the contract that marks what envctl owns, every name in one place,
//! and a typed reader of an object's ownership labels.
//! envctl never modifies or removes a resource without `io.envctl.instance`.

use std::collections::BTreeMap;

use super::InstanceId;

pub const INSTANCE: &str = "io.envctl.instance";
pub const ENV: &str = "io.envctl.env";
pub const FEATURE: &str = "io.envctl.feature";
pub const SERVICE: &str = "io.envctl.service";
pub const SPEC_HASH: &str = "io.envctl.spec-hash";
/// Kubernetes' common label, on every object envctl makes on a cluster.
pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "envctl";
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
/// Who made the instance: `user@host` of the machine that ran `up`, or `up --owner`.
pub const OWNER: &str = "io.envctl.owner";
/// On an overlay's objects: the instance whose network and registry it joins.
pub const BASE: &str = "io.envctl.base";
/// On an overlay's objects: the Dubbo tag its providers register and its consumers send.
pub const TAG: &str = "io.envctl.tag";

/// Who owns an object, as its labels say. Only objects with an instance label have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub instance: String,
    pub env: String,
    /// `None` for the main instance.
    pub feature: Option<String>,
    /// Containers only.
    pub service: Option<String>,
    /// An overlay's base instance and tag (`None` for an instance with its own network).
    pub base: Option<String>,
    pub tag: Option<String>,
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
            base: get(BASE),
            tag: get(TAG),
        })
    }
}

impl Ownership {
    /// Whether these labels name exactly `instance`: the instance label and the environment
    /// and feature it was made from. A matching instance label alone is not enough: objects of
    /// older versions may carry it for another (env, feature) pair (`x--y` vs `x` + `y`), and
    /// envctl always writes all three. An object labelled by hand with the instance label
    /// alone (no `io.envctl.env`) has nothing that disagrees, and counts as the instance's.
    pub fn is(&self, instance: &InstanceId) -> bool {
        self.instance == instance.as_str()
            && (self.env.is_empty()
                || (self.env == instance.env() && self.feature.as_deref() == instance.feature()))
    }

    /// `environment `x`, feature `y`` or `environment `x` (main instance)`.
    pub fn describe(&self) -> String {
        describe(&self.env, self.feature.as_deref())
    }
}

fn describe(env: &str, feature: Option<&str>) -> String {
    let env = if env.is_empty() { "?" } else { env };
    match feature {
        Some(feature) => format!("environment `{env}`, feature `{feature}`"),
        None => format!("environment `{env}` (main instance)"),
    }
}

/// An object found by name or instance label that belongs to someone else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{name}` {owner}, not to {asked}; envctl leaves it untouched: remove or rename it yourself (e.g. `{}`)", removal_hint(.kind, .name))]
pub struct NotOurs {
    /// `container`, `network` or `volume`; on Kubernetes `namespace` or the object's kind
    /// (`deployment`, its name then `NAMESPACE/NAME`).
    pub kind: &'static str,
    pub name: String,
    /// Who the labels say owns it.
    pub owner: String,
    /// The instance asked for, described.
    pub asked: String,
}

/// How a user removes the object themselves: Docker objects with `docker`, Kubernetes ones
/// (a namespace, or `NAMESPACE/NAME` inside one) with `kubectl`.
fn removal_hint(kind: &str, name: &str) -> String {
    match (kind, name.split_once('/')) {
        ("container" | "network" | "volume", _) => format!("docker {kind} rm {name}"),
        (_, Some((namespace, object))) => format!("kubectl delete {kind} {object} -n {namespace}"),
        (_, None) => format!("kubectl delete {kind} {name}"),
    }
}

/// Checks that an object found for `instance` (by name or by its instance label) carries
/// ownership labels naming exactly that instance; the error names the object and both owners.
pub fn check_owner(
    kind: &'static str,
    name: &str,
    labels: &BTreeMap<String, String>,
    instance: &InstanceId,
) -> Result<(), NotOurs> {
    let owner = match Ownership::read(labels) {
        Some(owner) if owner.is(instance) => return Ok(()),
        Some(owner) => format!(
            "belongs to envctl instance `{}` ({})",
            owner.instance,
            owner.describe()
        ),
        None => "exists without envctl's ownership labels (envctl did not create it)".into(),
    };
    Err(NotOurs {
        kind,
        name: name.to_string(),
        owner,
        asked: format!(
            "instance `{instance}` ({})",
            describe(instance.env(), instance.feature())
        ),
    })
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

    #[test]
    fn ownership_needs_env_and_feature_to_agree() {
        let asked = InstanceId::new("x", Some("y")).unwrap();
        // What an environment file named `x--y` made with an older envctl carries.
        let other = BTreeMap::from([
            (INSTANCE.to_string(), "x--y".to_string()),
            (ENV.to_string(), "x--y".to_string()),
            (FEATURE.to_string(), String::new()),
        ]);
        let err = check_owner("container", "x--y-db", &other, &asked).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("environment `x--y` (main instance)"),
            "{text}"
        );
        assert!(text.contains("environment `x`, feature `y`"), "{text}");
        let mut ours = other.clone();
        ours.insert(ENV.into(), "x".into());
        ours.insert(FEATURE.into(), "y".into());
        assert_eq!(check_owner("container", "x--y-db", &ours, &asked), Ok(()));
        // Labelled by hand with the instance label alone: nothing disagrees.
        let bare = BTreeMap::from([(INSTANCE.to_string(), "x--y".to_string())]);
        assert_eq!(check_owner("container", "c", &bare, &asked), Ok(()));
        let main = InstanceId::new("x", None).unwrap();
        assert!(check_owner("volume", "v", &ours, &main).is_err());
        assert!(check_owner("volume", "v", &BTreeMap::new(), &main)
            .unwrap_err()
            .to_string()
            .contains("without envctl's ownership labels"));
    }
}
