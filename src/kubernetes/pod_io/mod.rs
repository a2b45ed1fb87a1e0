//! Reaching one pod of an instance through the API server: follow its log, run a command in
//! it, restart it, hear when pods change, hold the instance's lock, and probe ports that are
//! not published (port-forward). Free functions over `kube::Client` that the Kubernetes
//! backend's `Backend` methods call with the pod its observation found (`ObservedContainer::id`)
//! and the instance's namespace (`manifests::namespace_name`). Errors are `EngineError`s naming namespace and pod; a 403
//! says which verb on which resource RBAC must allow.

mod bridge;
mod errors;
mod exec;
mod lock;
mod logs;
mod port_forward;
mod registry;
mod restart;
mod watch;

#[cfg(test)]
mod mock_api;
#[cfg(test)]
mod mock_ws;

pub use bridge::Bridge;
pub use exec::exec;
pub use lock::{try_lock, unlock, LEASE_NAME};
pub use logs::follow_logs;
pub use port_forward::{probe_dubbo_via_port_forward, probe_via_port_forward};
pub use registry::registry_service;
pub use restart::restart;
pub use watch::{changes, label_selector};
