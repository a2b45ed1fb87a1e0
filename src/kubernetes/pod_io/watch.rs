//! Hearing that pods change: a watch on pods across namespaces (an instance's pods live in
//! its own namespace, `ui` follows many instances), from the current state on.

use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Client};

use crate::engine::LabelFilter;

/// The label selector of `filter` (`key` or `key=value` terms, all of which must match).
pub fn label_selector(filter: &LabelFilter) -> String {
    filter.0.join(",")
}

/// Yields once per change of a pod matching `label_selector` in any namespace (added,
/// modified, deleted). Starts from now: a list (one item) gives the resource version to
/// watch from, so the pods that already exist are not reported as changes. Ends on the first
/// error, or when the server ends the watch (after some minutes): callers look again
/// periodically anyway.
pub fn changes(client: &Client, label_selector: &str) -> BoxStream<'static, ()> {
    let api: Api<Pod> = Api::all(client.clone());
    let selector = label_selector.to_string();
    stream::once(async move {
        let now = api
            .list_metadata(&ListParams::default().labels(&selector).limit(1))
            .await
            .ok()?;
        let version = now.metadata.resource_version.unwrap_or_else(|| "0".into());
        let events = api
            .watch(&WatchParams::default().labels(&selector), &version)
            .await
            .ok()?;
        Some(events)
    })
    .filter_map(std::future::ready)
    .flatten()
    .take_while(|event| {
        std::future::ready(matches!(
            event,
            Ok(WatchEvent::Added(_)
                | WatchEvent::Modified(_)
                | WatchEvent::Deleted(_)
                | WatchEvent::Bookmark(_))
        ))
    })
    // A bookmark only moves the resource version on: nothing changed.
    .filter_map(|event| {
        std::future::ready((!matches!(event, Ok(WatchEvent::Bookmark(_)))).then_some(()))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::super::mock_api::{client, fed, json, status, streamed};
    use super::*;
    use serde_json::json;

    fn event(kind: &str, pod: &str) -> Vec<u8> {
        let object = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": pod, "namespace": "envctl-shop", "resourceVersion": "12" }
        });
        format!("{}\n", json!({ "type": kind, "object": object })).into_bytes()
    }

    fn pod_list() -> http::Response<axum::body::Body> {
        json(
            200,
            json!({
                "apiVersion": "v1", "kind": "PodList",
                "metadata": { "resourceVersion": "41" }, "items": []
            }),
        )
    }

    #[tokio::test]
    async fn one_item_per_change_from_the_listed_version_until_an_error() {
        let (feed, body) = fed();
        let body = std::sync::Mutex::new(Some(body));
        let (client, log) = client(move |_, index| match index {
            0 => pod_list(),
            _ => streamed(body.lock().unwrap().take().unwrap()),
        });
        let filter = LabelFilter(vec![
            "io.envctl.instance".into(),
            "io.envctl.env=shop".into(),
        ]);
        let mut changes = changes(&client, &label_selector(&filter));
        feed.send(event("ADDED", "web-1")).unwrap();
        changes.next().await.unwrap();
        let bookmark = json!({ "type": "BOOKMARK", "object": {
            "apiVersion": "v1", "kind": "Pod", "metadata": { "resourceVersion": "50" } } });
        feed.send(format!("{bookmark}\n").into_bytes()).unwrap();
        // Split across chunks, after a bookmark that is no change.
        let deleted = event("DELETED", "web-1");
        feed.send(deleted[..10].to_vec()).unwrap();
        feed.send(deleted[10..].to_vec()).unwrap();
        changes.next().await.unwrap();
        let expired = json!({ "type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "too old resource version", "reason": "Expired", "code": 410 } });
        feed.send(format!("{expired}\n").into_bytes()).unwrap();
        feed.send(event("MODIFIED", "web-2")).unwrap();
        assert!(changes.next().await.is_none(), "an error ends the stream");
        assert_eq!(
            log.lines(),
            [
                "GET /api/v1/pods?&labelSelector=io.envctl.instance,io.envctl.env=shop&limit=1",
                "GET /api/v1/pods?&watch=true&timeoutSeconds=290&labelSelector=io.envctl.instance,io.envctl.env=shop&allowWatchBookmarks=true&resourceVersion=41",
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_list_ends_at_once() {
        let (client, log) = client(|_, _| status(403, "Forbidden", "cannot list pods"));
        let items: Vec<()> = changes(&client, "io.envctl.instance").collect().await;
        assert!(items.is_empty());
        assert_eq!(log.lines().len(), 1, "no watch after a failed list");
    }
}
