//! `dubbo: { interface | application, registry? }` — ready when a provider is registered in
//! the registry (any form: interface-level URL nodes, Dubbo 3 application instances) and the
//! address it registered answers its protocol (see `answers`). Checking the registered
//! address (not the container) is the point: it proves that consumers which read the
//! registry, inside or outside Docker as configured, can reach the provider.

use std::net::SocketAddr;
use std::time::Duration;

use super::answers::answers;
use super::ProbeFailed;
use crate::dubbo::{address, instances, providers, Layout, Registration};
use crate::model::{DubboProbe, DubboProvider};
use crate::zookeeper::Session;

/// Whether a registered `host:port` belongs to the service probed.
pub(super) type Own<'a> = dyn Fn(&str, u16) -> bool + Sync + 'a;

/// `own`: count only the registrations it accepts (an overlay's provider; see `ProbeTarget`).
pub(super) async fn check(
    servers: &[SocketAddr],
    probe: &DubboProbe,
    own: Option<&Own<'_>>,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let layout = match &probe.registry {
        Some(text) => address::parse(text).map_err(|e| e.to_string())?.layout,
        None => Layout::default(),
    };
    let mut session = Session::connect_any(servers, &layout.chroot, timeout)
        .await
        .map_err(|err| format!("registry ZooKeeper {err}"))?;
    let registry = session.addr();
    let (found, what) = match &probe.provider {
        DubboProvider::Interface(name) => (
            providers(&mut session, &layout, name).await,
            format!("provider of {name}"),
        ),
        DubboProvider::Application(name) => (
            instances(&mut session, &layout, name, &[]).await,
            format!("instance of application {name}"),
        ),
    };
    session.close().await;
    let mut found = found.map_err(|err| format!("registry ZooKeeper {registry}: {err}"))?;
    if let Some(own) = own {
        let all = found.registrations.len();
        found.registrations.retain(|r| own(&r.host, r.port));
        if found.registrations.is_empty() && all > 0 {
            return Err(format!(
                "no {what} at this service's addresses is registered yet ({all} of others, e.g. the base's)"
            )
            .into());
        }
    }
    if found.registrations.is_empty() {
        let mut reason = format!("no {what} is registered yet");
        if let Some(problem) = found.undecodable.first() {
            reason.push_str(&format!(" ({problem})"));
        }
        return Err(reason.into());
    }
    let mut failures = Vec::new();
    for registration in &found.registrations {
        match reachable(registration, timeout).await {
            Ok(()) => return Ok(()),
            Err(err) => failures.push(err.0),
        }
    }
    Err(format!(
        "the {what} is registered but not reachable: {}",
        failures.join("; ")
    )
    .into())
}

