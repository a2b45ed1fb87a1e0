//! A minimal ZooKeeper client: open a session, list children, read data, close.
//!
//! envctl only reads the registry (readiness probes, `envctl endpoints`), so this speaks just
//! the session handshake, `getChildren` and `getData` of ZooKeeper's wire protocol instead of
//! pulling in a full client. A session may be rooted at a chroot (`host:port/chroot`), as
//! ZooKeeper's own clients do it: every path is prefixed on the way out. A completed handshake is also the strongest "the server answers" check:
//! unlike the `ruok` four-letter word it needs no whitelist on ZooKeeper 3.5+.

mod watch;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use watch::WatchEvent;
pub use wire::Malformed;
use wire::{OwnedReader, Reader, Writer, MAX_FRAME};

const OP_CREATE: i32 = 1;
const OP_DELETE: i32 = 2;
const OP_GET_DATA: i32 = 4;
const OP_GET_CHILDREN: i32 = 8;
const OP_CLOSE: i32 = -11;
const ERR_NO_NODE: i32 = -101;
const ERR_NODE_EXISTS: i32 = -110;
/// ZooKeeper's `Perms.ALL`, granted to `world:anyone` (`Ids.OPEN_ACL_UNSAFE`).
const PERMS_ALL: i32 = 31;
/// Session timeout we ask for; the session only lives as long as one probe or command.
const SESSION_TIMEOUT_MS: i32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("{addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("{addr}: {source}")]
    Malformed { addr: SocketAddr, source: Malformed },
    #[error("{path} does not exist")]
    NoNode { path: String },
    #[error("ZooKeeper error {code} on {path}")]
    Server { code: i32, path: String },
    #[error("{path} already exists")]
    NodeExists { path: String },
    #[error("no ZooKeeper address to connect to")]
    NoAddress,
}

/// One open ZooKeeper session.
#[derive(Debug)]
pub struct Session {
    addr: SocketAddr,
    stream: TcpStream,
    timeout: Duration,
    next_xid: i32,
    /// The id the server gave this session (non-zero once established).
    pub session_id: i64,
    /// Prefix of every path (`/chroot`), empty for the server's root.
    chroot: String,
    /// Whether reads leave a watch behind (see `watch.rs`).
    watching: bool,
    /// Watch notifications that arrived while waiting for a reply.
    events: std::collections::VecDeque<WatchEvent>,
}

