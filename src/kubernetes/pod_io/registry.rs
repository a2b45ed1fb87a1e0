//! Which service's pod and port a `dubbo` probe's ZooKeeper is, for reaching it by
//! port-forward when it has no node port: `dubbo::registry`'s rule (zookeeper probe port,
//! then the `zookeeper` template, a service named `zookeeper`, an image naming zookeeper, on
//! 2181), without its condition that the port be published.

use crate::dubbo::address;
use crate::dubbo::registry::{self, Candidate};
use crate::model::DubboProbe;

/// The registry service of `probe` and its container port: the first server of the probe's
/// own `registry:` address that names a service of the instance, else the instance's
/// registry by the rule.
pub fn registry_service(probe: &DubboProbe, candidates: &[Candidate]) -> Option<(String, u16)> {
    if let Some(text) = &probe.registry {
        // Validated when the definition loaded; an address naming no service finds none.
        let parsed = address::parse(text).ok()?;
        return parsed.servers.iter().find_map(|server| {
            candidates
                .iter()
                .any(|c| c.service == server.host)
                .then(|| (server.host.clone(), server.port))
        });
    }
    registry::by_rule(candidates, |c, port| Some((c.service.clone(), port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(service: &str, image: &str) -> Candidate {
        Candidate {
            service: service.into(),
            image: image.into(),
            ..Candidate::default()
        }
    }

    #[test]
    fn the_rule_picks_the_registry_published_or_not() {
        let greeter = DubboProbe::interface("a.Greeter");
        let mut services = vec![
            candidate("cache", "redis:7"),
            candidate("registry", "bitnami/zookeeper:3.8"),
            candidate("zookeeper", "zk-local:1"),
        ];
        // By name before by image.
        assert_eq!(
            registry_service(&greeter, &services),
            Some(("zookeeper".into(), 2181))
        );
        // A zookeeper health check wins, on its own port.
        services[1].probe_port = Some(2281);
        assert_eq!(
            registry_service(&greeter, &services),
            Some(("registry".into(), 2281))
        );
        assert_eq!(registry_service(&greeter, &services[..1]), None);
    }

    #[test]
    fn the_probes_own_address_names_the_service() {
        let services = vec![candidate("zookeeper", "zookeeper"), candidate("zk2", "x")];
        let probe = DubboProbe {
            registry: Some("zookeeper://zk2:2182?backup=zookeeper:2181".into()),
            ..DubboProbe::interface("a.Greeter")
        };
        assert_eq!(
            registry_service(&probe, &services),
            Some(("zk2".into(), 2182))
        );
        let elsewhere = DubboProbe {
            registry: Some("zookeeper://10.0.0.9:2181".into()),
            ..DubboProbe::interface("a.Greeter")
        };
        assert_eq!(registry_service(&elsewhere, &services), None);
    }
}
