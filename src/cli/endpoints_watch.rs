//! `envctl endpoints --watch`: the providers as they come and go, for the developer who
//! restarts a provider from the IDE. One ZooKeeper session with watches (no polling): each
//! notification re-reads the registry, and the difference is printed, one line per provider
//! (`+`/`-` in text, a JSON object per line with `--output json`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;

use crate::backend::Backend;
use crate::dubbo::endpoints::{provider_endpoints, ProviderEndpoint};
use crate::dubbo::{Layout, RegistryAddress};
use crate::engine::ObservedContainer;
use crate::model::{Environment, InstanceId};
use crate::zookeeper::Session;

/// Bounds each step of opening the session and reading the registry.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);
/// Silence after which the session is pinged (a third of our 10 s session timeout, as
/// ZooKeeper's own clients do).
const PING_EVERY: Duration = Duration::from_secs(3);
/// How long one wait for a notification lasts before it simply starts again.
const WAIT: Duration = Duration::from_secs(3600);

/// What makes one provider line: the same registration at the same address.
type Key = (Option<String>, Option<String>, String, String);

fn key(p: &ProviderEndpoint) -> Key {
    (
        p.interface.clone(),
        p.application.clone(),
        p.registered.clone(),
        p.protocol.clone(),
    )
}

#[derive(serde::Serialize)]
struct Change<'a> {
    event: &'static str,
    provider: &'a ProviderEndpoint,
}

/// The registry to watch: `address` (its servers) or the instance's ZooKeeper, read with
/// `layout`.
pub struct Watched<'a> {
    pub address: Option<&'a RegistryAddress>,
    pub layout: &'a Layout,
    pub json: bool,
}

/// Runs until interrupted (or the registry is lost: an error).
pub async fn run(
    watched: Watched<'_>,
    backend: &dyn Backend,
    instance: &InstanceId,
    env: Option<&Environment>,
) -> anyhow::Result<crate::errors::ExitCode> {
    let host = backend.host_address().clone();
    let workloads = backend
        .services(instance)
        .await
        .context("listing the instance's containers")?;
    // An overlay's registry is its base's; only its own providers are shown.
    let base = crate::ops::overlays::base_workloads(backend, instance, &workloads).await?;
    let overlay = !base.is_empty();
    let containers: Vec<ObservedContainer> = workloads.into_values().collect();
    let candidates = crate::dubbo::registry::from_containers(containers.iter().chain(&base), env);
    let servers = crate::dubbo::registry::servers(watched.address, &candidates, host.local);
    if servers.is_empty() {
        anyhow::bail!(
            "no ZooKeeper to watch: the instance has none with a published client port \
             (or no server of --registry is one)"
        );
    }
    let mut session = Session::connect_any(&servers, &watched.layout.chroot, REGISTRY_TIMEOUT)
        .await
        .context("opening a ZooKeeper session to watch")?;
    let json = watched.json;
    if !json {
        crate::outln!(
            "Watching the Dubbo providers of {instance} in {} (Ctrl-C to stop)",
            session.addr()
        );
    }
    let mut shown: BTreeMap<Key, ProviderEndpoint> = BTreeMap::new();
    loop {
        let found = crate::dubbo::everything_watched(&mut session, watched.layout)
            .await
            .context("reading the registry")?;
        for problem in &found.undecodable {
            crate::errln!("warning: {problem}");
        }
        // Re-listed each time: a restarted provider is a new container with a new address.
        let containers = list_containers(backend, instance).await?;
        let now: BTreeMap<Key, ProviderEndpoint> = provider_endpoints(&found, &containers, &host)
            .into_iter()
            .filter(|p| !overlay || p.service.is_some())
            .map(|p| (key(&p), p))
            .collect();
        for (k, p) in &shown {
            if !now.contains_key(k) {
                print_change("removed", p, json)?;
            }
        }
        for (k, p) in &now {
            if !shown.contains_key(k) {
                print_change("added", p, json)?;
            }
        }
        shown = now;
        while session
            .next_event(WAIT, PING_EVERY)
            .await
            .context("watching the registry")?
            .is_none()
        {}
    }
}

async fn list_containers(
    backend: &dyn Backend,
    instance: &InstanceId,
) -> anyhow::Result<Vec<ObservedContainer>> {
    Ok(backend
        .services(instance)
        .await
        .context("listing the instance's containers")?
        .into_values()
        .collect())
}

fn print_change(event: &'static str, p: &ProviderEndpoint, json: bool) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string(&Change { event, provider: p })?);
        return Ok(());
    }
    let sign = if event == "added" { '+' } else { '-' };
    let name = p
        .interface
        .clone()
        .or_else(|| p.application.clone().map(|a| format!("application {a}")))
        .unwrap_or_default();
    let outside = p.outside.as_deref().unwrap_or("unreachable");
    let service = p.service.as_deref().unwrap_or("-");
    crate::outln!(
        "{sign} {name}  {outside}  {service}  {} (registered {})",
        p.protocol,
        p.registered
    );
    Ok(())
}
