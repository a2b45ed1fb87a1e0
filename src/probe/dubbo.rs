//! `dubbo: { interface }` — ready when a provider of the interface is registered in the
//! instance's ZooKeeper and the address it registered accepts connections. Checking the
//! registered address (not the container) is the point: it proves that consumers which read
//! the registry, inside or outside Docker as configured, can reach the provider.

use std::net::SocketAddr;
use std::time::Duration;

use crate::dubbo::{providers, DEFAULT_GROUP};
use crate::zookeeper::Session;

pub(super) async fn check(
    registry: SocketAddr,
    interface: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut session = Session::connect(registry, timeout)
        .await
        .map_err(|err| format!("registry ZooKeeper {err}"))?;
    let found = providers(&mut session, DEFAULT_GROUP, interface).await;
    session.close().await;
    let found = found.map_err(|err| format!("registry ZooKeeper {registry}: {err}"))?;
    if found.registrations.is_empty() {
        return Err(format!("no provider of {interface} is registered yet"));
    }
    let mut refused = Vec::new();
    for registration in &found.registrations {
        let address = registration.address();
        match super::tcp::connect(address.as_str(), timeout).await {
            Ok(_) => return Ok(()),
            Err(err) => refused.push(err),
        }
    }
    Err(format!(
        "{interface} is registered but not reachable: {}",
        refused.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zookeeper::fake::FakeZk;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

    fn node(addr: SocketAddr) -> String {
        let url = format!("tri://{addr}/a.Greeter?interface=a.Greeter&side=provider");
        utf8_percent_encode(&url, NON_ALPHANUMERIC).to_string()
    }

    const T: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn registered_and_listening_is_ready() {
        let provider = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registered = node(provider.local_addr().unwrap());
        let zk = FakeZk::start(&[("/dubbo/a.Greeter/providers", &[registered.as_str()])]).await;
        check(zk.addr, "a.Greeter", T).await.unwrap();
    }

    #[tokio::test]
    async fn not_registered_or_not_listening_is_not_ready() {
        let zk = FakeZk::start(&[]).await;
        let err = check(zk.addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.contains("no provider of a.Greeter"), "{err}");

        let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registered = node(gone.local_addr().unwrap());
        drop(gone);
        let zk = FakeZk::start(&[("/dubbo/a.Greeter/providers", &[registered.as_str()])]).await;
        let err = check(zk.addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.contains("registered but not reachable"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = check(addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.contains("registry ZooKeeper"), "{err}");
    }
}
