//! In-memory engine for unit tests of the planner and the scheduler.
//!
//! It keeps containers, networks, volumes and images in a map, counts every write, and lets a
//! test inject failures, job exit codes and health-probe answers. It is never a substitute for
//! the end-to-end tests against the real engine.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};

use super::*;

/// A container as the fake keeps it.
#[derive(Debug, Clone)]
pub struct FakeContainer {
    pub id: String,
    pub spec: ContainerSpec,
    pub state: ContainerState,
    pub ip: String,
    pub created: i64,
    /// The ID its image had when it was created.
    pub image_id: String,
}

#[derive(Debug, Default)]
struct State {
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, ObservedNetwork>,
    volumes: BTreeMap<String, ObservedVolume>,
    /// Local images: name -> (ID, labels). Each pull or build makes a new ID.
    images: BTreeMap<String, ObservedImage>,
    /// Operations that fail, keyed by `op:target` (e.g. `start:shop-db`, `pull:redis:7`).
    failures: BTreeMap<String, String>,
    /// Like `failures`, but each fails only once.
    failures_once: BTreeMap<String, String>,
    /// Exit codes of containers by name, reported when they are waited on.
    exit_codes: BTreeMap<String, i64>,
    /// How many exec calls on a container (by name) fail before one succeeds; `u32::MAX`: never.
    exec_failures: BTreeMap<String, u32>,
    /// Log lines by container name.
    logs: BTreeMap<String, Vec<String>>,
    /// Every write, in order (`create:NAME`, `start:NAME`, ...).
    journal: Vec<String>,
    next_id: u64,
}

impl State {
    /// The name of container `id`, or the engine's NotFound.
    fn container_name(&self, id: &str) -> EngineResult<String> {
        self.containers
            .get(id)
            .map(|c| c.spec.name.clone())
            .ok_or_else(|| not_found(&format!("container {id}")))
    }
}

/// The in-memory engine.
#[derive(Debug, Default)]
pub struct FakeEngine {
    state: Mutex<State>,
    writes: AtomicUsize,
}

