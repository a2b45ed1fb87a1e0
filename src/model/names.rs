//! DNS-safe names: `[a-z0-9-]`, starting and ending alphanumeric, at most 63 characters.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} name is empty")]
    Empty { what: &'static str },
    #[error("{what} name `{name}` is {len} characters long; at most 63 are allowed")]
    TooLong {
        what: &'static str,
        name: String,
        len: usize,
    },
    #[error("{what} name `{name}` contains `--`, which envctl reserves to join environment and feature (instance `<env>--<feature>`)")]
    Reserved { what: &'static str, name: String },
    #[error("{what} name `{name}` may only contain lowercase letters, digits and `-`, and must start and end with a letter or digit")]
    Invalid { what: &'static str, name: String },
}

/// Checks that `name` is usable as a DNS label (and so as part of a container name).
pub fn check_dns_label(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > 63 {
        return Err(NameError::TooLong {
            what,
            name: name.to_string(),
            len: name.len(),
        });
    }
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = !name.starts_with('-') && !name.ends_with('-');
    if ok_chars && ok_ends {
        Ok(())
    } else {
        Err(NameError::Invalid {
            what,
            name: name.to_string(),
        })
    }
}

/// A service's name within its environment; also its DNS name on the instance network.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName(String);

impl ServiceName {
    pub fn new(name: &str) -> Result<Self, NameError> {
        check_dns_label("service", name)?;
        Ok(Self(name.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ServiceName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Joins an environment and a feature into an instance name. Environment and feature names are
/// DNS labels without `--` (see `check_env_name`, `check_feature_name`), so the first `--` of an
/// instance name is this separator and the name splits back into exactly one (env, feature):
/// one name, one instance.
pub const FEATURE_SEPARATOR: &str = "--";

/// Joins object names to their instance: `<instance>_<volume>`. Instance names are DNS labels,
/// which never contain `_`, so the first `_` of a volume name ends the instance name and the
/// pair (instance, volume) is recovered exactly: two instances never share a volume name.
/// (The old `<instance>-<volume>` was ambiguous: `x` + `a-data` and `x-a` + `data`.)
pub const VOLUME_SEPARATOR: &str = "_";

/// The instance name of `env` with `feature`: the one place the rule is written.
/// No checks: `InstanceId::new` validates; this also names instances of not-yet-valid input
/// (the Tera context is built before validation).
pub fn instance_name(env: &str, feature: Option<&str>) -> String {
    match feature {
        None | Some("") => env.to_string(),
        Some(feature) => format!("{env}{FEATURE_SEPARATOR}{feature}"),
    }
}

/// An environment name: a DNS label without `--` (reserved to join env and feature).
pub fn check_env_name(name: &str) -> Result<(), NameError> {
    check_dns_label("environment", name)?;
    check_unreserved("environment", name)
}

/// A feature name: a non-empty DNS label without `--`. An empty feature is an error, never the
/// main instance: `--feature "$BRANCH"` with an empty variable must not act on the main one.
pub fn check_feature_name(name: &str) -> Result<(), NameError> {
    check_dns_label("feature", name)?;
    check_unreserved("feature", name)
}

fn check_unreserved(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.contains(FEATURE_SEPARATOR) {
        return Err(NameError::Reserved {
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// `<env>` or `<env>--<feature>`: the unit that `up` and `down` act on. Carries its parts, so
/// an object found by its instance label can be checked against the env and feature asked for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId {
    id: String,
    env: String,
    feature: Option<String>,
}

impl InstanceId {
    /// `feature: Some("")` is refused (see `check_feature_name`).
    pub fn new(env: &str, feature: Option<&str>) -> Result<Self, NameError> {
        check_env_name(env)?;
        if let Some(feature) = feature {
            check_feature_name(feature)?;
        }
        let id = instance_name(env, feature);
        check_dns_label("instance", &id)?;
        Ok(Self {
            id,
            env: env.to_string(),
            feature: feature.map(str::to_string),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The environment name.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The feature, `None` for the main instance.
    pub fn feature(&self) -> Option<&str> {
        self.feature.as_deref()
    }

    /// The container name of one of this instance's services (`<instance>-<service>`, the
    /// documented contract). Not injective on its own (`x` + `a-db` and `x-a` + `db`), so a
    /// container is only ever used after its ownership labels are checked: a clash is refused,
    /// never shared.
    pub fn container_name(&self, service: &ServiceName) -> String {
        format!("{}-{}", self.id, service.as_str())
    }

    /// The instance's bridge network: `envctl-<instance>`, injective as the instance name is.
    pub fn network_name(&self) -> String {
        format!("envctl-{}", self.id)
    }

    /// A named volume of this instance (`data` in `data:/var/lib/x`): `<instance>_<volume>`,
    /// see `VOLUME_SEPARATOR` for why it is unambiguous.
    pub fn volume_name(&self, volume: &str) -> String {
        format!("{}{VOLUME_SEPARATOR}{volume}", self.id)
    }

    /// The ambiguous name envctl gave the volume before `volume_name`: `<instance>-<volume>`.
    /// Used only when its labels say it belongs to this instance (see `plan`).
    pub fn legacy_volume_name(&self, volume: &str) -> String {
        format!("{}-{volume}", self.id)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_join_env_and_feature() {
        assert_eq!(InstanceId::new("shop", None).unwrap().as_str(), "shop");
        assert_eq!(
            InstanceId::new("shop", Some("pay-v2")).unwrap().as_str(),
            "shop--pay-v2"
        );
        assert_eq!(InstanceId::new("shop", None).unwrap().feature(), None);
    }

    #[test]
    fn the_separator_is_reserved_and_empty_features_refused() {
        // `x--y` (an environment) and `x` + `y` (a feature) would be one instance.
        let err = InstanceId::new("x--y", None).unwrap_err();
        assert!(err.to_string().contains("reserves"), "{err}");
        assert!(InstanceId::new("x", Some("y--z")).is_err());
        assert_eq!(
            InstanceId::new("shop", Some("")).unwrap_err(),
            NameError::Empty { what: "feature" }
        );
        assert!(check_env_name("a-b").is_ok() && check_feature_name("a-b").is_ok());
    }

    #[test]
    fn instance_names_split_back_into_one_pair() {
        // Every (env, feature) over a small alphabet gives a distinct instance name.
        let labels = ["a", "b", "a-b", "b-a", "a-a-b", "ab"];
        let mut seen = std::collections::BTreeMap::new();
        for env in labels {
            for feature in std::iter::once(None).chain(labels.iter().map(|f| Some(*f))) {
                let id = InstanceId::new(env, feature).unwrap();
                let before = seen.insert(id.to_string(), (env, feature));
                assert_eq!(before, None, "{id} named twice");
            }
        }
    }

    #[test]
    fn volume_names_are_unambiguous() {
        // The collision of the old scheme: `x` + `a-data` and `x-a` + `data`.
        let x = InstanceId::new("x", None).unwrap();
        let xa = InstanceId::new("x-a", None).unwrap();
        assert_eq!(
            x.legacy_volume_name("a-data"),
            xa.legacy_volume_name("data")
        );
        assert_ne!(x.volume_name("a-data"), xa.volume_name("data"));
        let labels = ["x", "a", "x-a", "a-data", "data"];
        let mut seen = std::collections::BTreeSet::new();
        for instance in labels {
            for volume in labels {
                let id = InstanceId::new(instance, None).unwrap();
                assert!(seen.insert(id.volume_name(volume)), "{instance} {volume}");
            }
        }
    }

    #[test]
    fn rejects_names_that_are_not_dns_labels() {
        for bad in ["", "Shop", "a_b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert!(check_dns_label("service", bad).is_err(), "{bad:?} accepted");
        }
        assert!(InstanceId::new(&"a".repeat(40), Some(&"b".repeat(30))).is_err());
    }

    #[test]
    fn container_names_join_instance_and_service() {
        let id = InstanceId::new("shop", Some("f1")).unwrap();
        let svc = ServiceName::new("cache").unwrap();
        assert_eq!(id.container_name(&svc), "shop--f1-cache");
    }
}
