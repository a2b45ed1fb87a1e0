//! What `plan` and `up` feed the mapping on a cluster (`crate::kubernetes::up_inputs`): node
//! ports kept from the instance's own Services and clear of every other Service's, secret
//! values read on this machine, the registry images built here are pulled from, and the
//! address providers register when the user gave one.

use serde_json::Value;

use super::api::{is_forbidden, Kube};
use super::kinds::SERVICE;
use super::observe::Observed;
use crate::apply::UpError;
use crate::kubernetes::node_ports::{self, DEFAULT_RANGE};
use crate::kubernetes::up_inputs::{self, Settings, UpInputsError};
use crate::kubernetes::MappingInputs;
use crate::model::Environment;
use crate::plan::PlanInputs;

/// This machine's mapping settings for a cluster.
#[derive(Debug, Clone)]
pub struct MappingSettings {
    pub settings: Settings,
    /// `--advertise-host` / ENVCTL_ADVERTISE_HOST when given: providers register it instead
    /// of their node's address (`status.hostIP`).
    pub advertise: Option<String>,
}

impl MappingSettings {
    /// From the environment (ENVCTL_NODE_PORT_RANGE, ENVCTL_REGISTRY or `registry:`).
    pub fn from_environment(advertise: Option<&str>) -> Result<Self, UpInputsError> {
        Ok(Self {
            settings: Settings::from_environment()?,
            advertise: advertise.map(str::to_string),
        })
    }
}

impl Default for MappingSettings {
    /// The default node-port range, no registry, node addresses advertised.
    fn default() -> Self {
        Self {
            settings: Settings {
                node_port_range: DEFAULT_RANGE,
                registry: None,
            },
            advertise: None,
        }
    }
}

/// The mapping inputs of `env`'s instance as observed. Node ports in use elsewhere come from
/// one cluster-wide LIST of Services, read only when a published port has none yet; a user
/// who may not list them cluster-wide gets the instance's own only (the API server then
/// refuses a taken port at apply, naming it).
pub async fn inputs(
    kube: &Kube,
    env: &Environment,
    observed: &Observed,
    settings: &MappingSettings,
    plan_inputs: &PlanInputs<'_>,
) -> Result<MappingInputs, UpError> {
    let own: Vec<Value> = observed
        .objects
        .iter()
        .filter(|(kind, _)| *kind == SERVICE)
        .map(|(_, object)| object.clone())
        .collect();
    let current = node_ports::current(&own);
    // Only a port without a node port yet needs to know the cluster's: a converged or
    // changed instance keeps its own, and its plan stays as cheap in a cluster of thousands
    // of Services as in an empty one.
    let unallocated = env.services.values().any(|service| {
        service
            .ports
            .iter()
            .any(|port| !current.contains_key(&(service.name.to_string(), port.container)))
    });
    let taken = if !unallocated {
        node_ports::in_use(&own)
    } else {
        match kube.list(&SERVICE, None, "").await {
            Ok(all) => node_ports::in_use(&all),
            Err(err) if is_forbidden(&err) => node_ports::in_use(&own),
            Err(err) => return Err(err.into()),
        }
    };
    let read = |value: &crate::model::EnvValue| {
        (plan_inputs.resolve_secret)(value).map_err(|e| e.to_string())
    };
    Ok(up_inputs::for_up_with(
        env,
        &current,
        &taken,
        settings.advertise.as_deref(),
        &settings.settings,
        &read,
    )?)
}
