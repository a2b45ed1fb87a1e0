//! Snapshots of an instance's data: each named volume copied, on the engine itself, into a
//! volume of the snapshot, so it works wherever the engine is (a short-lived busybox helper
//! container does the copy; nothing streams through this machine).
//!
//! A snapshot is a set of volumes labelled `io.envctl.snapshot=<name>`: one manifest volume
//! (its metadata as JSON in a label: env, feature, time, size, each service's image, spec hash
//! and seed) and one data volume per captured volume. They carry no `io.envctl.instance`
//! label, so `down` and `gc` never see them; `snapshot rm` is the only way they go.

mod copy;
mod restore;
mod save;

pub use restore::{restore, RestoreReport};
pub use save::{human_size, save, SaveRequest};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EngineError, LabelFilter, Labels};
use crate::model::check_dns_label;

/// The label every snapshot volume carries: the snapshot's name.
pub const SNAPSHOT_LABEL: &str = "io.envctl.snapshot";
/// `manifest` or `data`.
pub const ROLE_LABEL: &str = "io.envctl.snapshot.role";
/// On the manifest: the metadata as JSON.
pub const META_LABEL: &str = "io.envctl.snapshot.meta";
/// On a data volume: the instance volume's name in the definition (`mysql-data`).
pub const VOLUME_LABEL: &str = "io.envctl.snapshot.volume";

/// What a snapshot records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub name: String,
    pub env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// The instance it was taken from.
    pub instance: String,
    /// RFC 3339.
    pub created: String,
    /// Bytes of data over all volumes (as `du` counts them).
    pub size: u64,
    /// Taken while the services ran (`--hot`): maybe not consistent.
    pub hot: bool,
    /// The captured volumes by their name in the definition, with the service using each.
    pub volumes: BTreeMap<String, String>,
    /// Each service that used a captured volume.
    pub services: BTreeMap<String, ServiceRecord>,
}

/// What the data of one service depended on when it was captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub image: String,
    pub spec_hash: String,
    /// Digest of its `init:` steps, if it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot name `{name}`: {reason}")]
    BadName { name: String, reason: String },
    #[error(
        "snapshot `{0}` already exists; `envctl snapshot rm {0}` first, or choose another name"
    )]
    Exists(String),
    #[error("no snapshot `{name}`; snapshots: {known}")]
    NotFound { name: String, known: String },
    #[error("instance `{0}` has no named volumes to snapshot (is it up?)")]
    NothingToSave(String),
    #[error("instance `{instance}` already has data ({volumes}); a snapshot fills only a new instance: `envctl down {env_flag} --volumes` first")]
    NotNew {
        instance: String,
        volumes: String,
        env_flag: String,
    },
    #[error("snapshot `{name}` has no volume `{volume}` that service `{service}` mounts; it was taken from {from}: {hint}")]
    Mismatch {
        name: String,
        volume: String,
        service: String,
        from: String,
        hint: String,
    },
    #[error("copying volume {volume}: {reason}")]
    Copy { volume: String, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The name a snapshot's volume gets: `envctl-snapshot.<name>.<volume>` (`manifest` for the
/// manifest; `.` cannot occur in either name, so no two snapshots' volumes collide).
pub fn volume_name(snapshot: &str, volume: Option<&str>) -> String {
    format!(
        "envctl-snapshot.{snapshot}.{}",
        volume.unwrap_or("manifest")
    )
}

/// Snapshot names are DNS labels, like instance names.
pub fn check_name(name: &str) -> Result<(), SnapshotError> {
    check_dns_label("snapshot", name).map_err(|e| SnapshotError::BadName {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

/// Every snapshot on the engine, by name.
pub async fn list(engine: &dyn Engine) -> Result<Vec<Snapshot>, SnapshotError> {
    let filter = LabelFilter(vec![format!("{ROLE_LABEL}=manifest")]);
    let mut found: Vec<Snapshot> = engine
        .list_volumes(&filter)
        .await?
        .into_iter()
        .filter_map(|v| serde_json::from_str(v.labels.get(META_LABEL)?).ok())
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The snapshot called `name`.
pub async fn find(engine: &dyn Engine, name: &str) -> Result<Snapshot, SnapshotError> {
    check_name(name)?;
    let all = list(engine).await?;
    let known = if all.is_empty() {
        "none".to_string()
    } else {
        all.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    all.into_iter()
        .find(|s| s.name == name)
        .ok_or(SnapshotError::NotFound {
            name: name.to_string(),
            known,
        })
}

/// Removes every volume of snapshot `name` (data first, the manifest last, so a failed
/// removal leaves a snapshot `ls` still shows and `rm` can finish).
pub async fn remove(engine: &dyn Engine, name: &str) -> Result<Snapshot, SnapshotError> {
    let snapshot = find(engine, name).await?;
    let filter = LabelFilter(vec![format!("{SNAPSHOT_LABEL}={name}")]);
    let mut volumes = engine.list_volumes(&filter).await?;
    volumes.sort_by_key(|v| v.labels.get(ROLE_LABEL).map(String::as_str) == Some("manifest"));
    for volume in volumes {
        engine.remove_volume(&volume.name).await?;
    }
    Ok(snapshot)
}

fn labels(name: &str, role: &str) -> Labels {
    Labels::from([
        (SNAPSHOT_LABEL.to_string(), name.to_string()),
        (ROLE_LABEL.to_string(), role.to_string()),
    ])
}
