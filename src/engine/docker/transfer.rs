//! Copying an image to an engine on another machine that lacks it, from this machine's own
//! engine (issue 14: teams whose images are built locally have no registry between the two).
//! `GET /images/{name}/get` here is streamed chunk by chunk into `POST /images/load` there, so
//! the archive is never held whole in memory; progress is bytes sent of the image's size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::ImportImageOptionsBuilder;
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::engine::target::EngineTarget;
use crate::engine::{Engine, EngineError, EngineResult, ImageProgress, ProgressSink};

use super::connection::{api_err, DockerEngine};

/// How often a copy reports its progress and is checked for a stall.
const TICK: Duration = Duration::from_millis(250);
/// The load request's own deadline. The engine answers only once it has the whole archive,
/// which on a slow link takes longer than `REQUEST_TIMEOUT`; the copy is bounded by its stall
/// check instead (no byte moved and no word from the engine for `stall_window`, by default
/// `REQUEST_TIMEOUT`).
const LOAD_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl DockerEngine {
    /// Images this engine lacks are copied from `source` (this machine's engine) when it has
    /// them, instead of pulled (see `fetch`).
    pub fn with_image_source(mut self, source: EngineTarget) -> Self {
        self.image_source = Some(source);
        self
    }

    /// A copy fails once nothing has moved for `window` (default: `REQUEST_TIMEOUT`, as any
    /// request; shorter in tests, so a silent link is found in seconds).
    pub fn with_stall_window(mut self, window: Duration) -> Self {
        self.stall_window = window;
        self
    }

    /// `Engine::fetch_image`: a copy from the image source when the engine lacks `image` and
    /// the source has it, else a pull; with a source, a failed pull says where else it looked.
    pub(super) async fn fetch(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        // `pull: always` re-pulls an image the engine has; only a missing one is copied.
        if self.image_source.is_none() || self.inspect_image(image).await?.is_some() {
            return self.pull_image(image, progress).await;
        }
        let why_not_here = match self.copy_from_here(image, progress).await? {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        self.pull_image(image, progress)
            .await
            .map_err(|e| EngineError::Unavailable {
                image: image.to_string(),
                engine: self.endpoint.clone(),
                here: why_not_here,
                reason: match e {
                    EngineError::Pull { reason, .. } => reason,
                    other => other.to_string(),
                },
            })
    }

    /// Copies `image` from the image source: `Err` says why it could not (no source, the
    /// source is down or absent, e.g. a machine without Docker, or lacks the image); a copy
    /// that started and failed is the outer error.
    pub(super) async fn copy_from_here(
        &self,
        image: &str,
        progress: ProgressSink<'_>,
    ) -> EngineResult<Result<(), String>> {
        let Some(target) = &self.image_source else {
            return Ok(Err("no image source".into()));
        };
        let why_not = match DockerEngine::connect_to(target).await {
            Ok(source) => match source.image_size(image).await {
                Ok(Some(size)) => {
                    self.copy_from(&source, image, size, progress).await?;
                    return Ok(Ok(()));
                }
                Ok(None) => "no such image".to_string(),
                Err(e) => e.to_string(),
            },
            // Its own advice (start it, set DOCKER_HOST) is beside the point here.
            Err(EngineError::Unreachable { .. }) => "not running or not reachable".to_string(),
            Err(e) => e.to_string(),
        };
        Ok(Err(format!("{}: {why_not}", target.url_text())))
    }

    /// The size of local image `image` in bytes, `None` when there is none.
    async fn image_size(&self, image: &str) -> EngineResult<Option<u64>> {
        match self.docker.inspect_image(image).await {
            Ok(found) => Ok(Some(
                found.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            )),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(api_err(&self.endpoint, "inspect", format!("image {image}"))(e)),
        }
    }

    /// Streams `image` from `source` into this engine, reporting bytes sent every `TICK`.
    async fn copy_from(
        &self,
        source: &DockerEngine,
        image: &str,
        size: u64,
        progress: ProgressSink<'_>,
    ) -> EngineResult<()> {
        let report = |sent: u64| {
            progress(ImageProgress::Copy {
                sent,
                total: size.max(sent),
            })
        };
        report(0);
        let sent = Arc::new(AtomicU64::new(0));
        // A failed export ends the upload with a transport error; keep the export's own words.
        let export_failed = Arc::new(Mutex::new(None::<String>));
        let archive = {
            let (sent, export_failed) = (sent.clone(), export_failed.clone());
            let from = source.endpoint.clone();
            source.docker.export_image(image).map(move |chunk| {
                match &chunk {
                    Ok(bytes) => {
                        sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let mut slot = export_failed.lock().unwrap_or_else(|p| p.into_inner());
                        *slot = Some(format!("reading it from {from}: {e}"));
                    }
                }
                chunk
            })
        };
        let options = ImportImageOptionsBuilder::new().quiet(false).build();
        let loader = self.docker.clone().with_timeout(LOAD_TIMEOUT);
        let mut answers = loader.import_image_stream(options, archive, None);
        let failed = |reason: String| EngineError::Api {
            context: format!("copy image {image} to the engine at {}", self.endpoint),
            message: reason,
        };
        let mut tick = tokio::time::interval(TICK);
        let (mut last_sent, mut last_moved) = (0, Instant::now());
        loop {
            tokio::select! {
                answer = answers.next() => match answer {
                    None => break,
                    // The engine reports loading each layer: it is at work.
                    Some(Ok(_)) => last_moved = Instant::now(),
                    Some(Err(e)) => {
                        let export = export_failed.lock().unwrap_or_else(|p| p.into_inner()).take();
                        return Err(match (export, e) {
                            (Some(reason), _) => failed(reason),
                            (None, BollardError::DockerStreamError { error }) => failed(error),
                            (None, other) => api_err(
                                &self.endpoint,
                                "copy",
                                format!("image {image} to the engine"),
                            )(other),
                        });
                    }
                },
                _ = tick.tick() => {
                    let now = sent.load(Ordering::Relaxed);
                    if now != last_sent {
                        (last_sent, last_moved) = (now, Instant::now());
                        report(now);
                    } else if last_moved.elapsed() > self.stall_window {
                        return Err(EngineError::Unreachable {
                            endpoint: self.endpoint.clone(),
                            reason: format!(
                                "copying image {image}: nothing moved for {}s ({now} bytes sent)",
                                self.stall_window.as_secs_f64()
                            ),
                        });
                    }
                }
            }
        }
        report(sent.load(Ordering::Relaxed));
        // An archive of an image named by digest loads untagged: the name would not resolve.
        match self.inspect_image(image).await? {
            Some(_) => Ok(()),
            None => Err(failed(format!(
                "the engine loaded the archive but has no image named {image} (an image named \
                 by digest loses its name in a copy); tag it by name, or push it to a registry"
            ))),
        }
    }
}
