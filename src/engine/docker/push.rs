//! Tagging a local image and pushing it to a registry: how images built on this machine
//! reach a Kubernetes cluster, whose nodes only pull (`kubernetes::registry`).

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;

use crate::engine::{EngineError, EngineResult, ImageProgress, ProgressSink};

use super::connection::{api_err, DockerEngine};
use super::convert::split_reference;

impl DockerEngine {
    /// Gives local image `image` the extra name `target` (`repo[:tag]`, tag `latest` when
    /// none), as `docker tag` does.
    pub async fn tag_image(&self, image: &str, target: &str) -> EngineResult<()> {
        let (repo, tag) = split_reference(target);
        let options = TagImageOptionsBuilder::new().repo(&repo).tag(&tag).build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(api_err(
                &self.endpoint,
                "tag",
                format!("image {image} as {target}"),
            ))
    }

    /// Pushes `image` (`registry/repo:tag`) to the registry its name starts with, as
    /// `docker push` does, reporting each layer. No credentials are sent: a registry that
    /// needs them refuses, and the error says so.
    pub async fn push_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        let (repo, tag) = split_reference(image);
        let options = PushImageOptionsBuilder::new().tag(&tag).build();
        let failed = |reason: String| EngineError::Api {
            context: format!("push image {image}"),
            message: reason,
        };
        let mut stream = self.docker.push_image(&repo, Some(options), None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerStreamError { error } => failed(error),
                BollardError::DockerResponseServerError { message, .. } => failed(message),
                other => api_err(&self.endpoint, "push", format!("image {image}"))(other),
            })?;
            let detail = info.progress_detail.unwrap_or_default();
            progress(ImageProgress::Layer {
                id: String::new(),
                status: info.status.unwrap_or_default(),
                current: detail.current.and_then(|c| u64::try_from(c).ok()),
                total: detail.total.and_then(|t| u64::try_from(t).ok()),
            });
        }
        Ok(())
    }
}
