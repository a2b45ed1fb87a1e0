//! Feature overlays: an instance `<env>--<feature>` that runs only the services a feature
//! changes (plus what only they use) on its base instance's network and registry, tagged so
//! Dubbo routes the feature's traffic to them.

use std::collections::BTreeSet;

use super::{EnvValue, Environment, InstanceId, NameError, Service, ServiceName};

/// The environment variables the shipped Dubbo images (and Java Dubbo) read for the tag a
/// provider registers and the tag a consumer sends.
pub const PROVIDER_TAG_ENV: &str = "DUBBO_PROVIDER_TAG";
pub const CONSUMER_TAG_ENV: &str = "DUBBO_CONSUMER_TAG";

/// What makes an environment an overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// The instance whose network and registry the overlay joins (`<env>` or `<env>--<base>`).
    pub base: InstanceId,
    /// The Dubbo tag of its services: the overlay's feature.
    pub tag: String,
    /// The services asked for (`--only`, or the declared `overlay.services`).
    pub forked: Vec<ServiceName>,
}

/// Why an overlay cannot be made from the definition and the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    #[error("an overlay is a feature instance: give --feature FEATURE with --only or --base")]
    NoFeature,
    #[error("--base {0}: the overlay cannot be its own base")]
    OwnBase(String),
    #[error("--base: {0}")]
    BadBase(NameError),
    #[error("--only: give the services the feature changes (e.g. --only payment-service); the definition declares no `overlay:`")]
    NothingAsked,
    #[error("--only {name}: no such service; services are: {known}")]
    NoSuchService { name: String, known: String },
    #[error("--only {name}: the definition's `overlay.services` does not list it; a feature may fork: {allowed}")]
    NotForkable { name: String, allowed: String },
}

impl Environment {
    /// Turns this (feature) environment into an overlay of `base_feature`'s instance (`None`:
    /// the main one) running `only` (empty: the declared `overlay.services`), the services
    /// only they depend on except the registry (`shared`: the base's registry is the point
    /// of an overlay, even when no base service outside it depends on it), and nothing else. Every kept service gets the feature as its
    /// Dubbo provider and consumer tag unless it sets those variables itself; dependencies on
    /// base services are dropped (the base is up: they are its to keep ready).
    pub fn into_overlay(
        &mut self,
        base_feature: Option<&str>,
        only: &[String],
        shared: &dyn Fn(&Service) -> bool,
    ) -> Result<(), OverlayError> {
        let tag = self.feature.clone().ok_or(OverlayError::NoFeature)?;
        if base_feature == Some(tag.as_str()) {
            return Err(OverlayError::OwnBase(tag));
        }
        let base = InstanceId::new(&self.env, base_feature).map_err(OverlayError::BadBase)?;
        let forked = self.forked(only)?;
        let kept = self.with_private_dependencies(&forked, shared);
        self.services.retain(|name, _| kept.contains(name));
        for service in self.services.values_mut() {
            service.depends_on.retain(|dep, _| kept.contains(dep));
            for key in [PROVIDER_TAG_ENV, CONSUMER_TAG_ENV] {
                let tag = EnvValue::Plain(tag.clone());
                service.env.entry(key.to_string()).or_insert(tag);
            }
        }
        self.overlay = Some(Overlay { base, tag, forked });
        Ok(())
    }

