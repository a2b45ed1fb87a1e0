//! `tcp: PORT` — ready when the port accepts a connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::ProbeFailed;

/// Connects to `addr` (any `ToSocketAddrs`, so registered host names work too).
pub(super) async fn connect(
    addr: impl tokio::net::ToSocketAddrs + std::fmt::Display,
    timeout: Duration,
) -> Result<TcpStream, ProbeFailed> {
    match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(err)) => Err(format!("{addr}: {err}").into()),
        Err(_) => Err(format!("{addr}: no answer within {timeout:?}").into()),
    }
}

pub(super) async fn check(addr: SocketAddr, timeout: Duration) -> Result<(), ProbeFailed> {
    connect(addr, timeout).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_and_closed_ports() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        check(addr, Duration::from_secs(2)).await.unwrap();
        drop(listener);
        let err = check(addr, Duration::from_secs(2)).await.unwrap_err();
        assert!(err.0.starts_with(&addr.to_string()), "{err}");
    }
}
