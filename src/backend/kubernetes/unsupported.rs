//! Parts of a definition envctl runs itself on Docker and not yet on a cluster: refused
//! before anything is read or written, each naming what to drop, rather than silently left
//! out (an instance without its seed data or its overlay's routing would look up and be wrong).

use crate::kubernetes::MappingError;
use crate::model::Environment;

/// Every such part of `env`, at once.
pub fn refuse(env: &Environment) -> Result<(), MappingError> {
    let mut problems = Vec::new();
    if env.overlay.is_some() {
        problems.push(
            "an overlay (`up --only`, sharing a base instance through Dubbo tags) is not supported on the Kubernetes backend yet: bring the whole feature instance up (drop --only)".to_string(),
        );
    }
    for name in env.local.keys() {
        problems.push(format!(
            "service `{name}`: `up --local` is not supported on the Kubernetes backend yet (pods cannot be routed to this machine): drop --local {name}"
        ));
    }
    for service in env.services.values() {
        if !service.init.is_empty() {
            problems.push(format!(
                "service `{}`: `init:` (seeding) is not supported on the Kubernetes backend yet: remove it for the cluster, or seed with `envctl exec` after up",
                service.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MappingError {
            instance: env.instance.to_string(),
            problems,
        })
    }
}
