//! Everything `up` on a cluster feeds the mapping, gathered in one call from this machine
//! (secret values, the registry setting, the node-port range) and from what the cluster holds
//! (current and used node ports), so the backend's `desired()` stays one line.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use super::images::{require_registry, NoRegistry};
use super::manifests::{Advertise, MappingInputs};
use super::node_ports::{self, NodePortError, NodePorts};
use super::secret_values::{self, UnresolvedSecrets};
use crate::model::{EnvValue, Environment};
use crate::project::{self, ProjectError};

/// Why `up` cannot map an environment for a cluster: each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum UpInputsError {
    #[error(transparent)]
    NodePorts(#[from] NodePortError),
    #[error(transparent)]
    Secrets(#[from] UnresolvedSecrets),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    NoRegistry(#[from] NoRegistry),
}

/// What this machine's settings say: the node-port range and the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub node_port_range: RangeInclusive<u16>,
    /// `host[:port][/path]`, `None` when none is set.
    pub registry: Option<String>,
}

impl Settings {
    /// `ENVCTL_NODE_PORT_RANGE`, and `ENVCTL_REGISTRY` or `registry:` of the working
    /// directory's envctl.yaml (`project::registry`).
    pub fn from_environment() -> Result<Self, UpInputsError> {
        Ok(Self {
            node_port_range: node_ports::range_from_env()?,
            registry: project::registry()?.map(|r| r.address),
        })
    }
}

/// The inputs of `manifests_with` for `up`: node ports allocated in the range of
/// `ENVCTL_NODE_PORT_RANGE`, keeping `current` (the instance's, `node_ports::current` of its
/// Services) and avoiding `taken` (`node_ports::in_use` of every Service in the cluster);
/// secret values read on this machine; the effective registry (`project::registry`), required
/// when the environment has images built here; providers advertising `advertise_host` when
/// the user gave one (`--advertise-host`, ENVCTL_ADVERTISE_HOST), else their node's address.
pub fn for_up(
    env: &Environment,
    current: &NodePorts,
    taken: &BTreeSet<u16>,
    advertise_host: Option<&str>,
) -> Result<MappingInputs, UpInputsError> {
    let settings = Settings::from_environment()?;
    for_up_with(env, current, taken, advertise_host, &settings, &|value| {
        crate::plan::resolve_secret_from_host(value).map_err(|e| e.to_string())
    })
}

