//! A loopback port in front of a pod's port: each connection accepted on 127.0.0.1 is
//! bridged to a fresh upstream stream (a port-forward of the pod, in tests any duplex), so
//! code that dials addresses (the probes, the ZooKeeper client) reaches ports that are not
//! published. Dropping the bridge stops accepting and cuts every bridged connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A byte stream both ways.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// One opened upstream: its stream, and a future that resolves with the error that made it
/// unusable (`None`: it ended without one). Whatever must live as long as the stream (the
/// port-forward's connection) lives in `failed`.
pub struct Upstream {
    pub stream: Box<dyn Duplex>,
    pub failed: BoxFuture<'static, Option<String>>,
}

/// Opens one upstream per accepted connection; `Err` says why it could not.
pub type Open = dyn Fn() -> BoxFuture<'static, Result<Upstream, String>> + Send + Sync;

pub struct Bridge {
    addr: SocketAddr,
    last_error: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The accept loop owns the connections' tasks (a JoinSet): they go with it.
        self.task.abort();
    }
}

impl Bridge {
    /// Listens on 127.0.0.1 (a free port) and bridges each connection to `open()`.
    pub async fn start(open: Arc<Open>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let last_error = Arc::new(Mutex::new(None));
        let errors = last_error.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((local, _)) = listener.accept().await {
                connections.spawn(bridge(local, open.clone(), errors.clone()));
                // Reap finished ones so a long-lived bridge does not collect them.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            last_error,
            task,
        })
    }

    /// Where to dial: 127.0.0.1 and the bridge's port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Why the last upstream failed, if one did: what a probe's own failure ("connection
    /// closed") does not say.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

/// Copies both ways until either side ends or the upstream reports an error; then closes the
/// local connection, so the dialling code sees the end.
async fn bridge(mut local: TcpStream, open: Arc<Open>, errors: Arc<Mutex<Option<String>>>) {
    let Upstream {
        mut stream,
        mut failed,
    } = match open().await {
        Ok(upstream) => upstream,
        Err(reason) => {
            *errors.lock().unwrap() = Some(reason);
            return;
        }
    };
    let mut copying = std::pin::pin!(tokio::io::copy_bidirectional(&mut local, &mut stream));
    // The error first: the forward reports it before it closes the stream.
    tokio::select! {
        biased;
        failure = &mut failed => match failure {
            Some(reason) => *errors.lock().unwrap() = Some(reason),
            // Ended without an error: let the copy finish what is in flight.
            None => {
                let _ = copying.await;
            }
        },
        _ = &mut copying => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::sync::{mpsc, oneshot};

    /// A bridge whose upstreams are duplex pipes: the test gets each pipe's far end and a
    /// sender that fails it.
    async fn piped() -> (
        Bridge,
        mpsc::UnboundedReceiver<(DuplexStream, oneshot::Sender<String>)>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let open: Arc<Open> = Arc::new(move || {
            let (near, far) = tokio::io::duplex(1024);
            let (fail, failed) = oneshot::channel::<String>();
            tx.send((far, fail)).unwrap();
            Box::pin(async move {
                Ok(Upstream {
                    stream: Box::new(near),
                    failed: Box::pin(async move { failed.await.ok() }),
                })
            })
        });
        (Bridge::start(open).await.unwrap(), rx)
    }

    async fn read_some(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap_or(0);
        buf[..n].to_vec()
    }

    #[tokio::test]
    async fn bytes_cross_both_ways_each_connection_on_its_own_upstream() {
        let (bridge, mut upstreams) = piped().await;
        let mut first = TcpStream::connect(bridge.addr()).await.unwrap();
        let mut second = TcpStream::connect(bridge.addr()).await.unwrap();
        first.write_all(b"ruok").await.unwrap();
        second.write_all(b"stat").await.unwrap();
        let (mut a, _fail_a) = upstreams.recv().await.unwrap();
        let (mut b, _fail_b) = upstreams.recv().await.unwrap();
        let (got_a, got_b) = (read_some(&mut a).await, read_some(&mut b).await);
        let mut got = [got_a, got_b];
        got.sort();
        assert_eq!(got, [b"ruok".to_vec(), b"stat".to_vec()]);
        a.write_all(b"imok").await.unwrap();
        b.write_all(b"imok").await.unwrap();
        assert_eq!(read_some(&mut first).await, b"imok");
        assert_eq!(read_some(&mut second).await, b"imok");
        // The pod side ends: the local connection ends too.
        drop(a);
        drop(b);
        assert!(read_some(&mut first).await.is_empty());
        assert_eq!(bridge.last_error(), None);
    }

    #[tokio::test]
    async fn an_upstream_error_cuts_the_connection_and_is_kept() {
        let (bridge, mut upstreams) = piped().await;
        let mut local = TcpStream::connect(bridge.addr()).await.unwrap();
        let (_far, fail) = upstreams.recv().await.unwrap();
        fail.send("failed to connect to localhost:2181 inside namespace".into())
            .unwrap();
        assert!(read_some(&mut local).await.is_empty(), "cut");
        assert_eq!(
            bridge.last_error().as_deref(),
            Some("failed to connect to localhost:2181 inside namespace")
        );
    }

    #[tokio::test]
    async fn an_upstream_that_cannot_open_closes_the_connection() {
        let open: Arc<Open> =
            Arc::new(|| Box::pin(async { Err("pods/portforward is forbidden".into()) }));
        let bridge = Bridge::start(open).await.unwrap();
        let mut local = TcpStream::connect(bridge.addr()).await.unwrap();
        assert!(read_some(&mut local).await.is_empty());
        assert_eq!(
            bridge.last_error().as_deref(),
            Some("pods/portforward is forbidden")
        );
    }

    #[tokio::test]
    async fn dropping_the_bridge_cuts_its_connections_and_stops_listening() {
        let (bridge, mut upstreams) = piped().await;
        let addr = bridge.addr();
        let mut local = TcpStream::connect(addr).await.unwrap();
        let (mut far, _fail) = upstreams.recv().await.unwrap();
        drop(bridge);
        assert!(
            read_some(&mut local).await.is_empty(),
            "the local side is closed"
        );
        assert!(
            read_some(&mut far).await.is_empty(),
            "the upstream is closed"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "still listening");
            tokio::task::yield_now().await;
        }
    }
}
