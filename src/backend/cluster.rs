//! Connecting to a Kubernetes cluster (`--engine kubernetes[:CONTEXT]`): a `kube::Client` from
//! the kubeconfig (`KUBECONFIG`, else `~/.kube/config`; its current context unless one is
//! named), and the address published node ports are dialled on.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::advertise::HostAddress;
use crate::engine::{EngineError, EngineResult};

/// A cluster client and where its node ports are reached.
pub struct ClusterConnection {
    pub client: Client,
    pub host: HostAddress,
    /// `context NAME (https://server:6443)`, for messages.
    pub label: String,
}

/// Connects to the cluster of kubeconfig `context` (`None`: the current one). `advertise`
/// (`--advertise-host`) is the node address outsiders and Dubbo registrations use; without it
/// the first ready node's InternalIP serves both.
pub async fn connect(
    context: Option<&str>,
    advertise: Option<&str>,
) -> EngineResult<ClusterConnection> {
    let unreachable = |reason: String| EngineError::Unreachable {
        endpoint: match context {
            Some(name) => format!("Kubernetes context `{name}`"),
            None => "the kubeconfig's current Kubernetes context".into(),
        },
        reason,
    };
    let kubeconfig = Kubeconfig::read().map_err(|e| {
        unreachable(format!(
            "{e}; set KUBECONFIG or write ~/.kube/config (docs/kubernetes.md)"
        ))
    })?;
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let server = config.cluster_url.to_string();
    let label = match context {
        Some(name) => format!("context {name} ({server})"),
        None => format!("the current context ({server})"),
    };
    let server_host = config.cluster_url.host().map(str::to_string);
    let client = Client::try_from(config).map_err(|e| unreachable(e.to_string()))?;
    let node = node_address(&client)
        .await
        .map_err(|reason| unreachable(format!("{server}: {reason}")))?;
    let local = match node.or_else(|| {
        server_host
            .as_deref()
            .and_then(|h| super::selection::resolve_host(h.trim_matches(['[', ']'])).ok())
    }) {
        Some(ip) => ip,
        None => {
            return Err(unreachable(format!(
                "{server}: no node reports an InternalIP and the API server's host does not resolve"
            )))
        }
    };
    let host = HostAddress {
        local,
        advertise: advertise
            .map(str::to_string)
            .unwrap_or_else(|| local.to_string()),
    };
    Ok(ClusterConnection {
        client,
        host,
        label,
    })
}

/// The InternalIP of the first node that is Ready (else of any node): a NodePort answers on
/// every node, and pods register their own node's address (`status.hostIP`).
async fn node_address(client: &Client) -> Result<Option<IpAddr>, String> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| match &e {
            kube::Error::Api(status) if status.code == 403 => format!(
                "listing nodes is forbidden ({}); pass --advertise-host with a node address",
                status.message
            ),
            other => other.to_string(),
        })?;
    let ready = |node: &Node| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    let internal_ip = |node: &Node| {
        node.status
            .as_ref()?
            .addresses
            .as_ref()?
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .and_then(|a| a.address.parse::<IpAddr>().ok())
    };
    let mut ordered: Vec<&Node> = nodes.items.iter().filter(|n| ready(n)).collect();
    ordered.extend(nodes.items.iter().filter(|n| !ready(n)));
    Ok(ordered.into_iter().find_map(internal_ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A client whose API server answers every request with `body` (status `code`).
    fn answering(code: u16, body: serde_json::Value) -> Client {
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let body = body.clone();
            async move {
                assert_eq!(req.uri().path(), "/api/v1/nodes");
                let response = http::Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(body.to_string().into_bytes()))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        Client::new(service, "default")
    }

    fn node(name: &str, ready: &str, ip: &str) -> serde_json::Value {
        json!({
            "metadata": { "name": name },
            "status": {
                "conditions": [{ "type": "Ready", "status": ready }],
                "addresses": [
                    { "type": "Hostname", "address": name },
                    { "type": "InternalIP", "address": ip }
                ]
            }
        })
    }

    #[tokio::test]
    async fn the_first_ready_node_gives_the_address() {
        let list = json!({
            "apiVersion": "v1", "kind": "NodeList", "metadata": {},
            "items": [node("a", "False", "10.0.0.1"), node("b", "True", "10.0.0.2")]
        });
        let ip = node_address(&answering(200, list)).await.unwrap();
        assert_eq!(ip, Some("10.0.0.2".parse().unwrap()));
    }

    #[tokio::test]
    async fn forbidden_nodes_say_to_pass_an_advertise_host() {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "nodes is forbidden: User \"dev\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            "reason": "Forbidden", "code": 403
        });
        let err = node_address(&answering(403, status)).await.unwrap_err();
        assert!(err.contains("--advertise-host"), "{err}");
        assert!(err.contains("User \"dev\" cannot list"), "{err}");
    }
}
