//! `zookeeper: PORT` — ready when the server opens a session (see `crate::zookeeper`).

use std::net::SocketAddr;
use std::time::Duration;

use super::ProbeFailed;
use crate::zookeeper::Session;

pub(super) async fn check(addr: SocketAddr, timeout: Duration) -> Result<(), ProbeFailed> {
    let session = Session::connect(addr, timeout)
        .await
        .map_err(|err| format!("ZooKeeper {err}"))?;
    session.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zookeeper::fake::FakeZk;

    #[tokio::test]
    async fn a_session_means_ready_and_a_plain_listener_does_not() {
        let zk = FakeZk::start(&[]).await;
        check(zk.addr, Duration::from_secs(2)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = check(listener.local_addr().unwrap(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.0.contains("no answer"), "{err}");
    }
}
