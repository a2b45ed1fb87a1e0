//! `snapshot save`: stop the instance's running containers (unless hot), copy each of its
//! named volumes into a new snapshot volume, start the containers again, write the manifest.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::{Engine, LabelFilter, ObservedContainer, ObservedVolume};
use crate::model::{labels, InstanceId};
use crate::plan::SpecView;

use super::copy::copy_volume;
use super::{check_name, volume_name, ServiceRecord, Snapshot, SnapshotError};

/// How long a container gets to stop cleanly before the copy.
const STOP_GRACE: Duration = Duration::from_secs(30);

pub struct SaveRequest {
    pub instance: InstanceId,
    pub env: String,
    pub feature: Option<String>,
    pub name: String,
    /// Copy while the services run.
    pub hot: bool,
    /// RFC 3339, stamped into the metadata.
    pub now: String,
}

/// Saves snapshot `req.name` of `req.instance`; `progress` hears each volume as it is copied.
pub async fn save(
    engine: &dyn Engine,
    req: &SaveRequest,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<Snapshot, SnapshotError> {
    check_name(&req.name)?;
    let mine = LabelFilter(vec![format!("{}={}", super::SNAPSHOT_LABEL, req.name)]);
    if !engine.list_volumes(&mine).await?.is_empty() {
        return Err(SnapshotError::Exists(req.name.clone()));
    }
    let instance = req.instance.to_string();
    let prefix = req.instance.volume_name("");
    let volumes: Vec<ObservedVolume> = engine
        .list_volumes(&LabelFilter::instance(&instance))
        .await?
        .into_iter()
        .filter(|v| !v.labels.contains_key(labels::LEASE) && v.name.starts_with(&prefix))
        .collect();
    if volumes.is_empty() {
        return Err(SnapshotError::NothingToSave(instance));
    }
    let containers = engine
        .list_containers(&LabelFilter::instance(&instance))
        .await?;
    let (users, services) = users_of(&containers, &volumes);

    let mut stopped = Vec::new();
    if !req.hot {
        for c in containers.iter().filter(|c| c.state.is_running()) {
            progress(format!("stopping {}", c.name));
            engine.stop_container(&c.id, STOP_GRACE).await?;
            stopped.push(c);
        }
    }
    let copied = copy_all(engine, req, &volumes, &prefix, progress).await;
    // Started again whatever the copy did: a failed snapshot must not take the instance down.
    let mut restarted = Ok(());
    for c in &stopped {
        progress(format!("starting {}", c.name));
        if let Err(err) = engine.start_container(&c.id).await {
            restarted = restarted.and(Err(err));
        }
    }
    let size = match copied {
        Ok(size) => size,
        Err(err) => {
            remove_partial(engine, &req.name).await;
            return Err(err);
        }
    };
    restarted?;
    let snapshot = Snapshot {
        name: req.name.clone(),
        env: req.env.clone(),
        feature: req.feature.clone(),
        instance,
        created: req.now.clone(),
        size,
        hot: req.hot,
        volumes: volumes
            .iter()
            .map(|v| {
                let key = v.name[prefix.len()..].to_string();
                let user = users.get(&v.name).cloned().unwrap_or_default();
                (key, user)
            })
            .collect(),
        services,
    };
    let mut manifest = super::labels(&req.name, "manifest");
    manifest.insert(
        super::META_LABEL.to_string(),
        serde_json::to_string(&snapshot).unwrap_or_default(),
    );
    engine
        .create_volume(&volume_name(&req.name, None), &manifest)
        .await?;
    Ok(snapshot)
}

/// Copies each volume into its snapshot volume; the total size.
async fn copy_all(
    engine: &dyn Engine,
    req: &SaveRequest,
    volumes: &[ObservedVolume],
    prefix: &str,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<u64, SnapshotError> {
    let mut size = 0;
    for v in volumes {
        let key = &v.name[prefix.len()..];
        let target = volume_name(&req.name, Some(key));
        let mut labels = super::labels(&req.name, "data");
        labels.insert(super::VOLUME_LABEL.to_string(), key.to_string());
        engine.create_volume(&target, &labels).await?;
        progress(format!("copying volume {}", v.name));
        let bytes = copy_volume(engine, &req.name, &v.name, &target).await?;
        progress(format!("copied volume {} ({})", v.name, human_size(bytes)));
        size += bytes;
    }
    Ok(size)
}

/// Which service mounts each volume (from the spec each container records), and what each
/// such service's data depended on.
fn users_of(
    containers: &[ObservedContainer],
    volumes: &[ObservedVolume],
) -> (BTreeMap<String, String>, BTreeMap<String, ServiceRecord>) {
    let mut users = BTreeMap::new();
    let mut services = BTreeMap::new();
    for c in containers {
        let Some(service) = c.labels.get(labels::SERVICE) else {
            continue;
        };
        let Some(view) = c
            .labels
            .get(labels::SPEC)
            .and_then(|j| SpecView::from_json(j))
        else {
            continue;
        };
        let mounted: Vec<&ObservedVolume> = volumes
            .iter()
            .filter(|v| {
                view.volumes
                    .iter()
                    .any(|m| m.starts_with(&format!("{}:", v.name)))
            })
            .collect();
        if mounted.is_empty() {
            continue;
        }
        for v in mounted {
            users.insert(v.name.clone(), service.clone());
        }
        services.insert(
            service.clone(),
            ServiceRecord {
                image: view.image.clone(),
                spec_hash: c.labels.get(labels::SPEC_HASH).cloned().unwrap_or_default(),
                seed: view.init.clone(),
            },
        );
    }
    (users, services)
}

/// Removes what a failed save made (best effort: `snapshot rm` cannot see a snapshot
/// without its manifest, so nothing else would).
async fn remove_partial(engine: &dyn Engine, name: &str) {
    let filter = LabelFilter(vec![format!("{}={name}", super::SNAPSHOT_LABEL)]);
    if let Ok(volumes) = engine.list_volumes(&filter).await {
        for v in volumes {
            let _ = engine.remove_volume(&v.name).await;
        }
    }
}

/// `1.2 GiB`, `340 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
