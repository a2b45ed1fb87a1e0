//! Pure planning: desired (`model::Environment`) x observed (engine state) -> `Plan`.
//!
//! A plan is a list of small actions, each with a reason, plus the target of every service
//! (what `apply` schedules and waits on). A converged instance gives a plan without actions.

mod build_inputs;
mod container;
mod container_action;
mod images;
mod observe;
mod overlay_dns;
mod ownership;
mod port_plan;
pub mod ports;
mod spec;
mod spec_key;

pub use crate::model::{BadPortRange, PortRange};
pub use build_inputs::{
    digest as build_digest, BuildDigest, UnreadableContext, BUILD_INPUTS_LABEL,
};
pub use container::{
    desired, instance_labels, resolve_secret_from_host, Allocations, Desired, SecretResolver,
    SpecError, UnresolvedSecret, HOST_GATEWAY,
};
pub use observe::{observe, Observed};
pub use ports::{host_port_free, PortError, PortKey, PortMove};
pub use spec::{SpecView, KIND_LABEL, SPEC_HASH_VERSION, SPEC_LABEL};
pub use spec_key::{hmac_sha256, SpecKey, SpecKeyError};

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::engine::{BuildRequest, ContainerSpec, ContainerState, Labels, ObservedContainer};
use crate::model::{
    labels, Condition, Environment, HealthCheck, InstanceId, Protocol, ServiceKind, ServiceName,
};

/// Inputs to planning that are not the environment or the engine state.
pub struct PlanInputs<'a> {
    pub range: PortRange,
    /// Whether a host port can be bound now.
    pub host_free: &'a (dyn Fn(u16, Protocol) -> bool + Sync),
    pub resolve_secret: SecretResolver<'a>,
    /// Host address ports are published on.
    pub publish_address: String,
    /// RFC3339 time stamped into `io.envctl.created`.
    pub now: String,
    /// Keys the secret part of the spec hash.
    pub spec_key: SpecKey,
    /// Build every `build:` image again (`up --build`).
    pub rebuild: bool,
    /// What containers put in their hosts files for a `--local` service: `host-gateway` (the
    /// engine's host, which is this machine for a local engine), or this machine's address
    /// as the server routes to it, for a remote engine.
    pub local_reach: String,
    /// `io.envctl.owner` of what this plan creates (`crate::owner::current`, `up --owner`).
    pub owner: String,
}

impl<'a> PlanInputs<'a> {
    /// The same inputs with another host-port check (a remote engine's, or one that also
    /// refuses ports the engine would not bind).
    pub fn with_host_free(&self, free: &'a (dyn Fn(u16, Protocol) -> bool + Sync)) -> Self {
        Self {
            range: self.range,
            host_free: free,
            resolve_secret: self.resolve_secret,
            publish_address: self.publish_address.clone(),
            now: self.now.clone(),
            spec_key: self.spec_key.clone(),
            rebuild: self.rebuild,
            local_reach: self.local_reach.clone(),
            owner: self.owner.clone(),
        }
    }
}

impl PlanInputs<'static> {
    /// The real host: bind checks, secrets from the environment and files, ports on all
    /// interfaces, the range from `ENVCTL_PORT_RANGE` (an invalid value is an error).
    pub fn from_host() -> Result<Self, crate::settings::SettingError> {
        Ok(Self {
            range: crate::settings::port_range()?.unwrap_or_default(),
            host_free: &host_port_free,
            resolve_secret: &resolve_secret_from_host,
            publish_address: "0.0.0.0".into(),
            now: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            spec_key: SpecKey::from_host(),
            rebuild: false,
            local_reach: "host-gateway".into(),
            owner: crate::owner::current(),
        })
    }
}

