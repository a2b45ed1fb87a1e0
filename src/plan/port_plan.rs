//! Host ports for one plan: what other instances hold stays taken, a running container keeps
//! its ports, everything else is allocated (see `ports::Allocator`).

use std::collections::BTreeMap;

use crate::engine::ObservedContainer;
use crate::model::{labels, Environment, Protocol, ServiceName};

use super::container::Allocations;
use super::ports::{decode_label, Allocator, Holder, PortKey, PortMove};
use super::{Observed, PlanError, PlanInputs};

/// Host ports for every service; a service keeps what its current container holds.
pub(super) fn allocate_ports(
    env: &Environment,
    observed: &Observed,
    existing: &BTreeMap<&str, &ObservedContainer>,
    order: &[&ServiceName],
    inputs: &PlanInputs<'_>,
) -> Result<(Allocations, Vec<PortMove>), Vec<PlanError>> {
    // What other instances hold stays taken; what this instance's orphans hold is freed
    // before any container starts, so it may be handed out again.
    let mut taken = BTreeMap::new();
    for c in &observed.others {
        let holder = Holder {
            instance: c.labels.get(labels::INSTANCE).cloned().unwrap_or_default(),
            container: c.name.clone(),
        };
        for key in held_ports(c) {
            taken.insert(key, holder.clone());
        }
    }
    let mut allocator = Allocator::new(inputs.range, taken, inputs.host_free);
    allocator.reclaimable = observed
        .containers
        .iter()
        .filter(|c| !existing.values().any(|e| e.id == c.id))
        .flat_map(held_ports)
        .collect();
    allocator.reserved = existing.values().flat_map(|c| held_ports(c)).collect();
    let mut allocations = Allocations::new();
    let mut errors = Vec::new();
    for name in order {
        let container = existing.get(name.as_str());
        let current = container.map(|c| label_ports(c)).unwrap_or_default();
        // Only a running container binds its ports; a stopped one's may be taken meanwhile.
        let bound = container.is_some_and(|c| c.state.is_running());
        let ports = &env.services[*name].ports;
        let instance = env.instance.as_str();
        match allocator.allocate_for(instance, name.as_str(), ports, &current, bound) {
            Ok(ports) => {
                allocations.insert((*name).clone(), ports);
            }
            Err(err) => errors.push(err.into()),
        }
    }
    // A service run on the host binds its container ports directly, so its `host_port`
    // tokens are the container ports themselves.
    for (name, service) in &env.local {
        let identity = service
            .ports
            .iter()
            .map(|p| ((p.container, p.protocol), p.container))
            .collect();
        allocations.insert(name.clone(), identity);
    }
    if errors.is_empty() {
        Ok((allocations, allocator.moved))
    } else {
        Err(errors)
    }
}

/// Host ports a container holds: recorded in its label or published right now.
fn held_ports(c: &ObservedContainer) -> Vec<(u16, Protocol)> {
    let recorded = label_ports(c)
        .into_iter()
        .map(|((_, proto), host)| (host, proto));
    let published = c.ports.iter().map(|p| (p.host, p.protocol));
    recorded.chain(published).collect()
}

fn label_ports(c: &ObservedContainer) -> BTreeMap<PortKey, u16> {
    c.labels
        .get(labels::PORTS)
        .map(|l| decode_label(l))
        .unwrap_or_default()
}
