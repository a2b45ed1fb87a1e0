//! Following a pod's log: the log API with `follow=true`, cut into lines wherever the
//! server's chunks end (a line may arrive in pieces, or many in one chunk).

use futures_util::io::{AsyncBufRead, AsyncBufReadExt};
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::{Api, Client};

use super::errors::Request;
use crate::engine::{EngineError, EngineResult};

/// Follows the log of `pod` in `namespace`, starting with its last `tail` lines
/// (`usize::MAX`: all of them). Ends when the pod's container stops; an error is the last
/// item.
pub fn follow_logs(
    client: &Client,
    namespace: &str,
    pod: &str,
    tail: usize,
) -> BoxStream<'static, EngineResult<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        follow: true,
        tail_lines: (tail != usize::MAX).then(|| i64::try_from(tail).unwrap_or(i64::MAX)),
        ..LogParams::default()
    };
    let (namespace, pod) = (namespace.to_string(), pod.to_string());
    stream::once(async move {
        let request = Request {
            verb: "get",
            resource: "pods/log",
            kind: "pod",
            namespace: &namespace,
            name: &pod,
        };
        match api.log_stream(&pod, &params).await {
            Ok(body) => lines(body, request.context()),
            Err(err) => stream::iter([Err(request.error(err))]).boxed(),
        }
    })
    .flatten()
    .boxed()
}

/// The lines of `body`, without their line ends; a last line without one still counts.
fn lines(
    body: impl AsyncBufRead + Send + 'static,
    context: String,
) -> BoxStream<'static, EngineResult<String>> {
    stream::unfold(Some(Box::pin(body)), move |body| {
        let context = context.clone();
        async move {
            let mut body = body?;
            let mut line = Vec::new();
            match body.read_until(b'\n', &mut line).await {
                Ok(0) => None,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']).to_string();
                    Some((Ok(text), Some(body)))
                }
                Err(err) => Some((
                    Err(EngineError::Api {
                        context,
                        message: err.to_string(),
                    }),
                    None,
                )),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::super::mock_api::{client, fed, status, streamed};
    use super::*;

    #[tokio::test]
    async fn lines_are_whole_however_the_chunks_cut_them() {
        let (feed, body) = fed();
        let body = std::sync::Mutex::new(Some(body));
        let (client, log) = client(move |_, _| streamed(body.lock().unwrap().take().unwrap()));
        let mut lines = follow_logs(&client, "envctl-shop", "web-1", 2);
        feed.send(b"first li".to_vec()).unwrap();
        feed.send(b"ne\nsecond\r\nthi".to_vec()).unwrap();
        assert_eq!(lines.next().await.unwrap().unwrap(), "first line");
        assert_eq!(lines.next().await.unwrap().unwrap(), "second");
        // Followed: the next line comes when the pod writes it.
        feed.send("rd é\n".as_bytes().to_vec()).unwrap();
        assert_eq!(lines.next().await.unwrap().unwrap(), "third é");
        feed.send(b"unfinished".to_vec()).unwrap();
        drop(feed);
        assert_eq!(lines.next().await.unwrap().unwrap(), "unfinished");
        assert!(lines.next().await.is_none());
        assert_eq!(
            log.lines(),
            ["GET /api/v1/namespaces/envctl-shop/pods/web-1/log?&follow=true&tailLines=2"]
        );
    }

    #[tokio::test]
    async fn all_lines_ask_for_no_tail() {
        let (client, log) = client(|_, _| streamed(stream::iter([b"a\n".to_vec()]).boxed()));
        let lines: Vec<_> = follow_logs(&client, "ns", "p", usize::MAX)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(lines, ["a"]);
        assert_eq!(
            log.lines(),
            ["GET /api/v1/namespaces/ns/pods/p/log?&follow=true"]
        );
    }

    #[tokio::test]
    async fn a_refusal_is_one_error_naming_the_pod() {
        let (client, _) = client(|_, _| {
            status(
                403,
                "Forbidden",
                "pods \"p\" is forbidden: cannot get resource \"pods/log\"",
            )
        });
        let items: Vec<_> = follow_logs(&client, "envctl-shop", "p", 5).collect().await;
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("pod envctl-shop/p"), "{err}");
        assert!(err.contains("verb `get` on resource `pods/log`"), "{err}");
    }
}