/// One step toward the desired state.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateNetwork {
        name: String,
        labels: Labels,
    },
    CreateVolume {
        name: String,
        labels: Labels,
    },
    PullImage {
        image: String,
        reason: String,
    },
    BuildImage {
        request: BuildRequest,
        reason: String,
    },
    /// A new container (none with this name existed).
    CreateContainer {
        service: ServiceName,
        spec: Box<ContainerSpec>,
    },
    /// Remove the old container and create a new one: its spec changed.
    RecreateContainer {
        service: ServiceName,
        old_id: String,
        spec: Box<ContainerSpec>,
        changed: Vec<String>,
    },
    /// Start an existing, up-to-date container that is not running.
    StartContainer {
        service: ServiceName,
        id: String,
        state: ContainerState,
    },
    /// A container of this instance whose service is no longer defined.
    RemoveOrphan {
        service: String,
        id: String,
        name: String,
    },
    /// Kubernetes: server-side apply of one object of the instance (`kind` as manifests
    /// spell it), because it is missing or changed. The Docker path never plans it and
    /// `apply` ignores it.
    ApplyObject {
        kind: String,
        name: String,
        reason: String,
    },
    /// Kubernetes: delete an object of the instance the definition no longer has
    /// (claims are never pruned: only `down --volumes` removes data).
    DeleteObject {
        kind: String,
        name: String,
    },
}

/// An action as shown to users: what, on which target, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionSummary {
    pub action: &'static str,
    pub target: String,
    pub reason: String,
}

impl Action {
    /// The service this action is for, if any.
    pub fn service(&self) -> Option<&ServiceName> {
        match self {
            Action::CreateContainer { service, .. }
            | Action::RecreateContainer { service, .. }
            | Action::StartContainer { service, .. } => Some(service),
            _ => None,
        }
    }

    pub fn summary(&self) -> ActionSummary {
        let (action, target, reason) = match self {
            Action::CreateNetwork { name, .. } => (
                "create-network",
                name.clone(),
                "network does not exist".into(),
            ),
            Action::CreateVolume { name, .. } => (
                "create-volume",
                name.clone(),
                "volume does not exist".into(),
            ),
            Action::PullImage { image, reason } => ("pull", image.clone(), reason.clone()),
            Action::BuildImage { request, reason } => (
                "build",
                request.tag.clone(),
                format!("{reason}; building {}", request.context.display()),
            ),
            Action::CreateContainer { service, spec } => (
                "create",
                service.to_string(),
                format!("container {} does not exist", spec.name),
            ),
            Action::RecreateContainer {
                service, changed, ..
            } => (
                "recreate",
                service.to_string(),
                format!("changed: {}", changed.join(", ")),
            ),
            Action::StartContainer { service, state, .. } => (
                "start",
                service.to_string(),
                format!("container is {}", state_word(*state)),
            ),
            Action::RemoveOrphan { service, name, .. } => (
                "remove-orphan",
                name.clone(),
                format!("service `{service}` is no longer defined"),
            ),
            Action::ApplyObject { kind, name, reason } => {
                ("apply", format!("{kind}/{name}"), reason.clone())
            }
            Action::DeleteObject { kind, name } => (
                "delete",
                format!("{kind}/{name}"),
                "no longer defined".into(),
            ),
        };
        ActionSummary {
            action,
            target,
            reason,
        }
    }
}

fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Created => "created but never started".into(),
        ContainerState::Exited { code } => format!("exited with code {code}"),
        ContainerState::Paused => "paused".into(),
        ContainerState::Dead => "dead".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl fmt::Display for ActionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.action, self.target, self.reason)
    }
}

/// What `apply` needs to know about every desired service, changed or not.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTarget {
    pub name: ServiceName,
    pub container_name: String,
    pub kind: ServiceKind,
    pub image: String,
    pub depends_on: BTreeMap<ServiceName, Condition>,
    pub healthcheck: Option<HealthCheck>,
    /// Host ports: (container port, protocol) -> host port.
    pub ports: BTreeMap<PortKey, u16>,
    /// The existing container that stays as it is (no create/recreate), if any.
    pub existing_id: Option<String>,
    /// Host paths the container mounts, resolved when the definition loaded; checked again
    /// right before the container is created or started (a symlink may have been swapped in).
    pub bind_sources: Vec<std::path::PathBuf>,
    /// Its `init:` steps, when it has any.
    pub seed: Option<SeedTarget>,
    /// A dubbo probe counts only registrations at this service's own addresses: an
    /// overlay's, whose base registers the same interfaces in the same registry.
    pub own_registrations: bool,
}

/// What seeding one service needs: the steps, their digest, and where the marker goes.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedTarget {
    pub init: crate::model::Init,
    pub digest: String,
    /// The marker file inside the container (see `model::marker_path`).
    pub marker: String,
}