/// Whether the provider at the registered address answers like a server of its protocol.
async fn reachable(registration: &Registration, timeout: Duration) -> Result<(), ProbeFailed> {
    let address = registration.address();
    let mut stream = super::tcp::connect(address.as_str(), timeout).await?;
    answers(&registration.protocol, &mut stream, timeout)
        .await
        .map_err(|reason| format!("{} {address}: {reason}", registration.protocol).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::answers::{
        DUBBO_HEADER_LEN, DUBBO_MAGIC, FLAG_EVENT, FLAG_REQUEST, H2_PREFACE, STATUS_OK,
    };
    use crate::zookeeper::fake::FakeZk;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn node(protocol: &str, addr: SocketAddr) -> String {
        let url = format!("{protocol}://{addr}/a.Greeter?interface=a.Greeter&side=provider");
        utf8_percent_encode(&url, NON_ALPHANUMERIC).to_string()
    }

    const T: Duration = Duration::from_secs(2);

    fn greeter() -> DubboProbe {
        DubboProbe::interface("a.Greeter")
    }

    #[derive(Clone, Copy)]
    enum Speaks {
        Http2,
        /// Answers dubbo heartbeats as `ExchangeCodec.encodeResponse` does.
        DubboHeartbeat,
        /// Accepts and reads, never answers (a proxy with a silent backend).
        Nothing,
        /// Accepts and closes at once (docker-proxy with nothing behind it).
        HangsUp,
    }

    async fn provider(speaks: Speaks) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    match speaks {
                        Speaks::HangsUp => return,
                        Speaks::Http2 => {
                            let mut preface = vec![0u8; H2_PREFACE.len()];
                            if conn.read_exact(&mut preface).await.is_ok() {
                                let _ = conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await;
                            }
                        }
                        Speaks::DubboHeartbeat => {
                            let mut request = [0u8; DUBBO_HEADER_LEN + 1];
                            if conn.read_exact(&mut request).await.is_ok()
                                && request[2] & FLAG_REQUEST != 0
                            {
                                let mut reply = request;
                                reply[2] = (request[2] & 0x1f) | FLAG_EVENT;
                                reply[3] = STATUS_OK;
                                assert_eq!(reply[..2], DUBBO_MAGIC);
                                let _ = conn.write_all(&reply).await;
                            }
                        }
                        Speaks::Nothing => {}
                    }
                    let mut sink = [0u8; 64];
                    while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        (addr, task)
    }

    async fn registry_with(nodes: &[&str]) -> FakeZk {
        FakeZk::start(&[("/dubbo/a.Greeter/providers", nodes)]).await
    }

    #[tokio::test]
    async fn a_triple_provider_that_speaks_http2_is_ready() {
        let (addr, _server) = provider(Speaks::Http2).await;
        let zk = registry_with(&[&node("tri", addr)]).await;
        check(&[zk.addr], &greeter(), None, T).await.unwrap();
    }

    #[tokio::test]
    async fn an_overlay_provider_is_ready_only_with_its_own_registration() {
        // The base's provider of the same interface answers; the overlay's is not there yet.
        let (base, _server) = provider(Speaks::Http2).await;
        let zk = registry_with(&[&node("tri", base)]).await;
        let elsewhere = |_: &str, port: u16| port == base.port() + 1;
        let err = check(&[zk.addr], &greeter(), Some(&elsewhere), T)
            .await
            .unwrap_err();
        assert!(err.0.contains("at this service's addresses"), "{err}");
        let mine = |host: &str, port: u16| host == "127.0.0.1" && port == base.port();
        check(&[zk.addr], &greeter(), Some(&mine), T).await.unwrap();
    }

    #[tokio::test]
    async fn a_dubbo_provider_that_answers_the_heartbeat_is_ready() {
        let (addr, _server) = provider(Speaks::DubboHeartbeat).await;
        let zk = registry_with(&[&node("dubbo", addr)]).await;
        check(&[zk.addr], &greeter(), None, T).await.unwrap();
    }

    #[tokio::test]
    async fn a_dubbo_port_that_accepts_but_never_answers_is_not_ready() {
        let (addr, _server) = provider(Speaks::Nothing).await;
        let zk = registry_with(&[&node("dubbo", addr)]).await;
        let err = check(&[zk.addr], &greeter(), None, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.0.contains("no answer to a dubbo heartbeat"), "{err}");
        // A triple server on a port registered as dubbo is not a dubbo provider either.
        let (h2, _server) = provider(Speaks::Http2).await;
        let zk = registry_with(&[&node("dubbo", h2)]).await;
        let err = check(&[zk.addr], &greeter(), None, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.0.contains("dubbo"), "{err}");
    }

    #[tokio::test]
    async fn an_application_probe_reads_instances_under_a_chroot_and_group() {
        let (addr, _server) = provider(Speaks::DubboHeartbeat).await;
        let instance = format!(r#"{{"address":"127.0.0.1","port":{}}}"#, addr.port());
        let id = format!("127.0.0.1:{}", addr.port());
        let path = format!("/team/services/greeter/{id}");
        let zk = FakeZk::with_data(
            &[("/team/services/greeter", &[id.as_str()])],
            &[(&path, &instance)],
        )
        .await;
        let probe = DubboProbe {
            provider: crate::model::DubboProvider::Application("greeter".into()),
            registry: Some("zk:2181/team?group=shop".into()),
        };
        check(&[zk.addr], &probe, None, T).await.unwrap();
        let other = DubboProbe {
            provider: crate::model::DubboProvider::Application("billing".into()),
            ..probe
        };
        let err = check(&[zk.addr], &other, None, T).await.unwrap_err();
        assert!(
            err.0.contains("no instance of application billing"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_port_that_accepts_and_hangs_up_is_not_ready() {
        // What docker-proxy does for a published port with nothing listening inside.
        let (addr, _server) = provider(Speaks::HangsUp).await;
        for protocol in ["tri", "dubbo"] {
            let zk = registry_with(&[&node(protocol, addr)]).await;
            let err = check(&[zk.addr], &greeter(), None, T).await.unwrap_err();
            assert!(err.0.contains("hung up"), "{protocol}: {err}");
        }
    }

    #[tokio::test]
    async fn a_silent_triple_port_is_not_ready() {
        let (addr, _server) = provider(Speaks::Nothing).await;
        let zk = registry_with(&[&node("tri", addr)]).await;
        let err = check(&[zk.addr], &greeter(), None, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.0.contains("no HTTP/2 answer"), "{err}");
    }

    #[tokio::test]
    async fn not_registered_or_not_listening_is_not_ready() {
        let zk = FakeZk::start(&[]).await;
        let err = check(&[zk.addr], &greeter(), None, T).await.unwrap_err();
        assert!(err.0.contains("no provider of a.Greeter"), "{err}");

        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registered = node("tri", gone.local_addr().unwrap());
        drop(gone);
        let zk = registry_with(&[&registered]).await;
        let err = check(&[zk.addr], &greeter(), None, T).await.unwrap_err();
        assert!(err.0.contains("registered but not reachable"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = check(&[addr], &greeter(), None, T).await.unwrap_err();
        assert!(err.0.contains("registry ZooKeeper"), "{err}");
    }
}
