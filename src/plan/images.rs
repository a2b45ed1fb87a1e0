//! Whether each service's image is what the definition asks for: present, built from the
//! current inputs, and the one its container runs. Decides builds, pulls and the recreations
//! they cause, each with a reason.

use std::collections::BTreeMap;

use crate::engine::{BuildRequest, ObservedContainer};
use crate::model::{Environment, PullPolicy, Service};

use super::build_inputs::BUILD_INPUTS_LABEL;
use super::{instance_labels, Action, Observed, PlanError};

/// Where a service's image stands before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ImageState {
    /// Present and current: its ID.
    Ready(String),
    /// To be built first, and why.
    Build(String),
    /// To be pulled first, and why.
    Pull(String),
    /// Not present and `pull: never`.
    Missing,
}

/// The state of `service`'s image. `rebuild`: `up --build` asked for a fresh build.
pub(super) fn assess(
    service: &Service,
    observed: &Observed,
    rebuild: bool,
) -> Result<ImageState, PlanError> {
    let image = observed.images.get(&service.image);
    let Some(_) = &service.build else {
        return Ok(match (image, service.pull) {
            (Some(found), _) => ImageState::Ready(found.id.clone()),
            (None, PullPolicy::Never) => ImageState::Missing,
            (None, _) => ImageState::Pull("not present locally".into()),
        });
    };
    let digest = match observed.build_inputs.get(&service.image) {
        Some(Ok(digest)) => digest,
        Some(Err(reason)) => {
            return Err(PlanError::BuildInputs {
                service: service.name.to_string(),
                reason: reason.to_string(),
            })
        }
        None => {
            return Err(PlanError::BuildInputs {
                service: service.name.to_string(),
                reason: "its build inputs were not read".into(),
            })
        }
    };
    let Some(found) = image else {
        return Ok(ImageState::Build("image not present locally".into()));
    };
    if rebuild {
        return Ok(ImageState::Build("--build".into()));
    }
    let recorded = found
        .labels
        .get(BUILD_INPUTS_LABEL)
        .and_then(|l| super::BuildDigest::from_label(l));
    Ok(match recorded {
        None => ImageState::Build("the image records no build inputs".into()),
        Some(old) => {
            let changes = digest.changes_since(&old);
            if changes.is_empty() {
                ImageState::Ready(found.id.clone())
            } else {
                ImageState::Build(changes.join(", "))
            }
        }
    })
}

/// Why an existing, otherwise unchanged container must be recreated for its image, if so.
pub(super) fn recreate_reason(
    service: &Service,
    state: &ImageState,
    container: &ObservedContainer,
) -> Option<String> {
    let image = &service.image;
    match state {
        ImageState::Build(why) => Some(format!("image {image} is rebuilt ({why})")),
        ImageState::Pull(why) => Some(format!("image {image} is pulled ({why})")),
        // Nothing can be done without the image; the container keeps running what it has.
        ImageState::Missing => None,
        ImageState::Ready(id) if !container.image_id.is_empty() && &container.image_id != id => {
            Some(format!(
                "image {image} is now {} (the container runs {})",
                short(id),
                short(&container.image_id)
            ))
        }
        ImageState::Ready(_) => None,
    }
}

/// `sha256:0123456789ab`.
fn short(id: &str) -> &str {
    let end = id.find(':').map_or(0, |i| i + 1) + 12;
    &id[..id.len().min(end)]
}

/// Images that containers about to be created need, each pulled or built once.
#[derive(Default)]
pub(super) struct ImageNeeds {
    pulls: BTreeMap<String, String>,
    builds: BTreeMap<String, (BuildRequest, String)>,
}

impl ImageNeeds {
    pub(super) fn need(
        &mut self,
        env: &Environment,
        service: &Service,
        state: &ImageState,
        observed: &Observed,
        now: &str,
    ) -> Result<(), PlanError> {
        let image = &service.image;
        match (state, &service.build) {
            (ImageState::Build(reason), Some(build)) => {
                let mut labels = instance_labels(env, now);
                if let Some(Ok(digest)) = observed.build_inputs.get(image) {
                    labels.insert(BUILD_INPUTS_LABEL.to_string(), digest.to_label());
                }
                self.builds.entry(image.clone()).or_insert_with(|| {
                    let request = BuildRequest {
                        tag: image.clone(),
                        context: build.context.clone(),
                        dockerfile: build.dockerfile.clone(),
                        args: build.args.clone(),
                        labels,
                    };
                    (request, reason.clone())
                });
            }
            (ImageState::Missing, _) => {
                return Err(PlanError::ImageMissing {
                    service: service.name.to_string(),
                    image: image.clone(),
                })
            }
            (ImageState::Pull(reason), None) => {
                self.pulls.insert(image.clone(), reason.clone());
            }
            (_, None) if service.pull == PullPolicy::Always => {
                self.pulls
                    .entry(image.clone())
                    .or_insert_with(|| "pull: always".into());
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn into_actions(mut self) -> impl Iterator<Item = Action> {
        // An image built for one service serves every other service that names it.
        self.pulls
            .retain(|image, _| !self.builds.contains_key(image));
        let builds = self
            .builds
            .into_values()
            .map(|(request, reason)| Action::BuildImage { request, reason });
        let pulls = self
            .pulls
            .into_iter()
            .map(|(image, reason)| Action::PullImage { image, reason });
        builds.chain(pulls)
    }
}
