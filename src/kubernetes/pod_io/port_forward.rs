//! Probing a pod's ports that are not published, through the API server's port-forward:
//! `zookeeper` and `dubbo` health checks (which envctl runs itself, not the kubelet), and
//! `tcp`/`http` on ports without a node port. Each probe attempt gets its own bridge (see
//! `bridge`), torn down when the attempt ends.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Portforwarder;
use kube::{Api, Client};

use super::bridge::{Bridge, Open, Upstream};
use super::errors::Request;
use crate::model::Probe;
use crate::probe::{self, ProbeFailed, ProbeTarget};

/// One attempt of `probe` (tcp, http or zookeeper) against `pod`'s own port, bounded by
/// `timeout`.
pub async fn probe_via_port_forward(
    client: &Client,
    namespace: &str,
    pod: &str,
    probe: &Probe,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let port = match probe {
        Probe::Tcp { port } => return tcp(client, namespace, pod, *port, timeout).await,
        Probe::Http { port, .. } | Probe::Zookeeper { port } => *port,
        Probe::Dubbo(_) => {
            return Err(
                "a dubbo probe goes through its registry: probe_dubbo_via_port_forward".into(),
            )
        }
        Probe::Cmd(_) => return Err("cmd probes run through exec".into()),
    };
    let bridge = to_pod(client, namespace, pod, port).await?;
    let target = ProbeTarget {
        host_ports: [(port, bridge.addr().port())].into(),
        published_at: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ..ProbeTarget::default()
    };
    let result = probe::check(probe, &target, timeout).await;
    result.map_err(|failed| explain(failed, &bridge, namespace, pod, port))
}

/// One attempt of a `dubbo` probe whose registry is ZooKeeper `registry_port` of pod
/// `registry_pod` (in the same namespace), reached through a port-forward. `target` says the
/// rest as for any backend (`own_registrations`, the addresses that count as the service's
/// own); its `registry` is replaced. Providers are dialled where they registered (a node
/// address and node port).
pub async fn probe_dubbo_via_port_forward(
    client: &Client,
    namespace: &str,
    registry_pod: &str,
    registry_port: u16,
    probe: &Probe,
    target: ProbeTarget,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let bridge = to_pod(client, namespace, registry_pod, registry_port).await?;
    let target = ProbeTarget {
        registry: vec![bridge.addr()],
        ..target
    };
    let result = probe::check(probe, &target, timeout).await;
    result.map_err(|failed| explain(failed, &bridge, namespace, registry_pod, registry_port))
}

/// A bridge to `port` of `pod`: one port-forward per accepted connection.
async fn to_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    port: u16,
) -> Result<Bridge, ProbeFailed> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let (namespace, pod) = (namespace.to_string(), pod.to_string());
    let open: Arc<Open> = Arc::new(move || {
        let (api, namespace, pod) = (api.clone(), namespace.clone(), pod.clone());
        Box::pin(async move {
            let mut forward = api
                .portforward(&pod, &[port])
                .await
                .map_err(|e| forward_request(&namespace, &pod).error(e).to_string())?;
            let stream = forward.take_stream(port).ok_or("no stream for the port")?;
            let error = forward
                .take_error(port)
                .ok_or("no error channel for the port")?;
            let guard = AbortOnDrop(forward);
            Ok(Upstream {
                stream: Box::new(stream),
                failed: Box::pin(async move {
                    let _connection = guard;
                    error.await
                }),
            })
        })
    });
    Bridge::start(open)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1 for a port-forward: {e}").into())
}

/// A `tcp` probe: ready when the kubelet connects to the port. It reports a refused
/// connection on the port's error channel at once, and nothing when it connected: so no
/// error within a short window means the port accepts (as `answers` treats a quiet server).
async fn tcp(
    client: &Client,
    namespace: &str,
    pod: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let window = (timeout / 2).min(Duration::from_secs(1));
    let attempt = async {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let mut forward = api
            .portforward(pod, &[port])
            .await
            .map_err(|e| forward_request(namespace, pod).error(e).to_string())?;
        let forward_error = forward.take_error(port);
        let _stream = forward.take_stream(port);
        let _connection = AbortOnDrop(forward);
        match forward_error {
            Some(error) => match tokio::time::timeout(window, error).await {
                Ok(Some(reason)) => Err(reason),
                Ok(None) | Err(_) => Ok(()),
            },
            None => Err("no error channel for the port".to_string()),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) => Err(format!("port {port} of pod {namespace}/{pod}: {reason}").into()),
        Err(_) => Err(format!(
            "port {port} of pod {namespace}/{pod}: no port-forward within {timeout:?}"
        )
        .into()),
    }
}

fn forward_request<'a>(namespace: &'a str, pod: &'a str) -> Request<'a> {
    Request {
        verb: "create",
        resource: "pods/portforward",
        kind: "pod",
        namespace,
        name: pod,
    }
}

/// The probe's reason (about a loopback address nobody knows), said of the pod's port, with
/// what the port-forward reported.
fn explain(
    failed: ProbeFailed,
    bridge: &Bridge,
    namespace: &str,
    pod: &str,
    port: u16,
) -> ProbeFailed {
    let local = bridge.addr().to_string();
    let reason = failed.0.replace(&local, &format!("{pod}:{port}"));
    match bridge.last_error() {
        Some(forward) => {
            format!("{reason} (port-forward to pod {namespace}/{pod} port {port}: {forward})")
        }
        None => format!("{reason} (through a port-forward to pod {namespace}/{pod})"),
    }
    .into()
}

