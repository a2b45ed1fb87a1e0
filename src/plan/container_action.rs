//! What one service's container needs, given the one that exists: nothing, a start, a
//! creation or a recreation (with what changed).

use super::{images, Action, Desired, SpecView, SPEC_LABEL};
use crate::engine::{ContainerState, ObservedContainer};
use crate::model::{labels, ServiceKind};

/// What a service's container needs: nothing, a start, a creation or a recreation.
/// A container whose network is gone cannot start again: it is recreated on the new one; one
/// whose image is rebuilt, pulled or retagged is recreated from the current image.
pub(super) fn container_action(
    service: &crate::model::Service,
    current: Option<&ObservedContainer>,
    want: Desired,
    network_missing: bool,
    image: &images::ImageState,
) -> Option<Action> {
    let name = service.name.clone();
    match current {
        None => Some(Action::CreateContainer {
            service: name,
            spec: Box::new(want.spec),
        }),
        Some(c) if network_missing => Some(Action::RecreateContainer {
            service: name,
            old_id: c.id.clone(),
            changed: vec!["network (it no longer exists)".into()],
            spec: Box::new(want.spec),
        }),
        Some(c) if c.labels.get(labels::SPEC_HASH) != Some(&want.hash) => {
            Some(Action::RecreateContainer {
                service: name,
                old_id: c.id.clone(),
                changed: explain_change(c, &want.view),
                spec: Box::new(want.spec),
            })
        }
        Some(c) if images::recreate_reason(service, image, c).is_some() => {
            Some(Action::RecreateContainer {
                service: name,
                old_id: c.id.clone(),
                changed: images::recreate_reason(service, image, c)
                    .into_iter()
                    .collect(),
                spec: Box::new(want.spec),
            })
        }
        Some(c) if needs_start(service.kind, c.state) => Some(Action::StartContainer {
            service: name,
            id: c.id.clone(),
            state: c.state,
        }),
        Some(_) => None,
    }
}

/// Whether an up-to-date container must be started. A job that finished with 0 is done.
fn needs_start(kind: ServiceKind, state: ContainerState) -> bool {
    !matches!(
        (kind, state),
        (
            _,
            ContainerState::Running | ContainerState::Restarting | ContainerState::Removing
        ) | (ServiceKind::Job, ContainerState::Exited { code: 0 })
    )
}

/// The fields that changed, from the view recorded on the old container.
fn explain_change(old: &ObservedContainer, new: &SpecView) -> Vec<String> {
    match old
        .labels
        .get(SPEC_LABEL)
        .and_then(|j| SpecView::from_json(j))
    {
        Some(view) => {
            let changed = view.changed_fields(new);
            if changed.is_empty() {
                vec!["a secret value".into()]
            } else {
                changed
            }
        }
        None => vec!["spec (the old container records no spec)".into()],
    }
}
