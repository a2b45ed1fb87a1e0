//! Pulls and builds for `apply`: one task per image, started at once; every service that
//! uses the image hears its progress and waits on its result.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::{Engine, ImageProgress};
use crate::plan::{Action, Plan};

use super::image_progress::ImageReporter;
use super::{Ctx, EventSink, Phase, INTERRUPTED};

/// The result of an image's pull or build; `None` while it runs.
pub(super) type ImageResult = Option<Result<(), ImageFailed>>;

/// Starts one pull or build per image; services wait on the returned channels.
pub(super) fn start_images(
    engine: &Arc<dyn Engine>,
    plan: &Plan,
    sink: &EventSink,
    began: Instant,
) -> BTreeMap<String, watch::Receiver<ImageResult>> {
    let mut images = BTreeMap::new();
    for action in &plan.actions {
        let image = match action {
            Action::PullImage { image, .. } => image.clone(),
            Action::BuildImage { request, .. } => request.tag.clone(),
            _ => continue,
        };
        let users: Vec<String> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::CreateContainer { service, spec }
                | Action::RecreateContainer { service, spec, .. }
                    if spec.image == image =>
                {
                    Some(service.to_string())
                }
                _ => None,
            })
            .collect();
        let (tx, rx) = watch::channel(None);
        images.insert(image.clone(), rx);
        tokio::spawn(run_image(
            engine.clone(),
            action.clone(),
            image,
            users,
            sink.clone(),
            began,
            tx,
        ));
    }
    images
}

/// Pulls or builds one image, reporting progress to every service that uses it.
async fn run_image(
    engine: Arc<dyn Engine>,
    action: Action,
    image: String,
    users: Vec<String>,
    sink: EventSink,
    began: Instant,
    tx: watch::Sender<ImageResult>,
) {
    let reporter = ImageReporter::new(&image, users, sink, began);
    reporter.emit(match &action {
        Action::BuildImage { .. } => Phase::Building {
            image: image.clone(),
            line: "starting".into(),
        },
        _ => Phase::Pulling {
            image: image.clone(),
            progress: "starting".into(),
        },
    });
    let progress = |p: ImageProgress| reporter.progress(p);
    let result = match &action {
        Action::BuildImage { request, .. } => engine.build_image(request, &progress).await,
        // A pull, or a copy from this machine for an engine elsewhere (`Engine::fetch_image`).
        _ => engine.fetch_image(&image, &progress).await,
    };
    reporter.finish();
    let _ = tx.send(Some(result.map_err(|e| ImageFailed::Failed {
        image: image.clone(),
        reason: e.to_string(),
    })));
}

/// Why an image a service needs is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ImageFailed {
    /// The pull or build failed; every service using the image hears the same reason (the
    /// engine's error as text: it is shared by all, and engine errors are not `Clone`).
    #[error("image {image}: {reason}")]
    Failed { image: String, reason: String },
    #[error("{INTERRUPTED} while waiting for image {image}")]
    Interrupted { image: String },
}

/// Waits until the pull or build of `image` (if this `up` makes one) is done.
pub(super) async fn wait_image(ctx: &Ctx, image: &str) -> Result<(), ImageFailed> {
    let Some(rx) = ctx.images.get(image) else {
        return Ok(());
    };
    let mut rx = rx.clone();
    let result = tokio::select! {
        result = rx.wait_for(|r| r.is_some()) => result
            .map(|r| r.clone())
            .unwrap_or_else(|_| Some(Err(ImageFailed::Failed {
                image: image.to_string(),
                reason: "image task ended unexpectedly".into(),
            }))),
        () = ctx.interrupt.wait() => {
            return Err(ImageFailed::Interrupted { image: image.to_string() })
        }
    };
    match result {
        Some(Err(failed)) => Err(failed),
        _ => Ok(()),
    }
}
