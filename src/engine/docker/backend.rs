//! `Engine` for Docker: each call made with bollard and converted at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    EventsOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::stream::{BoxStream, StreamExt};

use crate::engine::{
    Archive, BuildRequest, ContainerEvent, ContainerRuntime, ContainerSpec, Engine, EngineError,
    EngineInfo, EngineResult, ExecOutput, ImageProgress, LabelFilter, Labels, ObservedContainer,
    ObservedImage, ObservedNetwork, ObservedVolume, ProgressSink,
};

use super::connection::*;
use super::convert::*;

#[async_trait]
impl Engine for DockerEngine {
    async fn info(&self) -> EngineResult<EngineInfo> {
        let version = self.docker.version().await.map_err(api_err(
            &self.endpoint,
            "query version of",
            "the engine",
        ))?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            endpoint: self.endpoint.clone(),
        })
    }

    async fn list_containers(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedContainer>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(filter))
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(api_err(&self.endpoint, "list", "containers"))?;
        Ok(list.into_iter().map(summary_to_observed).collect())
    }

    async fn find_container(&self, name: &str) -> EngineResult<Option<ObservedContainer>> {
        // The engine's name filter matches substrings (as a regex); anchor it and check exactly.
        let filters = HashMap::from([("name".to_string(), vec![format!("^/{name}$")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(api_err(&self.endpoint, "find container", name))?;
        Ok(list
            .into_iter()
            .map(summary_to_observed)
            .find(|c| c.name == name))
    }

    async fn inspect_container(&self, id: &str) -> EngineResult<ObservedContainer> {
        let resp = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(api_err(
                &self.endpoint,
                "inspect",
                format!("container {id}"),
            ))?;
        Ok(inspect_to_observed(resp))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let what = format!("container {}", spec.name);
        let resp = self
            .docker
            .create_container(Some(options), create_body(spec))
            .await
            .map_err(|e| match e {
                // A missing image is a 404 too; say which one.
                BollardError::DockerResponseServerError {
                    status_code: 404,
                    message,
                } => EngineError::NotFound {
                    what: format!("image {} ({message})", spec.image),
                },
                other => api_err(&self.endpoint, "create", what)(other),
            })?;
        Ok(resp.id)
    }

    async fn start_container(&self, id: &str) -> EngineResult<()> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(api_err(&self.endpoint, "start", format!("container {id}")))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> EngineResult<()> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(secs).build();
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(api_err(&self.endpoint, "stop", format!("container {id}")))
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        self.docker
            .remove_container(id, Some(options))
            .await
            .map_err(api_err(&self.endpoint, "remove", format!("container {id}")))
    }

    async fn wait_container(&self, id: &str) -> EngineResult<i64> {
        loop {
            let mut stream = self.docker.wait_container(id, None::<WaitContainerOptions>);
            match stream.next().await {
                Some(Ok(resp)) => return Ok(resp.status_code),
                // bollard reports a non-zero exit as this error; it is an answer, not a failure.
                Some(Err(BollardError::DockerContainerWaitError { code, .. })) => return Ok(code),
                // The client's request timeout hit a long-running container: wait again.
                Some(Err(BollardError::RequestTimeoutError)) => continue,
                Some(Err(e)) => {
                    return Err(api_err(
                        &self.endpoint,
                        "wait for",
                        format!("container {id}"),
                    )(e))
                }
                None => {
                    return Err(EngineError::Api {
                        context: format!("wait for container {id}"),
                        message: "the engine closed the stream without an exit code".into(),
                    })
                }
            }
        }
    }

    async fn logs(&self, id: &str, tail: usize) -> EngineResult<Vec<String>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail_arg(tail))
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(api_err(
                &self.endpoint,
                "read logs of",
                format!("container {id}"),
            ))?;
            lines.extend(splitter.push(chunk));
        }
        lines.extend(splitter.finish());
        Ok(lines)
    }

    fn follow_logs(&self, id: &str, tail: usize) -> BoxStream<'static, EngineResult<String>> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail(&tail_arg(tail))
            .build();
        let id = id.to_string();
        let endpoint = std::sync::Arc::new(self.endpoint.clone());
        let chunks = self.docker.logs(&id, Some(options));
        futures_util::stream::unfold(
            (chunks.boxed(), Some(LineSplitter::default()), id),
            move |(mut chunks, mut splitter, id)| {
                let endpoint = endpoint.clone();
                async move {
                    let split = splitter.as_mut()?;
                    match chunks.next().await {
                        Some(Ok(chunk)) => {
                            let lines: Vec<EngineResult<String>> =
                                split.push(chunk).into_iter().map(Ok).collect();
                            Some((lines, (chunks, splitter, id)))
                        }
                        Some(Err(e)) => {
                            let err =
                                api_err(&endpoint, "follow logs of", format!("container {id}"))(e);
                            Some((vec![Err(err)], (chunks, None, id)))
                        }
                        None => {
                            let rest = splitter.take()?.finish().into_iter().map(Ok).collect();
                            Some((rest, (chunks, None, id)))
                        }
                    }
                }
            },
        )
        .flat_map(futures_util::stream::iter)
        .boxed()
    }

    async fn exec(&self, id: &str, cmd: &[String]) -> EngineResult<ExecOutput> {
        let exec_id = self.create_exec(id, cmd).await?;
        self.run_exec(id, &exec_id).await
    }

    async fn upload(&self, id: &str, dir: &str, archive: Archive) -> EngineResult<()> {
        self.upload_archive(id, dir, archive).await
    }

    async fn exec_bounded(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> EngineResult<Option<ExecOutput>> {
        self.exec_with_timeout(id, cmd, timeout).await
    }

    async fn list_networks(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedNetwork>> {
        let options = ListNetworksOptionsBuilder::new()
            .filters(&label_filters(filter))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(api_err(&self.endpoint, "list", "networks"))?;
        Ok(list
            .into_iter()
            .map(|n| ObservedNetwork {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: to_labels(n.labels),
            })
            .collect())
    }

    async fn find_network(&self, name: &str) -> EngineResult<Option<ObservedNetwork>> {
        // Like containers, the name filter matches substrings.
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(api_err(&self.endpoint, "find network", name))?;
        Ok(list
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .map(|n| ObservedNetwork {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: to_labels(n.labels),
            }))
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> EngineResult<String> {
        // Engine 20.10 creates a second network with the same name unless asked not to, and
        // newer APIs dropped the flag: check ourselves.
        if self.find_network(name).await?.is_some() {
            return Err(EngineError::Conflict {
                what: format!("network {name}"),
            });
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let resp = self.docker.create_network(request).await.map_err(api_err(
            &self.endpoint,
            "create",
            format!("network {name}"),
        ))?;
        Ok(resp.id)
    }

    async fn remove_network(&self, id: &str) -> EngineResult<()> {
        self.docker.remove_network(id).await.map_err(api_err(
            &self.endpoint,
            "remove",
            format!("network {id}"),
        ))
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedVolume>> {
        let options = ListVolumesOptionsBuilder::new()
            .filters(&label_filters(filter))
            .build();
        let resp = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(api_err(&self.endpoint, "list", "volumes"))?;
        Ok(resp
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ObservedVolume {
                name: v.name,
                labels: v.labels.into_iter().collect(),
            })
            .collect())
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> EngineResult<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let volume = self.docker.create_volume(request).await.map_err(api_err(
            &self.endpoint,
            "create",
            format!("volume {name}"),
        ))?;
        // The engine answers a volume that already exists as if it had just made it: one made
        // by someone else since `plan` looked must not be taken over.
        let found: Labels = volume.labels.into_iter().collect();
        if !crate::engine::same_owner(labels, &found) {
            return Err(EngineError::Conflict {
                what: format!("volume {name} (with other owners' labels)"),
            });
        }
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        self.docker
            .remove_volume(name, Some(options))
            .await
            .map_err(api_err(&self.endpoint, "remove", format!("volume {name}")))
    }

    async fn inspect_image(&self, image: &str) -> EngineResult<Option<ObservedImage>> {
        match self.docker.inspect_image(image).await {
            Ok(found) => Ok(Some(ObservedImage {
                id: found.id.unwrap_or_default(),
                labels: to_labels(found.config.and_then(|c| c.labels)),
            })),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(api_err(&self.endpoint, "inspect", format!("image {image}"))(e)),
        }
    }

    async fn container_runtime(&self, id: &str) -> EngineResult<ContainerRuntime> {
        let resp = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(api_err(
                &self.endpoint,
                "inspect",
                format!("container {id}"),
            ))?;
        Ok(runtime(&resp))
    }

    async fn pull_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        let (from_image, tag) = split_reference(image);
        let mut builder = CreateImageOptionsBuilder::new().from_image(&from_image);
        if !tag.is_empty() {
            builder = builder.tag(&tag);
        }
        let pull_err = |reason: String| EngineError::Pull {
            image: image.to_string(),
            reason,
        };
        let mut stream = self.docker.create_image(Some(builder.build()), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerResponseServerError { message, .. } => pull_err(message),
                BollardError::DockerStreamError { error } => pull_err(error),
                other => pull_err(other.to_string()),
            })?;
            if let Some(detail) = info.error_detail {
                return Err(pull_err(detail.message.unwrap_or_default()));
            }
            let detail = info.progress_detail.unwrap_or_default();
            progress(ImageProgress::Layer {
                id: info.id.unwrap_or_default(),
                status: info.status.unwrap_or_default(),
                current: detail.current.and_then(|c| u64::try_from(c).ok()),
                total: detail.total.and_then(|t| u64::try_from(t).ok()),
            });
        }
        Ok(())
    }

    async fn fetch_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        self.fetch(image, progress).await
    }

    async fn copy_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<bool> {
        Ok(self.copy_from_here(image, progress).await?.is_ok())
    }

    async fn build_image(
        &self,
        req: &BuildRequest,
        progress: ProgressSink<'_>,
    ) -> EngineResult<()> {
        let build_err = |reason: String| EngineError::Build {
            image: req.tag.clone(),
            reason,
        };
        let (context, dockerfile) = (req.context.clone(), req.dockerfile.clone());
        let archive = tokio::task::spawn_blocking(move || tar_context(&context, &dockerfile))
            .await
            .map_err(|e| build_err(e.to_string()))?
            .map_err(|e| {
                build_err(format!(
                    "cannot archive the context {}: {e}",
                    req.context.display()
                ))
            })?;
        let args: HashMap<String, String> = req.args.clone().into_iter().collect();
        let labels: HashMap<String, String> = req.labels.clone().into_iter().collect();
        let options = BuildImageOptionsBuilder::new()
            .dockerfile(&req.dockerfile)
            .t(&req.tag)
            .rm(true)
            // A failed step leaves its container behind unless forced: leave the engine as found.
            .forcerm(true)
            .buildargs(&args)
            .labels(&labels)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(archive.into())));
        let mut last_line = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                BollardError::DockerResponseServerError { message, .. } => build_err(message),
                BollardError::DockerStreamError { error } => build_err(error),
                other => build_err(other.to_string()),
            })?;
            if let Some(detail) = info.error_detail {
                let message = detail.message.unwrap_or_default();
                return Err(build_err(if last_line.is_empty() {
                    message
                } else {
                    format!("{message} (after: {last_line})")
                }));
            }
            for text in [info.stream, info.status].into_iter().flatten() {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    last_line = line.to_string();
                    progress(ImageProgress::Line(line.to_string()));
                }
            }
        }
        Ok(())
    }

    fn container_events(
        &self,
        filter: &LabelFilter,
    ) -> BoxStream<'static, EngineResult<ContainerEvent>> {
        let mut filters = label_filters(filter);
        filters.insert("type".to_string(), vec!["container".to_string()]);
        // The request goes out when the stream is first polled; `since` pins "from now on" to
        // this call, so events between the call and the first poll are not lost.
        let now = chrono::Utc::now();
        let since = format!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos());
        let options = EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build();
        let endpoint = self.endpoint.clone();
        self.docker
            .events(Some(options))
            .map(move |item| {
                let message = item.map_err(api_err(&endpoint, "watch", "container events"))?;
                let actor = message.actor.unwrap_or_default();
                let labels: BTreeMap<String, String> = actor
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| !EVENT_ATTRIBUTES.contains(&k.as_str()))
                    .collect();
                Ok(ContainerEvent {
                    container_id: actor.id.unwrap_or_default(),
                    action: message.action.unwrap_or_default(),
                    labels,
                })
            })
            .boxed()
    }
}