/// Ends a port-forward's connection with its owner (`Portforwarder` leaves it running).
struct AbortOnDrop(Portforwarder);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_ws::{receive, send, Socket, WsApi};
    use super::*;
    use crate::zookeeper::fake::FakeZk;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const T: Duration = Duration::from_secs(3);

    /// The kubelet's side of a one-port forward: the two initial frames, then either the
    /// bytes of a connection to `target` or, when the pod's port refuses, `refusal` on the
    /// error channel.
    async fn forward(mut socket: Socket, target: Result<SocketAddr, &'static str>) {
        let port: u16 = 2181;
        send(&mut socket, 0, &port.to_le_bytes()).await;
        send(&mut socket, 1, &port.to_le_bytes()).await;
        let mut pod = match target {
            Ok(addr) => TcpStream::connect(addr).await.unwrap(),
            Err(refusal) => {
                send(&mut socket, 1, refusal.as_bytes()).await;
                let _ = socket.close(None).await;
                return;
            }
        };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                message = receive(&mut socket) => match message {
                    Some((0, data)) => pod.write_all(&data).await.unwrap(),
                    Some(_) => {}
                    None => return,
                },
                read = pod.read(&mut buf) => match read {
                    Ok(n) if n > 0 => send(&mut socket, 0, &buf[..n]).await,
                    _ => {
                        let _ = socket.close(None).await;
                        return;
                    }
                },
            }
        }
    }

    fn zookeeper() -> Probe {
        Probe::Zookeeper { port: 2181 }
    }

    #[tokio::test]
    async fn a_zookeeper_probe_reaches_the_pod_through_the_forward() {
        let zk = FakeZk::start(&[]).await;
        let zk_addr = zk.addr;
        let api = WsApi::start(move |_, socket| forward(socket, Ok(zk_addr))).await;
        probe_via_port_forward(&api.client, "envctl-shop", "zookeeper-0", &zookeeper(), T)
            .await
            .unwrap();
        let seen = api.seen();
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|uri| uri
                == "/api/v1/namespaces/envctl-shop/pods/zookeeper-0/portforward?&ports=2181"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_port_fails_with_what_the_forward_said() {
        let refusal = "failed to connect to localhost:2181 inside namespace: connection refused";
        let api = WsApi::start(move |_, socket| forward(socket, Err(refusal))).await;
        let err =
            probe_via_port_forward(&api.client, "envctl-shop", "zookeeper-0", &zookeeper(), T)
                .await
                .unwrap_err()
                .0;
        assert!(
            err.contains("port-forward to pod envctl-shop/zookeeper-0 port 2181"),
            "{err}"
        );
        assert!(err.contains("connection refused"), "{err}");
        assert!(
            !err.contains("127.0.0.1"),
            "the loopback bridge means nothing to users: {err}"
        );
    }

    #[tokio::test]
    async fn a_forbidden_forward_names_the_rbac_rule() {
        let api = WsApi::refusing(403, "cannot create resource \"pods/portforward\"").await;
        let err =
            probe_via_port_forward(&api.client, "envctl-shop", "zookeeper-0", &zookeeper(), T)
                .await
                .unwrap_err()
                .0;
        assert!(
            err.contains("verb `create` on resource `pods/portforward`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn tcp_is_ready_unless_the_forward_reports_a_refused_port() {
        let zk = FakeZk::start(&[]).await;
        let zk_addr = zk.addr;
        let open = WsApi::start(move |_, socket| forward(socket, Ok(zk_addr))).await;
        let tcp = Probe::Tcp { port: 2181 };
        let quick = Duration::from_millis(200);
        probe_via_port_forward(&open.client, "ns", "p", &tcp, quick)
            .await
            .unwrap();
        let refused = WsApi::start(|_, socket| forward(socket, Err("connection refused"))).await;
        let err = probe_via_port_forward(&refused.client, "ns", "p", &tcp, T)
            .await
            .unwrap_err()
            .0;
        assert_eq!(err, "port 2181 of pod ns/p: connection refused");
    }

    #[tokio::test]
    async fn dubbo_reads_the_registry_through_the_forward() {
        // A provider that registered an address reachable from here (a node port, say).
        let provider = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let provider_addr = provider.local_addr().unwrap();
        let _accepting = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = provider.accept().await {
                held.push(conn);
            }
        });
        let url = format!("rest://{provider_addr}/a.Greeter?interface=a.Greeter&side=provider");
        let node = percent_encoding::utf8_percent_encode(&url, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let zk = FakeZk::start(&[
            ("/dubbo", &["a.Greeter"]),
            ("/dubbo/a.Greeter", &["providers"]),
            ("/dubbo/a.Greeter/providers", &[node.as_str()]),
        ])
        .await;
        let zk_addr = zk.addr;
        let api = WsApi::start(move |_, socket| forward(socket, Ok(zk_addr))).await;
        let probe = Probe::Dubbo(crate::model::DubboProbe::interface("a.Greeter"));
        probe_dubbo_via_port_forward(
            &api.client,
            "envctl-shop",
            "zookeeper-0",
            2181,
            &probe,
            ProbeTarget::default(),
            T,
        )
        .await
        .unwrap();
        assert!(api.seen()[0].ends_with("/pods/zookeeper-0/portforward?&ports=2181"));

        // Without the registration the probe says so: the registry itself was reached.
        let empty = FakeZk::start(&[("/dubbo", &[])]).await;
        let empty_addr = empty.addr;
        let api = WsApi::start(move |_, socket| forward(socket, Ok(empty_addr))).await;
        let err = probe_dubbo_via_port_forward(
            &api.client,
            "envctl-shop",
            "zookeeper-0",
            2181,
            &probe,
            ProbeTarget::default(),
            T,
        )
        .await
        .unwrap_err()
        .0;
        assert!(
            err.contains("no provider of a.Greeter is registered yet"),
            "{err}"
        );
    }
}
