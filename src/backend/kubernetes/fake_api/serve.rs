//! The fake API server on a TCP port (plain HTTP), so the `envctl` binary itself runs against
//! it through a kubeconfig, exactly as against a cluster: a CLI test, or a try by hand.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::FakeApi;

impl FakeApi {
    /// Answers API requests on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let api = self.clone();
            async move { api.answer_http(request).await }
        });
        axum::serve(listener, router).await
    }

    async fn answer_http(&self, request: axum::extract::Request) -> axum::response::Response {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let (parts, body) = self.answer(&parts, &bytes).into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
    }

    /// A kubeconfig whose context `fake` (its current one) is this server at `address`.
    pub fn kubeconfig(address: SocketAddr) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://{address}
users:
- name: dev
  user:
    token: fake
contexts:
- name: fake
  context:
    cluster: fake
    user: dev
current-context: fake
"
        )
    }
}
