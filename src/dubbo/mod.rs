//! Dubbo's view of ZooKeeper: which providers are registered for which interface.

pub mod endpoints;
mod registration;
pub mod registry;

pub use registration::{
    decode, group_root, providers_path, DecodeError, Registration, DEFAULT_GROUP,
};

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::zookeeper::{Session, ZkError};

/// The providers registered for one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Providers {
    pub interface: String,
    pub registrations: Vec<Registration>,
    /// Nodes that could not be decoded, with the reason; kept so users can see them.
    pub undecodable: Vec<String>,
}

/// Lists and decodes the providers of `interface`; none registered (or no such path) is empty.
pub async fn providers(
    session: &mut Session,
    group: &str,
    interface: &str,
) -> Result<Providers, ZkError> {
    let nodes = match session.children(&providers_path(group, interface)).await {
        Ok(nodes) => nodes,
        Err(ZkError::NoNode { .. }) => Vec::new(),
        Err(err) => return Err(err),
    };
    let mut out = Providers {
        interface: interface.to_string(),
        ..Providers::default()
    };
    for node in nodes {
        match decode(&node) {
            Ok(registration) => out.registrations.push(registration),
            Err(err) => out.undecodable.push(err.to_string()),
        }
    }
    Ok(out)
}

/// Every interface under the group root with its providers (interfaces without any are left out).
pub async fn all_providers(session: &mut Session, group: &str) -> Result<Vec<Providers>, ZkError> {
    let interfaces = match session.children(&group_root(group)).await {
        Ok(nodes) => nodes,
        Err(ZkError::NoNode { .. }) => Vec::new(),
        Err(err) => return Err(err),
    };
    let mut out = Vec::new();
    for interface in interfaces {
        let found = providers(session, group, &interface).await?;
        if !found.registrations.is_empty() || !found.undecodable.is_empty() {
            out.push(found);
        }
    }
    Ok(out)
}

/// Opens a session, lists every provider, closes the session.
pub async fn list_all(
    registry: SocketAddr,
    group: &str,
    timeout: Duration,
) -> Result<Vec<Providers>, ZkError> {
    let mut session = Session::connect(registry, timeout).await?;
    let result = all_providers(&mut session, group).await;
    session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zookeeper::fake::FakeZk;

    const GREETER: &str = "tri%3A%2F%2F10.0.0.5%3A20880%2Fa.Greeter%3Fside%3Dprovider";

    #[tokio::test]
    async fn lists_interfaces_with_providers_only() {
        let zk = FakeZk::start(&[
            ("/dubbo", &["a.Greeter", "b.Empty", "c.Missing"]),
            ("/dubbo/a.Greeter/providers", &[GREETER, "garbage"]),
            ("/dubbo/b.Empty/providers", &[]),
        ])
        .await;
        let all = list_all(zk.addr, DEFAULT_GROUP, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].interface, "a.Greeter");
        assert_eq!(all[0].registrations[0].address(), "10.0.0.5:20880");
        assert_eq!(all[0].undecodable.len(), 1);
    }

    #[tokio::test]
    async fn an_empty_registry_has_no_providers() {
        let zk = FakeZk::start(&[]).await;
        let all = list_all(zk.addr, DEFAULT_GROUP, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(all.is_empty());
    }
}
