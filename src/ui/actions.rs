//! The state-changing endpoints: `up`, `down`, extend the lifetime, restart a service. Each
//! calls its `ops` use case, with the same per-instance lock as the CLI, in the background;
//! the request answers at once with the action's id, and its progress (the same events the
//! CLI draws) is read from `/api/actions/{id}` or streamed from `/api/actions/{id}/events`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::apply::{ApplyOptions, EventSink, DEFAULT_WAIT_TIMEOUT};
use crate::lock::WaitPolicy;
use crate::model::InstanceId;
use crate::ops::down::DownTarget;
use crate::ops::up::UpRequest;

use super::api::{self, instance_id, ApiError, ApiResult};
use super::Shared;

/// Finished actions kept for late readers; older ones are forgotten.
const KEPT_FINISHED: usize = 50;

/// Every action this server started.
#[derive(Default)]
pub struct Actions {
    next: AtomicU64,
    all: Mutex<BTreeMap<u64, Arc<Action>>>,
}

impl Actions {
    pub fn get(&self, id: u64) -> Option<Arc<Action>> {
        self.all.lock().expect("actions").get(&id).cloned()
    }

    fn add(
        &self,
        kind: &'static str,
        instance: &InstanceId,
        service: Option<String>,
    ) -> Arc<Action> {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let action = Arc::new(Action {
            id,
            kind,
            instance: instance.to_string(),
            service,
            log: Mutex::new(Log::default()),
            changed: watch::channel(0).0,
        });
        let mut all = self.all.lock().expect("actions");
        let finished: Vec<u64> = all
            .iter()
            .filter(|(_, a)| a.finished())
            .map(|(id, _)| *id)
            .collect();
        for old in finished
            .iter()
            .take(finished.len().saturating_sub(KEPT_FINISHED))
        {
            all.remove(old);
        }
        all.insert(id, action.clone());
        action
    }
}

/// One running or finished action and everything it reported.
pub struct Action {
    pub id: u64,
    kind: &'static str,
    instance: String,
    service: Option<String>,
    log: Mutex<Log>,
    /// Bumped on every new entry, so streams wake up.
    changed: watch::Sender<usize>,
}

#[derive(Default, Clone, Serialize)]
struct Log {
    events: Vec<serde_json::Value>,
    result: Option<Outcome>,
}

/// How an action ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
}

/// An action as `GET /api/actions/{id}` shows it.
#[derive(Serialize)]
pub struct ActionView {
    pub id: u64,
    pub kind: &'static str,
    pub instance: String,
    pub service: Option<String>,
    pub events: Vec<serde_json::Value>,
    pub result: Option<Outcome>,
}

impl Action {
    pub fn snapshot(&self) -> ActionView {
        let log = self.log.lock().expect("action log").clone();
        ActionView {
            id: self.id,
            kind: self.kind,
            instance: self.instance.clone(),
            service: self.service.clone(),
            events: log.events,
            result: log.result,
        }
    }

    fn finished(&self) -> bool {
        self.log.lock().expect("action log").result.is_some()
    }

    /// Wakes when something new was recorded.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.changed.subscribe()
    }

    fn record(&self, event: serde_json::Value) {
        self.log.lock().expect("action log").events.push(event);
        self.changed.send_modify(|n| *n += 1);
    }

    fn finish(&self, outcome: Outcome) {
        self.log.lock().expect("action log").result = Some(outcome);
        self.changed.send_modify(|n| *n += 1);
    }

    fn sink(self: &Arc<Self>) -> EventSink {
        let action = self.clone();
        Arc::new(move |event| {
            if let Ok(value) = serde_json::to_value(&event) {
                action.record(value);
            }
        })
    }

    /// Records that the lock is held elsewhere, as the CLI prints it.
    fn lock_wait(self: &Arc<Self>) -> impl FnMut(&str) {
        let action = self.clone();
        move |holder: &str| {
            action.record(serde_json::json!({
                "service": action.instance, "phase": "waiting",
                "reason": format!("waiting for the instance lock: {holder}"),
            }))
        }
    }
}

/// What a state-changing request answers: where to follow it.
#[derive(Serialize)]
pub struct Started {
    action: u64,
    events: String,
}

/// Runs `work` in the background and answers with the action's id. The use cases hold the
/// CLI's lock (a blocking wait) and are not `Send`, so they run on a blocking thread that
/// drives them on this runtime.
fn start<F, Fut>(
    state: &Shared,
    kind: &'static str,
    instance: &InstanceId,
    service: Option<String>,
    work: F,
) -> (StatusCode, Json<Started>)
where
    F: FnOnce(Arc<Action>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome>,
{
    let action = state.actions.add(kind, instance, service);
    let runtime = tokio::runtime::Handle::current();
    let running = action.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = runtime.block_on(work(running.clone()));
        running.finish(outcome);
    });
    (
        StatusCode::ACCEPTED,
        Json(Started {
            action: action.id,
            events: format!("/api/actions/{}/events", action.id),
        }),
    )
}

fn failed(err: impl std::fmt::Display) -> Outcome {
    Outcome {
        ok: false,
        message: err.to_string(),
    }
}

/// A JSON body, or the defaults when there is none.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

fn ttl(text: Option<&str>) -> ApiResult<Option<std::time::Duration>> {
    text.map(|t| {
        crate::lifetime::parse_ttl(t)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("ttl `{t}`: {e}")))
    })
    .transpose()
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpBody {
    /// As `up --ttl`.
    ttl: Option<String>,
}

