//! The `endpoints` use case: the Dubbo providers registered in an instance's registry and
//! every published port, as an outsider reaches them (`envctl endpoints`, `envctl ui`).

use std::time::Duration;

use crate::backend::HostAddress;
use crate::dubbo::endpoints::{self, Endpoints, ProviderEndpoint, Reach};
use crate::dubbo::{Layout, RegistryAddress};
use crate::engine::ObservedContainer;
use crate::model::{Environment, InstanceId};

/// How long reading the registry may take before it is reported unreachable.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Which registry to read: an address (`endpoints --registry`) or, by default, the
/// instance's ZooKeeper with Dubbo's default layout.
#[derive(Debug, Clone, Default)]
pub struct RegistryChoice {
    pub address: Option<RegistryAddress>,
    pub layout: Layout,
    /// An overlay's base's workloads: its registry is there. Providers are then shown only
    /// when they are the overlay's own.
    pub base: Vec<ObservedContainer>,
}

/// Reads the registry (if one is found) and matches registrations against the containers.
/// Registry problems become warnings: published ports are still worth showing.
pub async fn collect(
    instance: &InstanceId,
    containers: Vec<ObservedContainer>,
    env: Option<&Environment>,
    host: &HostAddress,
    choice: &RegistryChoice,
) -> Endpoints {
    let mut warnings = Vec::new();
    let candidates =
        crate::dubbo::registry::from_containers(containers.iter().chain(&choice.base), env);
    let servers = crate::dubbo::registry::servers(choice.address.as_ref(), &candidates, host.local);
    let mut found = crate::dubbo::Found::default();
    let mut registry = None;
    if servers.is_empty() {
        warnings.push(match &choice.address {
            None => "no ZooKeeper with a published client port in this instance: no Dubbo \
                     providers shown"
                .to_string(),
            Some(_) => "no server of --registry is an IP address or a service of this \
                        instance with a published port: no Dubbo providers shown"
                .to_string(),
        });
    } else {
        registry = Some(servers[0].to_string());
        match crate::dubbo::list_all(&servers, &choice.layout, REGISTRY_TIMEOUT).await {
            Ok(listed) => found = listed,
            Err(err) => warnings.push(format!("cannot read the registry: {err}")),
        }
    }
    warnings.extend(found.undecodable.iter().cloned());
    let mut provider_endpoints = endpoints::provider_endpoints(&found, &containers, host);
    if !choice.base.is_empty() {
        provider_endpoints.retain(|p| p.service.is_some());
    }
    for p in &provider_endpoints {
        if p.reach == Reach::ContainerOnly {
            warnings.push(format!(
                "{} registered the container address {} and its port is not published: \
                 only consumers on the instance network can reach it",
                provider_name(p),
                p.registered
            ));
        }
    }
    Endpoints {
        instance: instance.to_string(),
        advertise_host: host.advertise.clone(),
        registry,
        providers: provider_endpoints,
        ports: endpoints::published_ports(&containers, host),
        warnings,
    }
}

/// How a provider is named: its interface, else its application.
pub fn provider_name(p: &ProviderEndpoint) -> String {
    match (&p.interface, &p.application) {
        (Some(interface), _) => interface.clone(),
        (None, Some(app)) => format!("application {app} (no interface mapping)"),
        (None, None) => "(unnamed)".to_string(),
    }
}
