//! What the mapping needs besides the definition, decided outside it: node ports allocated
//! against the cluster, the address Dubbo providers register, secret values read on this
//! machine, the registry local images are pushed to. `render` knows none of them
//! (`MappingInputs::render`) and shows placeholders; `up` fills them in.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// Node port of each published port: (service, container port) → node port.
pub type NodePorts = BTreeMap<(String, u16), u16>;

/// Inputs of `manifests_with`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingInputs {
    /// Node port per published port. Empty: the cluster picks each NodePort Service's ports
    /// and `host_port(...)` tokens stay placeholders (render).
    pub node_ports: NodePorts,
    /// The cluster's node-port range (`node_ports::range_from_env`) when node ports are
    /// given: every published port then needs one, and a pinned host port (`"8080:80"`)
    /// becomes its node port if the range holds it, else the mapping is refused. `None`:
    /// render, where pinned ports are not carried over.
    pub node_port_range: Option<RangeInclusive<u16>>,
    /// What Dubbo providers register as their address (`DUBBO_IP_TO_REGISTRY`).
    pub advertise: Advertise,
    /// Secret values keyed `<service>.<VAR>` (`secret_values::resolve_from_host`); `None`:
    /// the Secret holds placeholders naming where each value comes from (render).
    pub secrets: Option<BTreeMap<String, String>>,
    /// Registry (`host[:port][/path]`) that locally built images were pushed to: their names
    /// are rewritten to `<registry>/<name>:<tag>` (`registry::pushed_name`). `None`: names as
    /// they are.
    pub registry: Option<String>,
}

/// The address a Dubbo provider registers in ZooKeeper, for callers to dial with its node port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advertise {
    /// The value the definition rendered (`advertise_host`, this machine's view): render.
    AsDefined,
    /// The address of the node the pod runs on (downward API `status.hostIP`): a node port
    /// answers on every node, so nodeIP:nodePort reaches the provider from inside and outside.
    NodeHostIp,
    /// A fixed address (`--advertise-host`): a load balancer or DNS name in front of the nodes.
    Literal(String),
}

impl MappingInputs {
    /// What `envctl render --target kubernetes` uses: nothing known beyond the definition.
    pub fn render() -> Self {
        Self {
            node_ports: NodePorts::new(),
            node_port_range: None,
            advertise: Advertise::AsDefined,
            secrets: None,
            registry: None,
        }
    }

    /// The start of what `up` uses: allocated node ports (`node_ports::allocate_for_env`) in
    /// `range`, providers advertising their node's address; set `secrets`, `registry` and
    /// `advertise` (`--advertise-host`) on the result.
    pub fn up(node_ports: NodePorts, range: RangeInclusive<u16>) -> Self {
        Self {
            node_ports,
            node_port_range: Some(range),
            advertise: Advertise::NodeHostIp,
            secrets: None,
            registry: None,
        }
    }

    /// The node port of `service`'s container `port`, when known.
    pub fn node_port(&self, service: &str, port: u16) -> Option<u16> {
        self.node_ports.get(&(service.to_string(), port)).copied()
    }
}