    /// The services asked for, checked against the definition and its `overlay.services`.
    fn forked(&self, only: &[String]) -> Result<Vec<ServiceName>, OverlayError> {
        let list = |names: &mut dyn Iterator<Item = &ServiceName>| {
            names
                .map(ServiceName::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if only.is_empty() {
            return match &self.forkable {
                Some(declared) => Ok(declared.clone()),
                None => Err(OverlayError::NothingAsked),
            };
        }
        let mut forked = Vec::new();
        for name in only {
            let Some((found, _)) = self.services.get_key_value(name.as_str()) else {
                return Err(OverlayError::NoSuchService {
                    name: name.clone(),
                    known: list(&mut self.services.keys()),
                });
            };
            if let Some(declared) = &self.forkable {
                if !declared.contains(found) {
                    return Err(OverlayError::NotForkable {
                        name: name.clone(),
                        allowed: list(&mut declared.iter()),
                    });
                }
            }
            if !forked.contains(found) {
                forked.push(found.clone());
            }
        }
        Ok(forked)
    }

    /// `forked` plus every service that only they use: a dependency (direct or not) of the
    /// set that no service outside it depends on. What a base service also uses stays the
    /// base's (a registry, a shared cache).
    fn with_private_dependencies(
        &self,
        forked: &[ServiceName],
        shared: &dyn Fn(&Service) -> bool,
    ) -> BTreeSet<ServiceName> {
        let mut kept: BTreeSet<ServiceName> = forked.iter().cloned().collect();
        loop {
            let private = self.services.keys().find(|candidate| {
                !kept.contains(*candidate)
                    && !shared(&self.services[*candidate])
                    && kept
                        .iter()
                        .any(|k| self.services[k].depends_on.contains_key(*candidate))
                    && self
                        .services
                        .iter()
                        .filter(|(_, s)| s.depends_on.contains_key(*candidate))
                        .all(|(user, _)| kept.contains(user))
            });
            match private {
                Some(name) => kept.insert(name.clone()),
                None => return kept,
            };
        }
    }

    /// The network the instance's containers join: its own, or an overlay's base's.
    pub fn network_name(&self) -> String {
        match &self.overlay {
            Some(overlay) => overlay.base.network_name(),
            None => self.instance.network_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Condition;

    fn none(_: &Service) -> bool {
        false
    }

    fn service(name: &str, deps: &[&str]) -> Service {
        let mut s = Service::from_image(ServiceName::new(name).unwrap(), "img");
        s.depends_on = deps
            .iter()
            .map(|d| (ServiceName::new(d).unwrap(), Condition::Started))
            .collect();
        s
    }

    /// zookeeper (shared by all), payment -> payment-db-init -> payment-db (private to
    /// payment), order and gateway -> cache (shared by the two).
    fn shop(feature: Option<&str>) -> Environment {
        let mut env = Environment {
            env: "shop".into(),
            feature: feature.map(String::from),
            instance: InstanceId::new("shop", feature).unwrap(),
            description: None,
            ttl: None,
            source: "environments/shop.yaml".into(),
            services: Default::default(),
            local: Default::default(),
            overlay: None,
            forkable: None,
        };
        for s in [
            service("zookeeper", &[]),
            service("payment-db", &[]),
            service("payment-db-init", &["payment-db"]),
            service("payment", &["zookeeper", "payment-db-init"]),
            service("cache", &[]),
            service("order", &["zookeeper", "cache"]),
            service("gateway", &["zookeeper", "cache"]),
        ] {
            env.services.insert(s.name.clone(), s);
        }
        env
    }

    fn names(env: &Environment) -> Vec<&str> {
        env.services.keys().map(ServiceName::as_str).collect()
    }

    #[test]
    fn an_overlay_keeps_what_only_its_services_use() {
        let mut env = shop(Some("pay-v2"));
        env.into_overlay(None, &["payment".into()], &none).unwrap();
        // payment-db is reached only through payment-db-init: private, transitively.
        assert_eq!(names(&env), ["payment", "payment-db", "payment-db-init"]);
        let payment = &env.services["payment"];
        let deps: Vec<&str> = payment.depends_on.keys().map(|d| d.as_str()).collect();
        assert_eq!(deps, ["payment-db-init"], "zookeeper is the base's");
        assert_eq!(
            payment.env.get(PROVIDER_TAG_ENV),
            Some(&EnvValue::Plain("pay-v2".into()))
        );
        let overlay = env.overlay.as_ref().unwrap();
        assert_eq!(overlay.base.as_str(), "shop");
        assert_eq!(overlay.tag, "pay-v2");
        assert_eq!(env.network_name(), "envctl-shop");

        // cache is also used by gateway, which stays in the base.
        let mut env = shop(Some("o"));
        env.into_overlay(Some("main2"), &["order".into()], &none)
            .unwrap();
        assert_eq!(names(&env), ["order"]);
        assert_eq!(env.network_name(), "envctl-shop--main2");
        // Both users of cache in the overlay: it is theirs.
        let mut env = shop(Some("o"));
        env.into_overlay(None, &["order".into(), "gateway".into()], &none)
            .unwrap();
        assert_eq!(names(&env), ["cache", "gateway", "order"]);
        // All users of zookeeper forked: still the base's when `shared` says it is the registry.
        let all = ["payment".into(), "order".into(), "gateway".into()];
        let mut env = shop(Some("o"));
        let registry = |s: &Service| s.name.as_str() == "zookeeper";
        env.into_overlay(None, &all, &registry).unwrap();
        assert!(!env.services.contains_key("zookeeper"));
        let mut env = shop(Some("o"));
        env.into_overlay(None, &all, &none).unwrap();
        assert!(env.services.contains_key("zookeeper"));
    }

    #[test]
    fn a_service_keeps_its_own_tag_variables() {
        let mut env = shop(Some("f"));
        let own = EnvValue::Plain("canary".into());
        env.services
            .get_mut("order")
            .unwrap()
            .env
            .insert(CONSUMER_TAG_ENV.into(), own.clone());
        env.into_overlay(None, &["order".into()], &none).unwrap();
        let order = &env.services["order"].env;
        assert_eq!(order.get(CONSUMER_TAG_ENV), Some(&own));
        assert_eq!(
            order.get(PROVIDER_TAG_ENV),
            Some(&EnvValue::Plain("f".into()))
        );
    }

    #[test]
    fn bad_requests_are_refused_naming_what_exists() {
        let err = shop(Some("f"))
            .into_overlay(None, &["nope".into()], &none)
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("no such service; services are: cache, gateway"));
        assert_eq!(
            shop(None).into_overlay(None, &["order".into()], &none),
            Err(OverlayError::NoFeature)
        );
        assert_eq!(
            shop(Some("f")).into_overlay(Some("f"), &["order".into()], &none),
            Err(OverlayError::OwnBase("f".into()))
        );
        assert_eq!(
            shop(Some("f")).into_overlay(None, &[], &none),
            Err(OverlayError::NothingAsked)
        );
    }

    #[test]
    fn a_declared_overlay_limits_and_defaults_the_services() {
        let mut env = shop(Some("f"));
        env.forkable = Some(vec![ServiceName::new("payment").unwrap()]);
        let err = env
            .clone()
            .into_overlay(None, &["order".into()], &none)
            .unwrap_err();
        assert_eq!(
            err,
            OverlayError::NotForkable {
                name: "order".into(),
                allowed: "payment".into()
            }
        );
        env.into_overlay(None, &[], &none).unwrap();
        assert_eq!(names(&env), ["payment", "payment-db", "payment-db-init"]);
    }
}
