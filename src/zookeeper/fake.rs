//! An in-process ZooKeeper that answers the handshake, `getChildren`, `getData` and close from
//! a fixed tree, so probes and registry code are unit-tested on loopback without a JVM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::wire::{Reader, Writer};

pub struct FakeZk {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeZk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeZk {
    /// `tree`: path -> its children. Paths not listed do not exist.
    pub async fn start(tree: &[(&str, &[&str])]) -> Self {
        Self::with_data(tree, &[]).await
    }

    /// As `start`, plus the data of some nodes (a node listed only here exists, childless).
    pub async fn with_data(tree: &[(&str, &[&str])], data: &[(&str, &str)]) -> Self {
        let data: BTreeMap<String, Vec<u8>> = data
            .iter()
            .map(|(path, bytes)| (path.to_string(), bytes.as_bytes().to_vec()))
            .collect();
        let tree: BTreeMap<String, Vec<String>> = tree
            .iter()
            .map(|(path, kids)| {
                (
                    path.to_string(),
                    kids.iter().map(|k| k.to_string()).collect(),
                )
            })
            .collect();
        let tree = Arc::new(Tree {
            children: tree,
            data,
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake zk");
        let addr = listener.local_addr().expect("fake zk addr");
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, tree.clone()));
            }
        });
        Self { addr, task }
    }
}

struct Tree {
    children: BTreeMap<String, Vec<String>>,
    data: BTreeMap<String, Vec<u8>>,
}

async fn read_frame(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let len = conn.read_u32().await.ok()? as usize;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn serve(mut conn: TcpStream, tree: Arc<Tree>) {
    if read_frame(&mut conn).await.is_none() {
        return;
    }
    let hello = Writer::default()
        .int(0)
        .int(10_000)
        .long(0x1234)
        .buffer(&[0u8; 16])
        .bool(false)
        .frame();
    if conn.write_all(&hello).await.is_err() {
        return;
    }
    while let Some(body) = read_frame(&mut conn).await {
        let mut r = Reader::new(&body);
        let (Ok(xid), Ok(op)) = (r.int(), r.int()) else {
            return;
        };
        let reply = match op {
            8 => {
                let path = r.string().unwrap_or_default();
                match tree.children.get(&path) {
                    Some(kids) => {
                        let mut w = Writer::default()
                            .int(xid)
                            .long(1)
                            .int(0)
                            .int(kids.len() as i32);
                        for kid in kids {
                            w = w.string(kid);
                        }
                        w.frame()
                    }
                    None => Writer::default().int(xid).long(1).int(-101).frame(),
                }
            }
            4 => {
                let path = r.string().unwrap_or_default();
                let exists = tree.children.contains_key(&path) || tree.data.contains_key(&path);
                match tree
                    .data
                    .get(&path)
                    .map(Vec::as_slice)
                    .or(exists.then_some(&[]))
                {
                    // Data, then a zeroed Stat (6 longs, 5 ints).
                    Some(bytes) => Writer::default()
                        .int(xid)
                        .long(1)
                        .int(0)
                        .buffer(bytes)
                        .buffer(&[0u8; 64])
                        .frame(),
                    None => Writer::default().int(xid).long(1).int(-101).frame(),
                }
            }
            -11 => {
                let _ = conn
                    .write_all(&Writer::default().int(xid).long(1).int(0).frame())
                    .await;
                return;
            }
            _ => Writer::default().int(xid).long(1).int(-6).frame(), // unimplemented
        };
        if conn.write_all(&reply).await.is_err() {
            return;
        }
    }
}
