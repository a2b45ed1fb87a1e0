//! Dubbo's view of ZooKeeper: which providers are registered, in every form Dubbo writes
//! (interface-level URL nodes and Dubbo 3 application instances; see `registration` and
//! `instance`), under any group, root or chroot (`address`).

pub mod address;
pub mod endpoints;
mod instance;
mod registration;
pub mod registry;

pub use address::{Layout, RegistryAddress};
pub use registration::{decode, DecodeError, Form, Registration};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::zookeeper::{Session, ZkError};

/// The registry root Dubbo uses unless a `group` is configured.
pub const DEFAULT_GROUP: &str = "dubbo";

/// Group children that are Dubbo's own bookkeeping, not interfaces.
const NOT_INTERFACES: &[&str] = &["mapping", "config", "metadata"];

/// What was found in the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    pub registrations: Vec<Registration>,
    /// Nodes that could not be decoded, with the reason; kept so users can see them.
    pub undecodable: Vec<String>,
}

impl Found {
    fn extend(&mut self, other: Found) {
        self.registrations.extend(other.registrations);
        self.undecodable.extend(other.undecodable);
    }
}

/// Children of `path`; a missing node has none.
async fn children_or_none(session: &mut Session, path: &str) -> Result<Vec<String>, ZkError> {
    match session.children(path).await {
        Ok(nodes) => Ok(nodes),
        Err(ZkError::NoNode { .. }) => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

/// The interface-level registrations of `interface` (URL nodes under its `providers`).
async fn interface_level(
    session: &mut Session,
    layout: &Layout,
    interface: &str,
) -> Result<Found, ZkError> {
    let path = layout.providers_path(interface);
    let mut out = Found::default();
    for node in children_or_none(session, &path).await? {
        match decode(&node, interface) {
            Ok(registration) => out.registrations.push(registration),
            Err(err) => out.undecodable.push(format!("{path}: {err}")),
        }
    }
    Ok(out)
}

/// The applications a Dubbo 3 mapping names as providers of `interface`.
async fn mapped_applications(
    session: &mut Session,
    layout: &Layout,
    interface: &str,
) -> Result<Vec<String>, ZkError> {
    match session.data(&layout.mapping_path(interface)).await {
        Ok(data) => Ok(instance::decode_mapping(&data)),
        Err(ZkError::NoNode { .. }) => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

/// The registered instances of `application`, each naming `interfaces`.
pub async fn instances(
    session: &mut Session,
    layout: &Layout,
    application: &str,
    interfaces: &[String],
) -> Result<Found, ZkError> {
    let root = layout.instances_path(application);
    let mut out = Found::default();
    for id in children_or_none(session, &root).await? {
        let path = format!("{root}/{id}");
        let data = match session.data(&path).await {
            Ok(data) => data,
            // Gone between listing and reading: an instance going away.
            Err(ZkError::NoNode { .. }) => continue,
            Err(err) => return Err(err),
        };
        match instance::decode_instance(application, &id, &data, &path, interfaces) {
            Ok(found) => out.registrations.extend(found),
            Err(err) => out.undecodable.push(err.to_string()),
        }
    }
    Ok(out)
}

/// Every provider of `interface`: its URL nodes, and the instances of the applications its
/// Dubbo 3 mapping names (the only trace of a provider with `register-mode: instance`).
pub async fn providers(
    session: &mut Session,
    layout: &Layout,
    interface: &str,
) -> Result<Found, ZkError> {
    let mut out = interface_level(session, layout, interface).await?;
    let named = [interface.to_string()];
    for application in mapped_applications(session, layout, interface).await? {
        out.extend(instances(session, layout, &application, &named).await?);
    }
    Ok(out)
}

/// Every provider in the registry, in both forms; instances name the interfaces mapped to
/// their application.
pub async fn everything(session: &mut Session, layout: &Layout) -> Result<Found, ZkError> {
    let mut out = Found::default();
    let group_children = children_or_none(session, &layout.group_root()).await?;
    for interface in group_children
        .iter()
        .filter(|c| !NOT_INTERFACES.contains(&c.as_str()))
    {
        out.extend(interface_level(session, layout, interface).await?);
    }
    let mut served: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if group_children.iter().any(|c| c == "mapping") {
        let mapping_root = layout.mapping_path("");
        for interface in children_or_none(session, mapping_root.trim_end_matches('/')).await? {
            for application in mapped_applications(session, layout, &interface).await? {
                served
                    .entry(application)
                    .or_default()
                    .push(interface.clone());
            }
        }
    }
    let services_root = layout.services_root.clone();
    for application in children_or_none(session, &services_root).await? {
        let interfaces = served.get(&application).cloned().unwrap_or_default();
        out.extend(instances(session, layout, &application, &interfaces).await?);
    }
    Ok(out)
}

/// As `everything`, leaving a watch on every node whose change can add or remove a provider:
/// the existing ancestors of the group and instance roots (they may not exist yet), each
/// interface node (its `providers` may not), and every node `everything` reads. The next
/// `Session::next_event` then says when to look again.
pub async fn everything_watched(session: &mut Session, layout: &Layout) -> Result<Found, ZkError> {
    session.watch_reads(true);
    let result = async {
        for root in [layout.group_root(), layout.services_root.clone()] {
            for ancestor in ancestors(&root) {
                children_or_none(session, &ancestor).await?;
            }
        }
        for interface in children_or_none(session, &layout.group_root()).await? {
            if !NOT_INTERFACES.contains(&interface.as_str()) {
                let node = layout.providers_path(&interface);
                let node = node.trim_end_matches("/providers");
                children_or_none(session, node).await?;
            }
        }
        everything(session, layout).await
    }
    .await;
    session.watch_reads(false);
    result
}

/// `/`, `/a`, `/a/b` for `/a/b/c`.
fn ancestors(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len())
        .map(|n| format!("/{}", parts[..n].join("/")))
        .collect()
}

/// Opens a session on the first server that answers, lists every provider, closes it.
pub async fn list_all(
    servers: &[SocketAddr],
    layout: &Layout,
    timeout: Duration,
) -> Result<Found, ZkError> {
    let mut session = Session::connect_any(servers, &layout.chroot, timeout).await?;
    let result = everything(&mut session, layout).await;
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zookeeper::fake::FakeZk;

    const GREETER: &str = "tri%3A%2F%2F10.0.0.5%3A20880%2Fa.Greeter%3Fside%3Dprovider";
    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn lists_interface_nodes_and_names_the_undecodable() {
        let zk = FakeZk::start(&[
            ("/dubbo", &["a.Greeter", "b.Empty", "c.Missing"]),
            ("/dubbo/a.Greeter/providers", &[GREETER, "garbage"]),
            ("/dubbo/b.Empty/providers", &[]),
        ])
        .await;
        let all = list_all(&[zk.addr], &Layout::default(), T).await.unwrap();
        assert_eq!(all.registrations.len(), 1);
        let r = &all.registrations[0];
        assert_eq!(
            (r.interface.as_deref(), r.form),
            (Some("a.Greeter"), Form::Interface)
        );
        assert_eq!(r.address(), "10.0.0.5:20880");
        assert_eq!(all.undecodable.len(), 1);
        assert!(all.undecodable[0].starts_with("/dubbo/a.Greeter/providers: "));
    }

    #[test]
    fn ancestors_of_a_root() {
        assert_eq!(ancestors("/a/b/c"), ["/", "/a", "/a/b"]);
        assert_eq!(ancestors("/dubbo"), ["/"]);
    }

    #[tokio::test]
    async fn an_empty_registry_has_no_providers() {
        let zk = FakeZk::start(&[]).await;
        let all = list_all(&[zk.addr], &Layout::default(), T).await.unwrap();
        assert_eq!(all, Found::default());
    }

    #[tokio::test]
    async fn application_instances_are_found_through_the_mapping() {
        let zk = FakeZk::with_data(
            &[
                ("/dubbo", &["mapping"]),
                ("/dubbo/mapping", &["a.Greeter"]),
                ("/services", &["greeter", "idle"]),
                ("/services/greeter", &["10.0.0.7:20880"]),
                ("/services/idle", &["10.0.0.8:20880"]),
            ],
            &[
                ("/dubbo/mapping/a.Greeter", "greeter"),
                (
                    "/services/greeter/10.0.0.7:20880",
                    r#"{"address":"10.0.0.7","port":20880}"#,
                ),
                (
                    "/services/idle/10.0.0.8:20880",
                    r#"{"address":"10.0.0.8","port":20880}"#,
                ),
            ],
        )
        .await;
        let mut session = Session::connect(zk.addr, T).await.unwrap();
        let found = providers(&mut session, &Layout::default(), "a.Greeter")
            .await
            .unwrap();
        assert_eq!(found.registrations.len(), 1);
        let r = &found.registrations[0];
        assert_eq!(
            (r.form, r.application.as_deref()),
            (Form::Instance, Some("greeter"))
        );
        assert_eq!(r.address(), "10.0.0.7:20880");

        let all = everything(&mut session, &Layout::default()).await.unwrap();
        let by_app = |app: &str| {
            all.registrations
                .iter()
                .find(|r| r.application.as_deref() == Some(app))
                .map(|r| r.interface.clone())
        };
        assert_eq!(by_app("greeter"), Some(Some("a.Greeter".to_string())));
        assert_eq!(by_app("idle"), Some(None));
        session.close().await;
    }
}
