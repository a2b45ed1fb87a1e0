//! Images an engine on another machine lacks, fetched before anything is created there:
//! copied from this machine's engine when it has them, else pulled (`Engine::fetch_image`).
//! Up front rather than beside the services as `apply` pulls (`images`): on a server without
//! a registry, an image nobody can give must fail `up` with the engine left untouched, and
//! a copy over a slow link is the long part of the `up` anyway.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::engine::{Engine, EngineError};
use crate::model::{Environment, PullPolicy};

use super::image_progress::ImageReporter;
use super::{EventSink, Interrupt, Phase, UpError};

/// Fetches every image `env`'s services run, do not build and the engine lacks, concurrently,
/// each reported to the services using it. `pull: never` images are only copied (a copy is no
/// pull); one this machine lacks too is left to the planner, which refuses it.
pub async fn fetch_missing_images(
    engine: &dyn Engine,
    env: &Environment,
    sink: &EventSink,
    interrupt: &Interrupt,
) -> Result<(), UpError> {
    let began = Instant::now();
    // Per image: its users, and whether a pull may get it (none of them says `pull: never`).
    let mut users: BTreeMap<&str, (Vec<String>, bool)> = BTreeMap::new();
    for service in env.services.values().filter(|s| s.build.is_none()) {
        let entry = users
            .entry(service.image.as_str())
            .or_insert_with(|| (Vec::new(), true));
        entry.0.push(service.name.to_string());
        entry.1 &= service.pull != PullPolicy::Never;
    }
    let mut missing = Vec::new();
    for (image, (users, may_pull)) in users {
        if engine.inspect_image(image).await?.is_none() {
            missing.push((image, users, may_pull));
        }
    }
    let fetches = missing.iter().map(|(image, users, may_pull)| async move {
        let reporter = ImageReporter::new(image, users.clone(), sink.clone(), began);
        reporter.emit(Phase::Waiting {
            reason: format!("for image {image}, which the engine does not have"),
        });
        let progress = |p| reporter.progress(p);
        // With `pull: never`, a copy or nothing: the planner then refuses the missing image.
        let result = if *may_pull {
            engine.fetch_image(image, &progress).await
        } else {
            engine.copy_image(image, &progress).await.map(|_| ())
        };
        reporter.finish();
        result
    });
    let results = tokio::select! {
        results = join_all(fetches) => results,
        () = interrupt.wait() => {
            let images = missing.iter().map(|(i, _, _)| *i).collect::<Vec<_>>().join(", ");
            return Err(UpError::FetchInterrupted { images });
        }
    };
    let failed: Vec<EngineError> = results.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(UpError::Images(failed))
    }
}