impl Session {
    /// Connects and completes the session handshake; every network step is bounded by `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, ZkError> {
        let stream = bounded(addr, timeout, async {
            TcpStream::connect(addr)
                .await
                .map_err(|source| ZkError::Io { addr, source })
        })
        .await?;
        let mut session = Session {
            addr,
            stream,
            timeout,
            next_xid: 1,
            session_id: 0,
            chroot: String::new(),
            watching: false,
            events: Default::default(),
        };
        let request = Writer::default()
            .int(0) // protocol version
            .long(0) // last zxid seen
            .int(SESSION_TIMEOUT_MS)
            .long(0) // session id: new session
            .buffer(&[0u8; 16]) // password
            .bool(false) // read-only not requested
            .frame();
        session.send(&request).await?;
        let reply = session.receive().await?;
        let mut r = Reader::new(&reply);
        let parsed = (|| {
            let _protocol = r.int()?;
            let negotiated_timeout = r.int()?;
            let session_id = r.long()?;
            Ok::<_, Malformed>((negotiated_timeout, session_id))
        })();
        let (negotiated_timeout, session_id) =
            parsed.map_err(|source| ZkError::Malformed { addr, source })?;
        // A server that cannot serve (e.g. no quorum) answers with a zero timeout/session.
        if negotiated_timeout <= 0 || session_id == 0 {
            return Err(ZkError::Io {
                addr,
                source: std::io::Error::other("the server refused to open a session"),
            });
        }
        session.session_id = session_id;
        Ok(session)
    }

    /// Connects to the first of `addrs` (a cluster: the main address, then its backups) that
    /// opens a session, rooted at `chroot` (`""` or `/a/b`). The last error when none does.
    pub async fn connect_any(
        addrs: &[SocketAddr],
        chroot: &str,
        timeout: Duration,
    ) -> Result<Self, ZkError> {
        let mut last = None;
        for addr in addrs {
            match Self::connect(*addr, timeout).await {
                Ok(mut session) => {
                    session.chroot = chroot.trim_end_matches('/').to_string();
                    return Ok(session);
                }
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or(ZkError::NoAddress))
    }

    /// The server this session talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The children of `path`, sorted. `ZkError::NoNode` when the path does not exist.
    pub async fn children(&mut self, path: &str) -> Result<Vec<String>, ZkError> {
        let body = self.request(OP_GET_CHILDREN, path).await?;
        let addr = self.addr;
        let mut children = body
            .strings()
            .map_err(|source| ZkError::Malformed { addr, source })?;
        children.sort();
        Ok(children)
    }

    /// The data of the node at `path`. `ZkError::NoNode` when the path does not exist.
    pub async fn data(&mut self, path: &str) -> Result<Vec<u8>, ZkError> {
        let body = self.request(OP_GET_DATA, path).await?;
        let addr = self.addr;
        // The node's Stat follows; envctl has no use for it.
        body.buffer()
            .map(<[u8]>::to_vec)
            .map_err(|source| ZkError::Malformed { addr, source })
    }

    /// Creates a node readable and writable by anyone; `ephemeral` nodes vanish with the
    /// session. envctl itself only reads: this is for tests and fixtures that play a provider.
    pub async fn create(
        &mut self,
        path: &str,
        data: &[u8],
        ephemeral: bool,
    ) -> Result<(), ZkError> {
        let body = Writer::default()
            .string(&self.full_path(path))
            .buffer(data)
            .int(1)
            .int(PERMS_ALL)
            .string("world")
            .string("anyone")
            .int(i32::from(ephemeral));
        self.call(OP_CREATE, body, path).await.map(drop)
    }

    /// Deletes the node at `path` whatever its version.
    pub async fn delete(&mut self, path: &str) -> Result<(), ZkError> {
        let body = Writer::default().string(&self.full_path(path)).int(-1);
        self.call(OP_DELETE, body, path).await.map(drop)
    }

    fn full_path(&self, path: &str) -> String {
        let full = format!("{}{}", self.chroot, path);
        if full.len() > 1 {
            full.trim_end_matches('/').to_string()
        } else {
            full
        }
    }

    /// Sends a `path, watch=false` request and returns the reply after its header, or the
    /// server's error for `path`.
    async fn request(&mut self, op: i32, path: &str) -> Result<OwnedReader, ZkError> {
        let body = Writer::default()
            .string(&self.full_path(path))
            .bool(self.watching);
        self.call(op, body, path).await
    }

    /// Sends `op` with `body` and returns the reply after its header, or the server's error
    /// for `path` (as the caller named it).
    async fn call(&mut self, op: i32, body: Writer, path: &str) -> Result<OwnedReader, ZkError> {
        let xid = self.xid();
        let request = Writer::default().int(xid).int(op).append(body).frame();
        self.send(&request).await?;
        let addr = self.addr;
        let body = self.reply_to(xid).await?;
        let mut r = Reader::new(&body);
        let err = (|| {
            let _xid = r.int()?;
            let _zxid = r.long()?;
            r.int()
        })()
        .map_err(|source| ZkError::Malformed { addr, source })?;
        match err {
            0 => Ok(OwnedReader::after(body, wire::REPLY_HEADER_LEN)),
            ERR_NO_NODE => Err(ZkError::NoNode {
                path: path.to_string(),
            }),
            ERR_NODE_EXISTS => Err(ZkError::NodeExists {
                path: path.to_string(),
            }),
            code => Err(ZkError::Server {
                code,
                path: path.to_string(),
            }),
        }
    }

    /// Closes the session politely, so the server drops it at once; errors are irrelevant here.
    pub async fn close(mut self) {
        let xid = self.xid();
        let request = Writer::default().int(xid).int(OP_CLOSE).frame();
        if self.send(&request).await.is_ok() {
            let _ = self.reply_to(xid).await;
        }
    }

    fn xid(&mut self) -> i32 {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        xid
    }

    async fn send(&mut self, frame: &[u8]) -> Result<(), ZkError> {
        let (addr, timeout) = (self.addr, self.timeout);
        bounded(addr, timeout, async {
            self.stream
                .write_all(frame)
                .await
                .map_err(|source| ZkError::Io { addr, source })
        })
        .await
    }

    async fn receive(&mut self) -> Result<Vec<u8>, ZkError> {
        let (addr, timeout) = (self.addr, self.timeout);
        bounded(addr, timeout, async {
            let io = |source| ZkError::Io { addr, source };
            let len = self.stream.read_u32().await.map_err(io)? as usize;
            if len > MAX_FRAME {
                return Err(ZkError::Malformed {
                    addr,
                    source: Malformed(format!("frame of {len} bytes")),
                });
            }
            let mut body = vec![0u8; len];
            self.stream.read_exact(&mut body).await.map_err(io)?;
            Ok(body)
        })
        .await
    }

    /// The reply to request `xid`; watch notifications met on the way are kept for
    /// `next_event`, ping replies skipped.
    async fn reply_to(&mut self, xid: i32) -> Result<Vec<u8>, ZkError> {
        loop {
            let body = self.receive().await?;
            let reply_xid = Reader::new(&body)
                .int()
                .map_err(|source| ZkError::Malformed {
                    addr: self.addr,
                    source,
                })?;
            if reply_xid == xid {
                return Ok(body);
            }
            if reply_xid == watch::NOTIFICATION_XID {
                let event = self.notification(&body)?;
                self.events.push_back(event);
            }
        }
    }
}

async fn bounded<T>(
    addr: SocketAddr,
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, ZkError>>,
) -> Result<T, ZkError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(ZkError::Timeout { addr, timeout }))
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn lists_children_and_reports_missing_nodes() {
        let server = fake::FakeZk::start(&[("/dubbo", &["b", "a"])]).await;
        let mut session = Session::connect(server.addr, T).await.unwrap();
        assert_ne!(session.session_id, 0);
        assert_eq!(session.children("/dubbo").await.unwrap(), vec!["a", "b"]);
        let missing = session.children("/nope").await.unwrap_err();
        assert!(matches!(missing, ZkError::NoNode { .. }), "{missing}");
        session.close().await;
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let err = Session::connect(addr, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, ZkError::Timeout { .. }), "{err}");
        drop(listener);
    }

    #[tokio::test]
    async fn a_server_that_hangs_up_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            drop(conn);
        });
        let err = Session::connect(addr, T).await.unwrap_err();
        assert!(matches!(err, ZkError::Io { .. }), "{err}");
    }
}
