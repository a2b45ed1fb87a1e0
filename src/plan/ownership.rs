//! What `plan` refuses to touch: names held by someone else are errors, never deletions or
//! reuse. And which volume each named volume of the instance is, by name and by labels.

use std::collections::BTreeSet;

use crate::model::labels::{self, check_owner, Ownership};
use crate::model::{Environment, VolumeSource};

use super::container::{instance_labels, VolumeNames};
use super::{Action, Observed, PlanError};

/// Containers holding our container names and a network holding our network name, owned by
/// another instance (or nobody envctl knows).
pub(super) fn errors(env: &Environment, observed: &Observed) -> Vec<PlanError> {
    let instance = env.instance.as_str();
    let mut errors: Vec<PlanError> = observed
        .foreign
        .iter()
        .map(|c| {
            let service = env
                .services
                .keys()
                .find(|s| env.instance.container_name(s) == c.name)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let owner = match Ownership::read(&c.labels) {
                Some(other) => format!(
                    " (it belongs to envctl instance `{}`, {})",
                    other.instance,
                    other.describe()
                ),
                None => format!(" (id {}, image {})", short_id(&c.id), c.image),
            };
            PlanError::ForeignContainer {
                name: c.name.clone(),
                service,
                instance: instance.to_string(),
                owner,
            }
        })
        .collect();
    if let Some(n) = &observed.own_network {
        errors.push(PlanError::FullCopyExists {
            instance: instance.to_string(),
            network: n.name.clone(),
            env: env.instance.env().to_string(),
            feature: env.instance.feature().unwrap_or_default().to_string(),
        });
    }
    // An overlay's network is its base's, and must exist: the overlay never makes one.
    let owner = env.overlay.as_ref().map_or(&env.instance, |o| &o.base);
    if let (Some(overlay), None) = (&env.overlay, &observed.network) {
        errors.push(PlanError::BaseNotUp {
            overlay: instance.to_string(),
            base: overlay.base.to_string(),
            network: env.network_name(),
            up: match overlay.base.feature() {
                Some(f) => format!("envctl up {} --feature {f}", overlay.base.env()),
                None => format!("envctl up {}", overlay.base.env()),
            },
        });
    }
    if let Some(n) = &observed.network {
        let ours = Ownership::read(&n.labels).is_some_and(|o| o.is(owner));
        if !ours {
            errors.push(PlanError::ForeignNetwork {
                name: n.name.clone(),
                instance: owner.to_string(),
            });
        }
    }
    errors
}

/// The instance's named volumes: the engine name each one uses, the volumes to create, and
/// the names held by someone else.
pub(super) struct VolumePlan {
    pub names: VolumeNames,
    pub actions: Vec<Action>,
    pub errors: Vec<PlanError>,
}

/// The named volumes `env` mounts, logical names.
pub(super) fn wanted_volumes(env: &Environment) -> BTreeSet<&str> {
    env.services
        .values()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| match &v.source {
            VolumeSource::Named(name) => Some(name.as_str()),
            VolumeSource::Bind(_) => None,
        })
        .collect()
}

/// For each named volume: `<instance>_<volume>` when it exists and its labels name this
/// instance (other or no labels: an error, never reuse); else the volume an older envctl made
/// as `<instance>-<volume>` when its labels name exactly this instance (its data stays in use);
/// else a new `<instance>_<volume>`.
pub(super) fn volumes(env: &Environment, observed: &Observed, now: &str) -> VolumePlan {
    let find = |name: &str| observed.volumes.iter().find(|v| v.name == name);
    let mut plan = VolumePlan {
        names: VolumeNames::new(),
        actions: Vec::new(),
        errors: Vec::new(),
    };
    for volume in wanted_volumes(env) {
        let name = env.instance.volume_name(volume);
        let legacy = env.instance.legacy_volume_name(volume);
        let legacy_ours = find(&legacy).is_some_and(|v| {
            // Leases are volumes too; never mount one.
            !v.labels.contains_key(labels::LEASE)
                && Ownership::read(&v.labels).is_some_and(|o| o.is(&env.instance))
        });
        match find(&name) {
            Some(v) => match check_owner("volume", &v.name, &v.labels, &env.instance) {
                Ok(()) => {}
                Err(err) => plan.errors.push(err.into()),
            },
            None if legacy_ours => {
                plan.names.insert(volume.to_string(), legacy);
                continue;
            }
            None => plan.actions.push(Action::CreateVolume {
                name: name.clone(),
                labels: instance_labels(env, now),
            }),
        }
        plan.names.insert(volume.to_string(), name);
    }
    plan
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}
