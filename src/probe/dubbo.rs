//! `dubbo: { interface }` — ready when a provider of the interface is registered in the
//! instance's ZooKeeper and the address it registered answers. Checking the registered
//! address (not the container) is the point: it proves that consumers which read the
//! registry, inside or outside Docker as configured, can reach the provider.
//!
//! "Answers" is more than a TCP accept: a published port is accepted by docker-proxy even
//! while nothing listens in the container (the proxy then hangs up). So a triple provider
//! (HTTP/2) must answer the HTTP/2 preface with a SETTINGS frame, and any other protocol
//! must at least not hang up at once.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeFailed;
use crate::dubbo::{providers, Registration, DEFAULT_GROUP};
use crate::zookeeper::Session;

/// The client connection preface of HTTP/2 followed by an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
const H2_SETTINGS: u8 = 0x4;
/// How long a non-HTTP/2 provider must keep a fresh connection open to count as listening.
const HANG_UP_WINDOW: Duration = Duration::from_millis(300);

pub(super) async fn check(
    registry: SocketAddr,
    interface: &str,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let mut session = Session::connect(registry, timeout)
        .await
        .map_err(|err| format!("registry ZooKeeper {err}"))?;
    let found = providers(&mut session, DEFAULT_GROUP, interface).await;
    session.close().await;
    let found = found.map_err(|err| format!("registry ZooKeeper {registry}: {err}"))?;
    if found.registrations.is_empty() {
        return Err(format!("no provider of {interface} is registered yet").into());
    }
    let mut failures = Vec::new();
    for registration in &found.registrations {
        match answers(registration, timeout).await {
            Ok(()) => return Ok(()),
            Err(err) => failures.push(err.0),
        }
    }
    Err(format!(
        "{interface} is registered but not reachable: {}",
        failures.join("; ")
    )
    .into())
}

/// Whether the provider at the registered address answers like a server of its protocol.
async fn answers(registration: &Registration, timeout: Duration) -> Result<(), ProbeFailed> {
    let address = registration.address();
    let mut stream = super::tcp::connect(address.as_str(), timeout).await?;
    let result = match registration.protocol.as_str() {
        "tri" | "grpc" => http2_settings(&mut stream, timeout).await,
        _ => stays_open(&mut stream).await,
    };
    result.map_err(|reason| format!("{address}: {reason}").into())
}

async fn http2_settings(stream: &mut TcpStream, timeout: Duration) -> Result<(), ProbeFailed> {
    let exchange = async {
        stream.write_all(H2_PREFACE).await?;
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await?;
        Ok::<_, std::io::Error>(header)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(header)) if header[3] == H2_SETTINGS => Ok(()),
        Ok(Ok(_)) => Err("answered the HTTP/2 preface without SETTINGS".into()),
        Ok(Err(err)) if hung_up(&err) => Err(HUNG_UP.into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        Err(_) => Err(format!("no HTTP/2 answer within {timeout:?}").into()),
    }
}

const HUNG_UP: &str = "accepted the connection and hung up (nothing listening behind the port?)";

/// A close with unread data arrives as a reset rather than an end of stream.
fn hung_up(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    matches!(
        err.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

async fn stays_open(stream: &mut TcpStream) -> Result<(), ProbeFailed> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(HANG_UP_WINDOW, stream.read(&mut byte)).await {
        Ok(Ok(0)) => Err(HUNG_UP.into()),
        Ok(Err(err)) if hung_up(&err) => Err(HUNG_UP.into()),
        Ok(Err(err)) => Err(err.to_string().into()),
        // Still open (or the server speaks first): something is listening.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zookeeper::fake::FakeZk;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use tokio::net::TcpListener;

    fn node(protocol: &str, addr: SocketAddr) -> String {
        let url = format!("{protocol}://{addr}/a.Greeter?interface=a.Greeter&side=provider");
        utf8_percent_encode(&url, NON_ALPHANUMERIC).to_string()
    }

    const T: Duration = Duration::from_secs(2);

    /// A server for every connection: `h2` answers the preface with SETTINGS, otherwise it
    /// hangs up at once (`hang_up`) or just keeps the connection open.
    async fn provider(h2: bool, hang_up: bool) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if hang_up {
                        return;
                    }
                    if h2 {
                        let mut preface = vec![0u8; H2_PREFACE.len()];
                        if conn.read_exact(&mut preface).await.is_ok() {
                            let _ = conn.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await;
                        }
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
        let (addr, _server) = provider(true, false).await;
        let zk = registry_with(&[&node("tri", addr)]).await;
        check(zk.addr, "a.Greeter", T).await.unwrap();
    }

    #[tokio::test]
    async fn a_dubbo_provider_that_keeps_the_connection_is_ready() {
        let (addr, _server) = provider(false, false).await;
        let zk = registry_with(&[&node("dubbo", addr)]).await;
        check(zk.addr, "a.Greeter", T).await.unwrap();
    }

    #[tokio::test]
    async fn a_port_that_accepts_and_hangs_up_is_not_ready() {
        // What docker-proxy does for a published port with nothing listening inside.
        let (addr, _server) = provider(false, true).await;
        for protocol in ["tri", "dubbo"] {
            let zk = registry_with(&[&node(protocol, addr)]).await;
            let err = check(zk.addr, "a.Greeter", T).await.unwrap_err();
            assert!(err.0.contains("hung up"), "{protocol}: {err}");
        }
    }

    #[tokio::test]
    async fn a_silent_triple_port_is_not_ready() {
        let (addr, _server) = provider(false, false).await;
        let zk = registry_with(&[&node("tri", addr)]).await;
        let err = check(zk.addr, "a.Greeter", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.0.contains("no HTTP/2 answer"), "{err}");
    }

    #[tokio::test]
    async fn not_registered_or_not_listening_is_not_ready() {
        let zk = FakeZk::start(&[]).await;
        let err = check(zk.addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.0.contains("no provider of a.Greeter"), "{err}");

        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registered = node("tri", gone.local_addr().unwrap());
        drop(gone);
        let zk = registry_with(&[&registered]).await;
        let err = check(zk.addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.0.contains("registered but not reachable"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = check(addr, "a.Greeter", T).await.unwrap_err();
        assert!(err.0.contains("registry ZooKeeper"), "{err}");
    }
}
