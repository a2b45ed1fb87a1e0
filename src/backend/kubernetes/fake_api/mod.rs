//! An in-memory Kubernetes API server behind a real `kube::Client` (a `tower` service, no
//! socket): enough of the API for the backend — GET and labelled LIST, server-side apply
//! (create or merge, `dryRun`), JSON merge patch, DELETE (a namespace takes its contents
//! along, optionally after a few reads so "wait until gone" is exercised), pod logs — plus
//! simple controllers: an applied Deployment gets a pod, a Job a pod and a result.
//!
//! Tests steer it with knobs (`crash_loop`, `forbid`, `conflict`...) and assert on what it
//! recorded: every request's method, path and query, in order. Public so benchmarks and
//! integration tests outside the crate use the same server:
//! `envctl::backend::kubernetes::fake_api::FakeApi`.

mod controllers;
mod routes;
pub mod scale;
mod serve;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use store::Store;

/// How an applied workload's pod turns out (default: `Ready`, a Job's pod: succeeds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodFate {
    /// Running and Ready (a Job: succeeded).
    Ready,
    /// Running, never Ready.
    Starting,
    /// Its container restarts over and over (`CrashLoopBackOff`).
    CrashLoop,
    /// Its image cannot be pulled (`ImagePullBackOff`).
    ImagePullBackOff,
    /// A Job whose pod exits 1 and which is marked failed.
    JobFails,
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Decoded `key=value` pairs joined by `&`, in the order sent.
    pub query: String,
}

impl Recorded {
    /// Whether it would change something (any method but GET), dry-runs included.
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }

    /// A server-side dry run: validated, persisted nowhere.
    pub fn is_dry_run(&self) -> bool {
        self.query.split('&').any(|p| p == "dryRun=All")
    }

    /// The value of one query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
    }
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

/// Everything the server knows, behind one lock.
#[derive(Default)]
struct State {
    store: Store,
    requests: Vec<Recorded>,
    /// (verb, resource) pairs answered 403: `("patch", "deployments")`.
    forbidden: Vec<(String, String)>,
    /// (resource, name) -> the field manager whose fields an unforced apply runs into.
    conflicts: BTreeMap<(String, String), String>,
    /// Service name (`io.envctl.service`) -> how its pods turn out.
    fates: BTreeMap<String, PodFate>,
    /// Service name -> what its pods log.
    logs: BTreeMap<String, Vec<String>>,
    /// How many reads a deleted namespace survives (Terminating) before it is gone.
    namespace_linger: usize,
}

/// The in-memory API server. Clones share it.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// A one-node cluster (node `fake-node`, Ready, InternalIP 127.0.0.1: node ports envctl
    /// dials from a CLI run against it stay on this machine) with nothing else.
    pub fn new() -> Self {
        let api = Self::default();
        api.insert(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": { "name": "fake-node" },
            "status": {
                "conditions": [{ "type": "Ready", "status": "True" }],
                "addresses": [{ "type": "InternalIP", "address": "127.0.0.1" }],
            },
        }));
        api
    }

    /// A client whose every request this server answers.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let response = api.answer(&parts, &bytes);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        kube::Client::new(service, "default")
    }

    fn answer(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> http::Response<kube::client::Body> {
        let mut state = self.state.lock().expect("fake API lock");
        let recorded = Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: decode_query(parts.uri.query().unwrap_or_default()),
        };
        state.requests.push(recorded.clone());
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let (status, body, text) = routes::route(&mut state, &recorded, &content_type, body);
        let content = if text {
            "text/plain"
        } else {
            "application/json"
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content)
            .body(kube::client::Body::from(body.into_bytes()))
            .expect("a valid response")
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("fake API lock").requests.clone()
    }

    /// The requests that would change something (not GET), dry-runs included.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_write)
            .collect()
    }

    /// Forgets the requests so far (after a test's setup).
    pub fn clear_requests(&self) {
        self.state.lock().expect("fake API lock").requests.clear();
    }

    /// Puts an object in place as if someone had created it (nothing is recorded).
    pub fn insert(&self, object: Value) {
        let mut state = self.state.lock().expect("fake API lock");
        state.store.put_new(object);
    }

    /// How many objects the server holds.
    pub fn object_count(&self) -> usize {
        self.state.lock().expect("fake API lock").store.len()
    }

    /// The stored object of `kind` (`Deployment`) named `name` in `namespace` (`""` for a
    /// cluster-scoped one).
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.state.lock().expect("fake API lock");
        state.store.find(kind, namespace, name).cloned()
    }

    /// Every stored object of `kind` in `namespace`.
    pub fn objects(&self, kind: &str, namespace: &str) -> Vec<Value> {
        let state = self.state.lock().expect("fake API lock");
        state.store.all(kind, namespace)
    }

    /// Changes a stored object in place (a status a test sets); nothing is recorded.
    pub fn edit(&self, kind: &str, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().expect("fake API lock");
        if let Some(object) = state.store.find_mut(kind, namespace, name) {
            change(object);
        }
    }

    /// Answers `verb` (get, list, patch, delete) on `resource` (`deployments`, `pods/log`)
    /// with 403 Forbidden.
    pub fn forbid(&self, verb: &str, resource: &str) {
        let mut state = self.state.lock().expect("fake API lock");
        state.forbidden.push((verb.into(), resource.into()));
    }

    /// An unforced apply of the existing `resource` named `name` conflicts with fields
    /// `manager` owns (as after a `kubectl edit`).
    pub fn conflict(&self, resource: &str, name: &str, manager: &str) {
        let mut state = self.state.lock().expect("fake API lock");
        state
            .conflicts
            .insert((resource.into(), name.into()), manager.into());
    }

    /// How the pods of `service` (its `io.envctl.service` label) turn out from now on.
    pub fn pod_fate(&self, service: &str, fate: PodFate) {
        let mut state = self.state.lock().expect("fake API lock");
        state.fates.insert(service.into(), fate);
    }

    /// What the pods of `service` log.
    pub fn pod_logs(&self, service: &str, lines: &[&str]) {
        let mut state = self.state.lock().expect("fake API lock");
        state.logs.insert(
            service.into(),
            lines.iter().map(|l| l.to_string()).collect(),
        );
    }

    /// A deleted namespace stays (Terminating) for this many reads of it, then is gone.
    pub fn namespace_linger(&self, reads: usize) {
        self.state.lock().expect("fake API lock").namespace_linger = reads;
    }
}

fn decode_query(query: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}