/// The plan for one instance.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub instance: InstanceId,
    pub network: String,
    /// Changes, in order: network, volumes, orphans, images, containers (dependencies first).
    pub actions: Vec<Action>,
    /// Every desired service, in dependency order.
    pub services: Vec<ServiceTarget>,
    /// Allocated host ports that moved because another process took them.
    pub port_moves: Vec<PortMove>,
}

impl Plan {
    /// Converged: nothing to change.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn summaries(&self) -> Vec<ActionSummary> {
        self.actions.iter().map(Action::summary).collect()
    }

    pub fn service(&self, name: &str) -> Option<&ServiceTarget> {
        self.services.iter().find(|s| s.name.as_str() == name)
    }
}

/// Why no plan could be made. Nothing has been touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("container `{name}` (the name of service `{service}`) exists but does not belong to instance `{instance}`{owner}; envctl leaves it untouched: remove or rename it yourself")]
    ForeignContainer {
        name: String,
        service: String,
        instance: String,
        owner: String,
    },
    #[error("network `{name}` exists but was not created by envctl for instance `{instance}`; envctl leaves it untouched: remove or rename it yourself")]
    ForeignNetwork { name: String, instance: String },
    #[error("instance `{instance}` exists as a full copy (it has its own network `{network}`); an overlay cannot replace it in place: `envctl down {env} --feature {feature}` first")]
    FullCopyExists {
        instance: String,
        network: String,
        env: String,
        feature: String,
    },
    #[error("overlay `{overlay}` joins base instance `{base}`, which is not up (its network `{network}` does not exist); run `{up}` first")]
    BaseNotUp {
        overlay: String,
        base: String,
        network: String,
        /// `envctl up ENV [--feature F]` of the base.
        up: String,
    },
    #[error(transparent)]
    NotOurs(#[from] labels::NotOurs),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("service `{service}`: image {image} is not on the engine and `pull: never` forbids pulling it (an engine on another machine gets a copy from this machine's engine when that has it)")]
    ImageMissing { service: String, image: String },
    #[error("service `{service}`: {reason}")]
    BuildInputs { service: String, reason: String },
}

/// Every problem found while planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for PlanErrors {}

/// Plans how to make the engine match `env`. Pure: all I/O comes through `observed`/`inputs`.
pub fn plan(
    env: &Environment,
    observed: &Observed,
    inputs: &PlanInputs<'_>,
) -> Result<Plan, PlanErrors> {
    let mut errors = ownership::errors(env, observed);
    let volumes = ownership::volumes(env, observed, &inputs.now);
    errors.extend(volumes.errors);
    let mut actions = Vec::new();
    if observed.network.is_none() && env.overlay.is_none() {
        let mut labels = instance_labels(env, &inputs.now);
        labels.insert(
            crate::model::labels::OWNER.to_string(),
            inputs.owner.clone(),
        );
        actions.push(Action::CreateNetwork {
            name: env.instance.network_name(),
            labels,
        });
    }
    actions.extend(volumes.actions);
    let (existing, orphans) = split_existing(env, observed);
    actions.extend(orphans);

    let order = env.dependency_order();
    let (allocations, port_moves) =
        match port_plan::allocate_ports(env, observed, &existing, &order, inputs) {
            Ok(allocations) if errors.is_empty() => allocations,
            Ok(_) => return Err(PlanErrors(errors)),
            Err(more) => {
                errors.extend(more);
                return Err(PlanErrors(errors));
            }
        };

    let states = match image_states(env, observed, inputs.rebuild) {
        Ok(states) => states,
        Err(more) => {
            errors.extend(more);
            return Err(PlanErrors(errors));
        }
    };
    let mut container_actions = Vec::new();
    let mut images = images::ImageNeeds::default();
    let mut services = Vec::new();
    for name in &order {
        let service = &env.services[*name];
        let want = match desired(env, service, &allocations, &volumes.names, inputs) {
            Ok(want) => want,
            Err(errs) => {
                errors.extend(errs.into_iter().map(PlanError::from));
                continue;
            }
        };
        let current = existing.get(name.as_str()).copied();
        let state = &states[name.as_str()];
        let mut action = container_action::container_action(
            service,
            current,
            want,
            observed.network.is_none(),
            state,
        );
        if let Some(Action::RecreateContainer { changed, .. }) = &mut action {
            // Say why the ports changed, not only that they did.
            let moves = port_moves.iter().filter(|m| m.service == name.as_str());
            let said: Vec<String> = moves.map(ToString::to_string).collect();
            if !said.is_empty() {
                changed.retain(|c| c != "ports");
                changed.splice(0..0, said);
            }
        }
        if matches!(
            action,
            Some(Action::CreateContainer { .. } | Action::RecreateContainer { .. })
        ) {
            if let Err(err) = images.need(env, service, state, observed, &inputs.now) {
                errors.push(err);
            }
        }
        services.push(ServiceTarget {
            name: (*name).clone(),
            container_name: env.instance.container_name(name),
            kind: service.kind,
            image: service.image.clone(),
            depends_on: service.depends_on.clone(),
            healthcheck: service.healthcheck.clone(),
            ports: allocations.get(*name).cloned().unwrap_or_default(),
            existing_id: match (&action, current) {
                (None | Some(Action::StartContainer { .. }), Some(c)) => Some(c.id.clone()),
                _ => None,
            },
            bind_sources: service
                .volumes
                .iter()
                .filter_map(|v| match &v.source {
                    crate::model::VolumeSource::Bind(path) => Some(path.clone()),
                    crate::model::VolumeSource::Named(_) => None,
                })
                .collect(),
            seed: (!service.init.is_empty()).then(|| SeedTarget {
                init: service.init.clone(),
                digest: service.init.digest(),
                marker: crate::model::marker_path(service),
            }),
            own_registrations: env.overlay.is_some(),
        });
        container_actions.extend(action);
    }
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }
    actions.extend(images.into_actions());
    actions.extend(container_actions);
    Ok(Plan {
        instance: env.instance.clone(),
        network: env.network_name(),
        actions,
        services,
        port_moves,
    })
}

