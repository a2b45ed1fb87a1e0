//! A mocked API server behind `kube::Client`: a `tower` service that records every request
//! (`METHOD /path?query`, the query percent-decoded so tests read like the API reference) and
//! answers what the test's handler says, streamed bodies included (logs, watches).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Body as Streamed;
use futures_util::stream::{BoxStream, StreamExt};
use kube::Client;
use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /api/v1/namespaces/ns/pods/p/log?&follow=true&tailLines=10`.
    pub line: String,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON request body")
    }
}

/// Every request so far, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.line.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

pub type Reply = http::Response<Streamed>;

/// A client whose API server answers with `handler` (called with the request and how many
/// requests came before it).
pub fn client(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> (Client, Log) {
    let log = Log::default();
    let seen = log.clone();
    let handler = Arc::new(handler);
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let seen = seen.clone();
        let handler = handler.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect_bytes().await.expect("a request body").to_vec();
            let query = parts
                .uri
                .query()
                .map(|q| {
                    let decoded = percent_encoding::percent_decode_str(q).decode_utf8_lossy();
                    format!("?{decoded}")
                })
                .unwrap_or_default();
            let request = Seen {
                line: format!("{} {}{query}", parts.method, parts.uri.path()),
                body,
            };
            let index = {
                let mut all = seen.0.lock().unwrap();
                all.push(request.clone());
                all.len() - 1
            };
            Ok::<_, Infallible>(handler(&request, index))
        }
    });
    (Client::new(service, "default"), log)
}

/// `code` with a JSON body.
pub fn json(code: u16, body: Value) -> Reply {
    http::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Streamed::from(body.to_string()))
        .unwrap()
}

/// The API's `Status` answer to a failed request.
pub fn status(code: u16, reason: &str, message: &str) -> Reply {
    json(
        code,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code
        }),
    )
}

/// 200 with a body sent in the given pieces, as they come.
pub fn streamed(pieces: BoxStream<'static, Vec<u8>>) -> Reply {
    http::Response::builder()
        .status(200)
        .body(Streamed::from_stream(pieces.map(Ok::<_, Infallible>)))
        .unwrap()
}

/// A body stream the test feeds piece by piece; it ends when the sender is dropped.
pub fn fed() -> (
    tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    BoxStream<'static, Vec<u8>>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    (tx, stream.boxed())
}