/// `POST /api/instances/{instance}/up`: `envctl up` of ./environments/<env>.yaml.
pub async fn up(
    State(state): State<Shared>,
    Path(instance): Path<String>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let id = instance_id(&instance)?;
    let request: UpBody = body(&bytes)?;
    let ttl = ttl(request.ttl.as_deref())?;
    // Loaded before answering: a broken definition is the request's error, not the action's.
    let env = api::load_definition(&state, &id).await?;
    api::plan_inputs()?;
    let backend = state.backend.clone();
    let interrupt = state.interrupt.clone();
    Ok(start(&state, "up", &id, None, move |action| async move {
        // Made here: the planning inputs borrow host functions that stay on this thread.
        let inputs = match api::plan_inputs() {
            Ok(inputs) => inputs,
            Err(err) => return failed(err.message),
        };
        let request = UpRequest {
            apply: ApplyOptions {
                wait: true,
                wait_timeout: DEFAULT_WAIT_TIMEOUT,
                check_once: false,
                // The backend sets where its published ports are dialled.
                ..ApplyOptions::default()
            },
            lock: WaitPolicy::Wait(DEFAULT_WAIT_TIMEOUT),
            ttl,
            pull: false,
            inputs: &inputs,
            interrupt,
            from_snapshot: None,
        };
        let mut on_wait = action.lock_wait();
        match crate::ops::up::up(backend.as_ref(), &env, request, action.sink(), &mut on_wait).await
        {
            Ok(r) if r.report.ok() => Outcome {
                ok: true,
                message: format!(
                    "{} is ready: {} services in {:.1}s",
                    r.plan.instance,
                    r.plan.services.len(),
                    r.elapsed.as_secs_f64()
                ),
            },
            Ok(r) => failed(
                r.report
                    .failures
                    .iter()
                    .map(|f| format!("{}: {}", f.service, f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Err(err) => failed(err),
        }
    }))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownBody {
    /// As `down --volumes`.
    #[serde(default)]
    volumes: bool,
}

/// `POST /api/instances/{instance}/down`: `envctl down`.
pub async fn down(
    State(state): State<Shared>,
    Path(instance): Path<String>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let id = instance_id(&instance)?;
    let request: DownBody = body(&bytes)?;
    let backend = state.backend.clone();
    let target_id = id.clone();
    Ok(start(&state, "down", &id, None, move |action| async move {
        // A base with overlays is refused (the error says so); the page has no cascade.
        let target = DownTarget::Instance {
            id: target_id,
            policy: WaitPolicy::Wait(DEFAULT_WAIT_TIMEOUT),
            cascade: false,
        };
        let mut on_wait = action.lock_wait();
        match crate::ops::down::down(
            backend.as_ref(),
            target,
            request.volumes,
            action.sink(),
            &mut on_wait,
        )
        .await
        {
            Ok(r) if r.failures.is_empty() => Outcome {
                ok: true,
                message: format!("removed: {}", r.summary()),
            },
            Ok(r) => failed(
                r.failures
                    .iter()
                    .map(|f| format!("{}: {}", f.service, f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Err(err) => failed(err),
        }
    }))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    /// The new lifetime from now, as `up --ttl` (`8h`, `3d`; `0` removes it).
    ttl: Option<String>,
}

/// `POST /api/instances/{instance}/extend`: a new lifetime from now.
pub async fn extend(
    State(state): State<Shared>,
    Path(instance): Path<String>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let id = instance_id(&instance)?;
    let request: ExtendBody = body(&bytes)?;
    let ttl = ttl(request.ttl.as_deref())?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "extend needs {\"ttl\": \"8h\"} (as up --ttl)",
        )
    })?;
    let backend = state.backend.clone();
    let target = id.clone();
    Ok(start(
        &state,
        "extend",
        &id,
        None,
        move |action| async move {
            let mut on_wait = action.lock_wait();
            let policy = WaitPolicy::Wait(DEFAULT_WAIT_TIMEOUT);
            match crate::ops::extend::extend(backend.as_ref(), &target, ttl, policy, &mut on_wait)
                .await
            {
                Ok(Some(lease)) => Outcome {
                    ok: true,
                    message: format!(
                        "{target} expires at {}",
                        crate::lifetime::format_time(lease.expires_at)
                    ),
                },
                Ok(None) => Outcome {
                    ok: true,
                    message: format!("{target} has no expiry"),
                },
                Err(err) => failed(err),
            }
        },
    ))
}

/// `POST /api/instances/{instance}/services/{service}/restart`.
pub async fn restart(
    State(state): State<Shared>,
    Path((instance, service)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Started>)> {
    let id = instance_id(&instance)?;
    let backend = state.backend.clone();
    let target = id.clone();
    let name = service.clone();
    Ok(start(
        &state,
        "restart",
        &id,
        Some(service),
        move |action| async move {
            action.record(serde_json::json!({ "service": name, "phase": "restarting" }));
            let mut on_wait = action.lock_wait();
            let policy = WaitPolicy::Wait(DEFAULT_WAIT_TIMEOUT);
            match crate::ops::restart::restart(
                backend.as_ref(),
                &target,
                &name,
                policy,
                &mut on_wait,
            )
            .await
            {
                Ok(container) => Outcome {
                    ok: true,
                    message: format!("restarted {container}"),
                },
                Err(err) => failed(err),
            }
        },
    ))
}

/// `GET /api/actions/{action}`: what it reported so far, and its result once finished.
pub async fn show(
    State(state): State<Shared>,
    Path(action): Path<u64>,
) -> ApiResult<Json<ActionView>> {
    Ok(Json(find(&state, action)?.snapshot()))
}

pub fn find(state: &Shared, action: u64) -> ApiResult<Arc<Action>> {
    state
        .actions
        .get(action)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no action {action}")))
}
