//! A mocked API server for the websocket subresources (exec, portforward): a loopback HTTP
//! server that completes the websocket upgrade with subprotocol `v4.channel.k8s.io` and
//! hands the socket to the test's script, plus a `kube::Client` that sends there (hyper's
//! client, so the upgrade is real). Loopback only.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use kube::Client;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Socket = WebSocketStream<TcpStream>;
type Script = dyn Fn(String, Socket) -> BoxFuture<'static, ()> + Send + Sync;

/// The server; dropped, it stops accepting.
pub struct WsApi {
    pub client: Client,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WsApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsApi {
    /// Runs `script` with each upgraded request's `path?query` (percent-decoded) and socket.
    pub async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(String, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::serve(None, script).await
    }

    /// A server that refuses every upgrade with `code` and the API's `Status` body (RBAC).
    pub async fn refusing(code: u16, message: &str) -> Self {
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Forbidden", "code": code
        });
        Self::serve(Some((code, status.to_string())), |_, _| async {}).await
    }

    async fn serve<F, Fut>(refuse: Option<(u16, String)>, script: F) -> Self
    where
        F: Fn(String, Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let script: Arc<Script> = Arc::new(move |uri, socket| Box::pin(script(uri, socket)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (script, recorded) = (script.clone(), recorded.clone());
                let refuse = refuse.clone();
                tokio::spawn(async move {
                    let mut uri = String::new();
                    // The signature is tungstenite's `Callback`: its error is a whole response.
                    #[allow(clippy::result_large_err)]
                    let upgrade = |req: &Request, mut resp: Response| {
                        uri = percent_encoding::percent_decode_str(&req.uri().to_string())
                            .decode_utf8_lossy()
                            .into_owned();
                        if let Some((code, body)) = refuse {
                            let refusal = http::Response::builder()
                                .status(code)
                                .header("content-type", "application/json")
                                .body(Some(body))
                                .unwrap();
                            return Err::<Response, ErrorResponse>(refusal);
                        }
                        resp.headers_mut().insert(
                            "sec-websocket-protocol",
                            "v4.channel.k8s.io".parse().unwrap(),
                        );
                        Ok::<_, ErrorResponse>(resp)
                    };
                    let Ok(socket) = tokio_tungstenite::accept_hdr_async(conn, upgrade).await
                    else {
                        return;
                    };
                    recorded.lock().unwrap().push(uri.clone());
                    script(uri, socket).await;
                });
            }
        });
        Self {
            client: client_to(addr),
            seen,
            task,
        }
    }

    /// The upgraded requests so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A `kube::Client` whose requests go to `addr` over plain HTTP/1.1.
fn client_to(addr: SocketAddr) -> Client {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<kube::client::Body>();
    let service = tower::service_fn(move |mut req: http::Request<kube::client::Body>| {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/".to_string(), |p| p.to_string());
        *req.uri_mut() = format!("http://{addr}{path}").parse().unwrap();
        http.request(req)
    });
    Client::new(service, "default")
}

/// Sends `data` on `channel` (the first byte of every binary message).
pub async fn send(socket: &mut Socket, channel: u8, data: &[u8]) {
    let mut message = vec![channel];
    message.extend_from_slice(data);
    let _ = socket.send(Message::binary(message)).await;
}

/// The next binary message from the client: (channel, data); `None` once it closed.
pub async fn receive(socket: &mut Socket) -> Option<(u8, Vec<u8>)> {
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Binary(bytes) if !bytes.is_empty() => {
                return Some((bytes[0], bytes[1..].to_vec()))
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}
