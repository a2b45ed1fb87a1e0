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

/// `<env>` or `<env>--<feature>`: the unit that `up` and `down` act on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn new(env: &str, feature: Option<&str>) -> Result<Self, NameError> {
        check_dns_label("environment", env)?;
        let id = match feature {
            None | Some("") => env.to_string(),
            Some(feature) => {
                check_dns_label("feature", feature)?;
                format!("{env}--{feature}")
            }
        };
        check_dns_label("instance", &id)?;
        Ok(Self(id))
    }

    /// Rebuilds an id read back from an `io.envctl.instance` label.
    pub fn from_label(id: &str) -> Self {
        Self(id.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The container name of one of this instance's services.
    pub fn container_name(&self, service: &ServiceName) -> String {
        format!("{}-{}", self.0, service.as_str())
    }

    /// The instance's bridge network.
    pub fn network_name(&self) -> String {
        format!("envctl-{}", self.0)
    }

    /// A named volume of this instance (`data` in `data:/var/lib/x`).
    pub fn volume_name(&self, volume: &str) -> String {
        format!("{}-{}", self.0, volume)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        assert_eq!(InstanceId::new("shop", Some("")).unwrap().as_str(), "shop");
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