/// The container of each defined service, and removals for everything else of the instance.
fn split_existing<'o>(
    env: &Environment,
    observed: &'o Observed,
) -> (BTreeMap<&'o str, &'o ObservedContainer>, Vec<Action>) {
    let mut existing = BTreeMap::new();
    let mut orphans = Vec::new();
    for c in &observed.containers {
        let service = c.labels.get(labels::SERVICE).map(String::as_str);
        let defined = service.and_then(|s| env.services.keys().find(|k| k.as_str() == s));
        match (service, defined) {
            (Some(s), Some(name)) if env.instance.container_name(name) == c.name => {
                existing.insert(s, c);
            }
            _ => orphans.push(Action::RemoveOrphan {
                service: service.unwrap_or("?").to_string(),
                id: c.id.clone(),
                name: c.name.clone(),
            }),
        }
    }
    (existing, orphans)
}

/// Where each service's image stands. A service without `build:` that names an image another
/// service builds gets that build's state: its container follows the new image at once.
fn image_states<'e>(
    env: &'e Environment,
    observed: &Observed,
    rebuild: bool,
) -> Result<BTreeMap<&'e str, images::ImageState>, Vec<PlanError>> {
    let mut states = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, service) in &env.services {
        match images::assess(service, observed, rebuild) {
            Ok(state) => {
                states.insert(name.as_str(), state);
            }
            Err(err) => errors.push(err),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (name, service) in &env.services {
        if service.build.is_some() {
            continue;
        }
        let builder = env
            .services
            .values()
            .find(|b| b.build.is_some() && b.image == service.image);
        if let Some(builder) = builder {
            if let Some(state @ images::ImageState::Build(_)) = states.get(builder.name.as_str()) {
                let state = state.clone();
                states.insert(name.as_str(), state);
            }
        }
    }
    Ok(states)
}

#[cfg(test)]
mod overlay_tests;
#[cfg(test)]
pub(crate) mod tests;

/// The candidates of a plan's services (what `up` is about to make): their published ports
/// are the plan's host ports (on Kubernetes: node ports).
pub fn registry_candidates(targets: &[ServiceTarget]) -> Vec<crate::dubbo::registry::Candidate> {
    targets
        .iter()
        .map(|s| crate::dubbo::registry::Candidate {
            service: s.name.to_string(),
            probe_port: crate::dubbo::registry::zookeeper_probe(
                s.healthcheck.as_ref().map(|h| &h.probe),
            ),
            template: None,
            image: s.image.clone(),
            published: s
                .ports
                .iter()
                .filter(|((_, proto), _)| *proto == crate::model::Protocol::Tcp)
                .map(|((container, _), host)| (*container, *host))
                .collect(),
        })
        .collect()
}
