//! Serves envctl's in-memory Kubernetes API (`envctl::backend::kubernetes::fake_api`) on
//! loopback and writes a kubeconfig naming it, so the CLI can be tried on "a cluster"
//! without one:
//!
//! ```text
//! cargo run --example fake_kube_api -- /tmp/fake.kubeconfig &
//! KUBECONFIG=/tmp/fake.kubeconfig envctl up cache-demo --engine kubernetes
//! ```
//!
//! Every request is printed as it is answered. Pods come up Ready at once, but nothing runs
//! in them: a `zookeeper` or `dubbo` health check, which envctl runs itself against the node
//! (127.0.0.1) and its node port, never passes — use an environment without them
//! (cache-demo), or `up --no-wait`.

use std::time::Duration;

use envctl::backend::kubernetes::fake_api::FakeApi;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fake.kubeconfig".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    std::fs::write(&path, FakeApi::kubeconfig(address))?;
    eprintln!("fake Kubernetes API on http://{address}; kubeconfig written to {path}");
    let api = FakeApi::new();
    let log = api.clone();
    tokio::spawn(async move {
        let mut shown = 0;
        loop {
            let requests = log.requests();
            for request in &requests[shown..] {
                println!("{request}");
            }
            shown = requests.len();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    api.serve(listener).await
}