impl FakeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes an image available locally.
    pub fn add_image(&self, image: &str) {
        let mut st = self.lock();
        put_image(&mut st, image, Labels::new());
    }

    /// Makes `op` on `target` fail (`op`: create, start, remove, pull, build, network, volume).
    pub fn fail(&self, op: &str, target: &str, message: &str) {
        self.lock()
            .failures
            .insert(format!("{op}:{target}"), message.to_string());
    }

    /// Makes `op` on `target` fail once, then succeed.
    pub fn fail_once(&self, op: &str, target: &str, message: &str) {
        self.lock()
            .failures_once
            .insert(format!("{op}:{target}"), message.to_string());
    }

    /// Forgets every injected failure.
    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    /// The exit code a container reports when waited on (default: it keeps running).
    pub fn set_exit_code(&self, container_name: &str, code: i64) {
        self.lock()
            .exit_codes
            .insert(container_name.to_string(), code);
    }

    /// Exec calls on this container fail `times` times before succeeding.
    pub fn fail_exec(&self, container_name: &str, times: u32) {
        self.lock()
            .exec_failures
            .insert(container_name.to_string(), times);
    }

    pub fn set_logs(&self, container_name: &str, lines: &[&str]) {
        self.lock().logs.insert(
            container_name.to_string(),
            lines.iter().map(|l| l.to_string()).collect(),
        );
    }

    /// Puts a container in place as if someone else had made it (labels decide whose it is).
    pub fn insert_container(&self, spec: ContainerSpec, state: ContainerState) -> String {
        let mut st = self.lock();
        let id = next_id(&mut st);
        let ip = format!("10.0.0.{}", st.next_id);
        st.containers.insert(
            id.clone(),
            FakeContainer {
                id: id.clone(),
                spec,
                state,
                ip,
                created: 0,
                image_id: String::new(),
            },
        );
        id
    }

    /// Changes a container's state, e.g. to simulate a crash or a stop.
    pub fn set_state(&self, container_name: &str, state: ContainerState) {
        let mut st = self.lock();
        if let Some(c) = st
            .containers
            .values_mut()
            .find(|c| c.spec.name == container_name)
        {
            c.state = state;
        }
    }

    /// Number of writes (creates, starts, stops, removals, pulls, builds) so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Every write so far, in order.
    pub fn journal(&self) -> Vec<String> {
        self.lock().journal.clone()
    }

    pub fn container(&self, name: &str) -> Option<FakeContainer> {
        self.lock()
            .containers
            .values()
            .find(|c| c.spec.name == name)
            .cloned()
    }

    pub fn container_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .lock()
            .containers
            .values()
            .map(|c| c.spec.name.clone())
            .collect();
        names.sort();
        names
    }

    pub fn network_names(&self) -> Vec<String> {
        self.lock().networks.keys().cloned().collect()
    }

    pub fn volume_names(&self) -> Vec<String> {
        self.lock().volumes.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a write, failing it when a failure was injected for it.
    fn write(&self, st: &mut State, op: &str, target: &str) -> EngineResult<()> {
        let key = format!("{op}:{target}");
        let injected = st
            .failures
            .get(&key)
            .cloned()
            .or_else(|| st.failures_once.remove(&key));
        if let Some(message) = injected {
            return Err(EngineError::Api {
                context: format!("{op} {target}"),
                message,
            });
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        st.journal.push(format!("{op}:{target}"));
        Ok(())
    }
}

/// Stores `image` under a new ID, as a pull or build that changed it would.
fn put_image(st: &mut State, image: &str, labels: Labels) {
    st.next_id += 1;
    let id = format!("sha256:fake{:08}", st.next_id);
    st.images
        .insert(image.to_string(), ObservedImage { id, labels });
}

fn next_id(st: &mut State) -> String {
    st.next_id += 1;
    format!("fake{:08}", st.next_id)
}

fn matches(filter: &LabelFilter, labels: &Labels) -> bool {
    filter.0.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
        None => labels.contains_key(f),
    })
}

fn observe(c: &FakeContainer) -> ObservedContainer {
    ObservedContainer {
        id: c.id.clone(),
        name: c.spec.name.clone(),
        image: c.spec.image.clone(),
        image_id: c.image_id.clone(),
        labels: c.spec.labels.clone(),
        state: c.state,
        ports: if c.state.is_running() {
            c.spec.ports.clone()
        } else {
            Vec::new()
        },
        ips: if c.state.is_running() {
            BTreeMap::from([(c.spec.network.clone(), c.ip.clone())])
        } else {
            BTreeMap::new()
        },
        created: c.created,
    }
}