/// `for_up` with the settings and the secret reader given.
pub fn for_up_with(
    env: &Environment,
    current: &NodePorts,
    taken: &BTreeSet<u16>,
    advertise_host: Option<&str>,
    settings: &Settings,
    read_secret: &dyn Fn(&EnvValue) -> Result<String, String>,
) -> Result<MappingInputs, UpInputsError> {
    // The registry first: without it nothing else matters, and no secret is read in vain.
    require_registry(env, settings.registry.as_deref())?;
    let range = settings.node_port_range.clone();
    let ports = node_ports::allocate_for_env(env, current, taken, range.clone())?;
    let mut inputs = MappingInputs::up(ports, range);
    inputs.secrets = Some(secret_values::resolve_with(env, read_secret)?);
    inputs.registry = settings.registry.clone();
    if let Some(host) = advertise_host {
        inputs.advertise = Advertise::Literal(host.to_string());
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kubernetes::manifests_with;
    use crate::model::{host_port_token, InstanceId, PortSpec, Protocol, Service, ServiceName};

    fn env() -> Environment {
        let mut provider = Service::from_image(
            ServiceName::new("order").unwrap(),
            "envctl/dubbo-python:3.0",
        );
        provider.ports = vec![PortSpec {
            container: 20880,
            host: None,
            protocol: Protocol::Tcp,
        }];
        provider.env.insert(
            "DUBBO_PORT_TO_REGISTRY".into(),
            EnvValue::Plain(host_port_token::format("order", 20880)),
        );
        provider.env.insert(
            "DUBBO_IP_TO_REGISTRY".into(),
            EnvValue::Plain("192.0.2.10".into()),
        );
        provider
            .env
            .insert("DB_PASSWORD".into(), EnvValue::FromEnv("SHOP_DB_PW".into()));
        Environment {
            env: "shop".into(),
            feature: Some("pay".into()),
            instance: InstanceId::new("shop", Some("pay")).unwrap(),
            description: None,
            ttl: None,
            source: "/defs/shop.yaml".into(),
            services: [(provider.name.clone(), provider)].into(),
            local: BTreeMap::new(),
            overlay: None,
            forkable: None,
        }
    }

    fn settings(registry: Option<&str>) -> Settings {
        Settings {
            node_port_range: 30000..=30099,
            registry: registry.map(str::to_string),
        }
    }

    fn secret(value: &EnvValue) -> Result<String, String> {
        match value {
            EnvValue::FromEnv(name) if name == "SHOP_DB_PW" => Ok("pw".into()),
            other => Err(format!("cannot read {other:?}")),
        }
    }

    #[test]
    fn inputs_for_up_fill_every_placeholder_of_the_mapping() {
        let env = env();
        let current = BTreeMap::from([(("order".to_string(), 20880), 30042)]);
        let inputs = for_up_with(
            &env,
            &current,
            &BTreeSet::from([30042]),
            None,
            &settings(Some("reg:5000")),
            &secret,
        )
        .unwrap();
        assert_eq!(inputs.node_ports, current);
        assert_eq!(inputs.node_port_range, Some(30000..=30099));
        assert_eq!(inputs.advertise, Advertise::NodeHostIp);
        assert_eq!(inputs.registry.as_deref(), Some("reg:5000"));
        let text = serde_json::to_string(&manifests_with(&env, &inputs).unwrap()).unwrap();
        for wanted in [
            "\"nodePort\":30042",
            "\"value\":\"30042\"",
            "status.hostIP",
            "reg:5000/envctl/dubbo-python:3.0",
            "\"order.DB_PASSWORD\":\"pw\"",
        ] {
            assert!(text.contains(wanted), "no {wanted} in {text}");
        }
        assert!(!text.contains("at up"), "{text}");

        let given = for_up_with(
            &env,
            &current,
            &BTreeSet::new(),
            Some("nodes.example.com"),
            &settings(Some("reg:5000")),
            &secret,
        )
        .unwrap();
        assert_eq!(
            given.advertise,
            Advertise::Literal("nodes.example.com".into())
        );
    }

    #[test]
    fn a_missing_registry_is_refused_before_any_secret_is_read() {
        let read = |_: &EnvValue| -> Result<String, String> { panic!("a secret was read") };
        let err = for_up_with(
            &env(),
            &BTreeMap::new(),
            &BTreeSet::new(),
            None,
            &settings(None),
            &read,
        )
        .unwrap_err();
        assert!(matches!(err, UpInputsError::NoRegistry(_)), "{err}");
        assert!(
            err.to_string()
                .contains("service `order`: envctl/dubbo-python:3.0"),
            "{err}"
        );
    }

    #[test]
    fn node_port_and_secret_problems_name_what_to_fix() {
        let full = (30000..=30099).collect();
        let err = for_up_with(
            &env(),
            &BTreeMap::new(),
            &full,
            None,
            &settings(Some("reg")),
            &secret,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("no free node port left in 30000-30099"),
            "{err}"
        );
        let none = |_: &EnvValue| -> Result<String, String> {
            Err("host environment variable SHOP_DB_PW is not set".into())
        };
        let err = for_up_with(
            &env(),
            &BTreeMap::new(),
            &BTreeSet::new(),
            None,
            &settings(Some("reg")),
            &none,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("service `order`: env `DB_PASSWORD`: host environment variable SHOP_DB_PW is not set"),
            "{err}"
        );
    }
}
