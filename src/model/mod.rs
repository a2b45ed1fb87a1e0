//! The typed, validated environment: what `definition` produces and `plan` consumes.
//! Pure data, no I/O. Names are newtypes so a service name never stands in for an instance id.

pub mod host_port_token;
mod init;
pub mod labels;
mod names;
mod overlay;
mod port_range;
mod service;

pub use init::{marker_path, Init, InitStep, SeedFile, SeedSource, MARKER_FILE};
pub use names::{
    check_dns_label, check_env_name, check_feature_name, instance_name, InstanceId, NameError,
    ServiceName, FEATURE_SEPARATOR,
};
pub use overlay::{Overlay, OverlayError, CONSUMER_TAG_ENV, PROVIDER_TAG_ENV};
pub use port_range::{BadPortRange, PortRange};
pub use service::*;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One environment, resolved for one instance (`<env>` or `<env>--<feature>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name (`name:` or the file stem).
    pub env: String,
    /// The feature this instance is for, if any.
    pub feature: Option<String>,
    /// `<env>` or `<env>--<feature>`.
    pub instance: InstanceId,
    pub description: Option<String>,
    /// Default lifetime of feature instances (`ttl:`).
    pub ttl: Option<Duration>,
    /// The definition file this came from; bind mounts and build contexts are relative to it.
    pub source: PathBuf,
    pub services: BTreeMap<ServiceName, Service>,
    /// Services the developer runs on the host (`up --local`): no container is made for them,
    /// containers reach them through the host gateway under their service name.
    pub local: BTreeMap<ServiceName, Service>,
    /// Set when this instance is a feature overlay on a base instance (`up --only`).
    pub overlay: Option<Overlay>,
    /// The services a feature may fork (`overlay.services:` of the definition), if declared.
    pub forkable: Option<Vec<ServiceName>>,
}

/// `up --local NAME` named a service the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--local {name}: no such service; services are: {known}")]
pub struct NoSuchService {
    pub name: String,
    /// The services it has, comma-separated.
    pub known: String,
}

impl Environment {
    /// Moves `name` out of the containers and onto the host: dependents stop waiting for it
    /// (envctl cannot see a process in an IDE), and it is remembered in `local`.
    pub fn run_locally(&mut self, name: &str) -> Result<(), NoSuchService> {
        let Some(service) = self.services.remove(name) else {
            let known: Vec<&str> = self.services.keys().map(|s| s.as_str()).collect();
            return Err(NoSuchService {
                name: name.to_string(),
                known: known.join(", "),
            });
        };
        for other in self.services.values_mut() {
            other.depends_on.remove(name);
        }
        self.local.insert(service.name.clone(), service);
        Ok(())
    }

    /// Services in a deterministic dependency order (dependencies first).
    /// Validation guarantees there is no cycle; a cycle here would be a bug, so the
    /// remaining services are appended in name order rather than looping forever.
    pub fn dependency_order(&self) -> Vec<&ServiceName> {
        let mut done: Vec<&ServiceName> = Vec::new();
        let mut remaining: Vec<&ServiceName> = self.services.keys().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|name| {
                let ready = self.services[*name]
                    .depends_on
                    .keys()
                    .all(|dep| done.contains(&dep) || !self.services.contains_key(dep));
                if ready {
                    done.push(name);
                }
                !ready
            });
            if remaining.len() == before {
                done.append(&mut remaining);
            }
        }
        done
    }
}