fn not_found(what: &str) -> EngineError {
    EngineError::NotFound {
        what: what.to_string(),
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn info(&self) -> EngineResult<EngineInfo> {
        Ok(EngineInfo {
            version: "fake".into(),
            api_version: "1.41".into(),
            endpoint: "memory".into(),
        })
    }

    async fn list_containers(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedContainer>> {
        Ok(self
            .lock()
            .containers
            .values()
            .filter(|c| matches(filter, &c.spec.labels))
            .map(observe)
            .collect())
    }

    async fn find_container(&self, name: &str) -> EngineResult<Option<ObservedContainer>> {
        Ok(self
            .lock()
            .containers
            .values()
            .find(|c| c.spec.name == name)
            .map(observe))
    }

    async fn inspect_container(&self, id: &str) -> EngineResult<ObservedContainer> {
        self.lock()
            .containers
            .get(id)
            .map(observe)
            .ok_or_else(|| not_found(&format!("container {id}")))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> EngineResult<String> {
        let mut st = self.lock();
        self.write(&mut st, "create", &spec.name)?;
        if st.containers.values().any(|c| c.spec.name == spec.name) {
            return Err(EngineError::Conflict {
                what: format!("container {}", spec.name),
            });
        }
        let Some(image_id) = st.images.get(&spec.image).map(|i| i.id.clone()) else {
            return Err(not_found(&format!("image {}", spec.image)));
        };
        if !st.networks.contains_key(&spec.network) {
            return Err(not_found(&format!("network {}", spec.network)));
        }
        let id = next_id(&mut st);
        let ip = format!("10.0.0.{}", st.next_id);
        let created = st.next_id as i64;
        st.containers.insert(
            id.clone(),
            FakeContainer {
                id: id.clone(),
                spec: spec.clone(),
                state: ContainerState::Created,
                ip,
                created,
                image_id,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> EngineResult<()> {
        let mut st = self.lock();
        let name = st.container_name(id)?;
        self.write(&mut st, "start", &name)?;
        let code = st.exit_codes.get(&name).copied();
        let c = st.containers.get_mut(id).expect("checked above");
        c.state = match code {
            Some(code) => ContainerState::Exited { code },
            None => ContainerState::Running,
        };
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout: Duration) -> EngineResult<()> {
        let mut st = self.lock();
        let name = st.container_name(id)?;
        self.write(&mut st, "stop", &name)?;
        if let Some(c) = st.containers.get_mut(id) {
            c.state = ContainerState::Exited { code: 137 };
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> EngineResult<()> {
        let mut st = self.lock();
        let name = st.container_name(id)?;
        self.write(&mut st, "remove", &name)?;
        st.containers.remove(id);
        Ok(())
    }

    async fn wait_container(&self, id: &str) -> EngineResult<i64> {
        let st = self.lock();
        let c = st
            .containers
            .get(id)
            .ok_or_else(|| not_found(&format!("container {id}")))?;
        match c.state {
            ContainerState::Exited { code } => Ok(code),
            _ => Err(EngineError::Api {
                context: format!("wait {}", c.spec.name),
                message: "the fake cannot wait for a running container".into(),
            }),
        }
    }

    async fn logs(&self, id: &str, tail: usize) -> EngineResult<Vec<String>> {
        let st = self.lock();
        let name = st.container_name(id)?;
        let lines = st.logs.get(&name).cloned().unwrap_or_default();
        let skip = lines.len().saturating_sub(tail);
        Ok(lines.into_iter().skip(skip).collect())
    }

    fn follow_logs(&self, id: &str, tail: usize) -> BoxStream<'static, EngineResult<String>> {
        let st = self.lock();
        let lines = st
            .containers
            .get(id)
            .and_then(|c| st.logs.get(&c.spec.name).cloned())
            .unwrap_or_default();
        let skip = lines.len().saturating_sub(tail);
        stream::iter(lines.into_iter().skip(skip).map(Ok)).boxed()
    }

    async fn upload(&self, id: &str, _dir: &str, archive: Archive) -> EngineResult<()> {
        self.lock().container_name(id)?;
        // Read it all, as the engine would: an error item fails the upload.
        let chunks: Vec<std::io::Result<Vec<u8>>> = archive.chunks.collect().await;
        for chunk in chunks {
            chunk.map_err(|e| EngineError::Api {
                context: format!("copy files into container {id}"),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    async fn exec(&self, id: &str, _cmd: &[String]) -> EngineResult<ExecOutput> {
        let mut st = self.lock();
        let name = st.container_name(id)?;
        let exit_code = match st.exec_failures.get_mut(&name) {
            Some(left) if *left == u32::MAX => 1,
            Some(left) if *left > 0 => {
                *left -= 1;
                1
            }
            _ => 0,
        };
        Ok(ExecOutput {
            exit_code,
            output: String::new(),
        })
    }

    async fn list_networks(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedNetwork>> {
        Ok(self
            .lock()
            .networks
            .values()
            .filter(|n| matches(filter, &n.labels))
            .cloned()
            .collect())
    }

    async fn find_network(&self, name: &str) -> EngineResult<Option<ObservedNetwork>> {
        Ok(self.lock().networks.get(name).cloned())
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> EngineResult<String> {
        let mut st = self.lock();
        self.write(&mut st, "network", name)?;
        if st.networks.contains_key(name) {
            return Err(EngineError::Conflict {
                what: format!("network {name}"),
            });
        }
        let id = next_id(&mut st);
        st.networks.insert(
            name.to_string(),
            ObservedNetwork {
                id: id.clone(),
                name: name.to_string(),
                labels: labels.clone(),
            },
        );
        Ok(id)
    }

    async fn remove_network(&self, id: &str) -> EngineResult<()> {
        let mut st = self.lock();
        let name = st
            .networks
            .values()
            .find(|n| n.id == id || n.name == id)
            .map(|n| n.name.clone())
            .ok_or_else(|| not_found(&format!("network {id}")))?;
        self.write(&mut st, "remove-network", &name)?;
        st.networks.remove(&name);
        Ok(())
    }

    async fn list_volumes(&self, filter: &LabelFilter) -> EngineResult<Vec<ObservedVolume>> {
        Ok(self
            .lock()
            .volumes
            .values()
            .filter(|v| matches(filter, &v.labels))
            .cloned()
            .collect())
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> EngineResult<()> {
        let mut st = self.lock();
        self.write(&mut st, "volume", name)?;
        if let Some(existing) = st.volumes.get(name) {
            // As the engine: an existing volume comes back as it is.
            if !super::same_owner(labels, &existing.labels) {
                return Err(EngineError::Conflict {
                    what: format!("volume {name} (with other owners' labels)"),
                });
            }
            return Ok(());
        }
        st.volumes.insert(
            name.to_string(),
            ObservedVolume {
                name: name.to_string(),
                labels: labels.clone(),
            },
        );
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> EngineResult<()> {
        let mut st = self.lock();
        self.write(&mut st, "remove-volume", name)?;
        st.volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(&format!("volume {name}")))
    }

    async fn inspect_image(&self, image: &str) -> EngineResult<Option<ObservedImage>> {
        Ok(self.lock().images.get(image).cloned())
    }

    async fn container_runtime(&self, id: &str) -> EngineResult<ContainerRuntime> {
        let st = self.lock();
        let c = st
            .containers
            .get(id)
            .ok_or_else(|| not_found(&format!("container {id}")))?;
        // Fake containers never restart and have been up since long ago: ready at once.
        Ok(ContainerRuntime {
            state: c.state,
            restart_count: 0,
            started_at: Some(chrono::DateTime::UNIX_EPOCH),
            exit_code: 0,
        })
    }

    async fn pull_image(&self, image: &str, progress: ProgressSink<'_>) -> EngineResult<()> {
        {
            let mut st = self.lock();
            if let Some(message) = st.failures.get(&format!("pull:{image}")) {
                return Err(EngineError::Pull {
                    image: image.to_string(),
                    reason: message.clone(),
                });
            }
            self.write(&mut st, "pull", image)?;
        }
        progress(ImageProgress::Layer {
            id: "layer0".into(),
            status: "Downloading".into(),
            current: Some(1),
            total: Some(2),
        });
        put_image(&mut self.lock(), image, Labels::new());
        Ok(())
    }

    async fn build_image(
        &self,
        req: &BuildRequest,
        progress: ProgressSink<'_>,
    ) -> EngineResult<()> {
        {
            let mut st = self.lock();
            if let Some(message) = st.failures.get(&format!("build:{}", req.tag)) {
                return Err(EngineError::Build {
                    image: req.tag.clone(),
                    reason: message.clone(),
                });
            }
            self.write(&mut st, "build", &req.tag)?;
        }
        progress(ImageProgress::Line("Step 1/1".into()));
        put_image(&mut self.lock(), &req.tag, req.labels.clone());
        Ok(())
    }

    fn container_events(
        &self,
        _filter: &LabelFilter,
    ) -> BoxStream<'static, EngineResult<ContainerEvent>> {
        stream::empty().boxed()
    }
}
