//! The DNS names a container takes. An instance's containers answer to their service name
//! and `aliases` on its own network. An overlay shares its base's network, where Docker's
//! embedded DNS answers a name held by two containers with both addresses (checked on the
//! engine, 20.10): a base consumer would reach the overlay's copy at random. So an overlay's
//! containers take no network-wide names (their container name `<instance>-<service>` still
//! resolves), and each reaches the overlay's copies of the services it depends on under their
//! usual names through links: on a user-defined network a link is a name only the linking
//! container resolves, and it wins over a network-wide alias of the same name (also checked).
//! A link follows its container by name: a recreated dependency is found again (also checked).
//! Everything else an overlay service names resolves to the base's service.

use crate::model::{Environment, Service};

/// `(aliases on the network, links as container:alias)` for `service`'s container.
pub(super) fn names(env: &Environment, service: &Service) -> (Vec<String>, Vec<String>) {
    if env.overlay.is_none() {
        let mut aliases = vec![service.name.to_string()];
        aliases.extend(service.aliases.iter().cloned());
        return (aliases, Vec::new());
    }
    // Only dependencies: a link needs its container to exist, and `apply` creates a
    // service's dependencies before it.
    let links = service
        .depends_on
        .keys()
        .filter_map(|dep| env.services.get(dep))
        .flat_map(|dep| {
            let container = env.instance.container_name(&dep.name);
            std::iter::once(dep.name.to_string())
                .chain(dep.aliases.iter().cloned())
                .map(move |alias| format!("{container}:{alias}"))
        })
        .collect();
    (Vec::new(), links)
}
