//! The server-sent event streams the page keeps open: the instance list, one instance, a
//! service's logs, an action's progress. Each sends a full JSON snapshot when something
//! changed (woken by the backend's `changes`, with a periodic look as a backstop, since
//! readiness changes without an event), so a page that reconnects is whole at once.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures_util::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::engine::LabelFilter;

use super::api::{self, instance_id, ApiError, ApiResult};
use super::{actions, snapshot, Shared};

/// The longest a change that raises no workload event (a health check passing) takes to show.
const LOOK_EVERY: Duration = Duration::from_secs(2);

type EventStream = Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>;

/// A stream fed by a task; the task ends when the page goes away (its sends fail).
fn channel() -> (mpsc::Sender<Event>, EventStream) {
    let (tx, rx) = mpsc::channel::<Event>(64);
    let events = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    (
        tx,
        Sse::new(events.boxed()).keep_alive(KeepAlive::default()),
    )
}

/// Sends `look()` as `name` whenever its JSON changes, looking again on every workload change
/// matching `filter` and every `LOOK_EVERY`. A failed look is sent as `problem`.
fn watch<F, Fut, T>(state: Shared, filter: LabelFilter, name: &'static str, look: F) -> EventStream
where
    F: Fn(Shared) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ApiResult<T>> + Send,
    T: serde::Serialize,
{
    let (tx, sse) = channel();
    tokio::spawn(async move {
        let mut changes = state.backend.changes(&filter).fuse();
        let mut last = String::new();
        loop {
            let event = match look(state.clone()).await {
                Ok(value) => {
                    let json = serde_json::to_string(&value).unwrap_or_default();
                    (json != last).then(|| {
                        last = json.clone();
                        Event::default().event(name).data(json)
                    })
                }
                Err(err) => {
                    last.clear();
                    Some(problem(&err))
                }
            };
            if let Some(event) = event {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                Some(()) = changes.next() => {}
                _ = tx.closed() => return,
            }
        }
    });
    sse
}

fn problem(err: &ApiError) -> Event {
    Event::default().event("problem").data(
        serde_json::json!({ "status": err.status.as_u16(), "error": err.message }).to_string(),
    )
}

/// `GET /api/instances/events`: `instances` events, each the whole list.
pub async fn instances(State(state): State<Shared>) -> EventStream {
    watch(
        state,
        LabelFilter::envctl(),
        "instances",
        |state| async move {
            snapshot::instances(state.backend.as_ref())
                .await
                .map_err(ApiError::internal)
        },
    )
}

/// `GET /api/instances/{instance}/events`: `instance` events, each what
/// `GET /api/instances/{instance}` answers; `problem` when that fails (e.g. it was removed).
pub async fn instance(
    State(state): State<Shared>,
    Path(instance): Path<String>,
) -> ApiResult<EventStream> {
    let id = instance_id(&instance)?;
    let filter = LabelFilter::instance(id.as_str());
    Ok(watch(state, filter, "instance", move |state| {
        let instance = instance.clone();
        async move { api::instance_view(&state, &instance).await }
    }))
}

#[derive(Deserialize)]
pub struct LogQuery {
    /// Lines of history before following (default 200).
    tail: Option<usize>,
}

/// `GET /api/instances/{instance}/services/{service}/logs`: `line` events (a JSON string
/// each), the last `?tail=` lines first, then as they are written.
pub async fn logs(
    State(state): State<Shared>,
    Path((instance, service)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> ApiResult<EventStream> {
    let id = instance_id(&instance)?;
    let workloads = crate::ops::inspect::existing_instance(state.backend.as_ref(), &id).await?;
    let workload = workloads.get(&service).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("instance {id} has no container for service `{service}`"),
        )
    })?;
    let lines = state
        .backend
        .follow_logs(workload, query.tail.unwrap_or(200))
        .map(|line| {
            Ok(match line {
                Ok(line) => Event::default()
                    .event("line")
                    .data(serde_json::Value::String(line).to_string()),
                Err(err) => problem(&ApiError::internal(err)),
            })
        });
    Ok(Sse::new(lines.boxed()).keep_alive(KeepAlive::default()))
}

/// `GET /api/actions/{action}/events`: every `progress` event so far and then as they come
/// (the CLI's `--output json` progress lines), then one `done` with the outcome.
pub async fn action(
    State(state): State<Shared>,
    Path(action): Path<u64>,
) -> ApiResult<EventStream> {
    let action = actions::find(&state, action)?;
    let (tx, sse) = channel();
    tokio::spawn(async move {
        let mut changed = action.subscribe();
        let mut sent = 0;
        loop {
            let view = action.snapshot();
            for event in &view.events[sent..] {
                let event = Event::default().event("progress").data(event.to_string());
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            sent = view.events.len();
            if let Some(outcome) = view.result {
                let data = serde_json::to_string(&outcome).unwrap_or_default();
                let _ = tx.send(Event::default().event("done").data(data)).await;
                return;
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    });
    Ok(sse)
}
