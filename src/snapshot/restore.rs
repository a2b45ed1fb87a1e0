//! `up --from-snapshot`: before a new instance's services first start, each of its named
//! volumes that the snapshot has is created (with the instance's labels, as `plan` would)
//! and filled from it. The seed marker travels with the data, so seeding is skipped for them.
//! Differences between the snapshot's services and the definition's are reported per service.

use serde::Serialize;

use crate::engine::{Engine, LabelFilter};
use crate::model::{labels, Environment, VolumeSource};
use crate::plan::instance_labels;

use super::copy::copy_volume;
use super::{find, volume_name, SnapshotError};

/// What a restore did, and what differs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RestoreReport {
    pub snapshot: String,
    /// The instance volumes filled from it.
    pub volumes: Vec<String>,
    /// One line per difference, naming the service.
    pub warnings: Vec<String>,
}

/// Fills the volumes of `env`'s (new) instance from snapshot `name`.
pub async fn restore(
    engine: &dyn Engine,
    name: &str,
    env: &Environment,
    now: &str,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<RestoreReport, SnapshotError> {
    let snapshot = find(engine, name).await?;
    let instance = env.instance.to_string();
    let existing: Vec<String> = engine
        .list_volumes(&LabelFilter::instance(&instance))
        .await?
        .into_iter()
        .filter(|v| !v.labels.contains_key(labels::LEASE))
        .map(|v| v.name)
        .collect();
    if !existing.is_empty() {
        let env_flag = match &env.feature {
            Some(f) => format!("{} --feature {f}", env.env),
            None => env.env.clone(),
        };
        return Err(SnapshotError::NotNew {
            instance,
            volumes: existing.join(", "),
            env_flag,
        });
    }
    let mut report = RestoreReport {
        snapshot: name.to_string(),
        ..RestoreReport::default()
    };
    if snapshot.env != env.env {
        report.warnings.push(format!(
            "snapshot `{name}` was taken from environment `{}`, this is `{}`",
            snapshot.env, env.env
        ));
    }
    let mut wanted = Vec::new();
    for service in env.services.values() {
        let mut uses_snapshot = false;
        for mount in &service.volumes {
            let VolumeSource::Named(volume) = &mount.source else {
                continue;
            };
            if snapshot.volumes.contains_key(volume) {
                uses_snapshot = true;
                wanted.push(volume.clone());
            } else {
                report.warnings.push(format!(
                    "service `{}`: volume `{volume}` is not in the snapshot; it starts empty",
                    service.name
                ));
            }
        }
        let Some(record) = snapshot.services.get(service.name.as_str()) else {
            continue;
        };
        if !uses_snapshot {
            continue;
        }
        if record.image != service.image {
            report.warnings.push(format!(
                "service `{}`: the snapshot's data was written by image {}, this definition runs {}",
                service.name, record.image, service.image
            ));
        }
        let seed = (!service.init.is_empty()).then(|| service.init.digest());
        if record.seed != seed {
            report.warnings.push(format!(
                "service `{}`: its `init:` steps differ from those that seeded the snapshot's data (they are not run: the data is the snapshot's)",
                service.name
            ));
        }
    }
    for volume in snapshot.volumes.keys().filter(|v| !wanted.contains(v)) {
        report.warnings.push(format!(
            "volume `{volume}` of the snapshot is not used by this definition; not restored"
        ));
    }
    wanted.sort();
    wanted.dedup();
    for volume in wanted {
        let target = env.instance.volume_name(&volume);
        engine
            .create_volume(&target, &instance_labels(env, now))
            .await?;
        progress(format!("filling volume {target} from snapshot {name}"));
        copy_volume(engine, name, &volume_name(name, Some(&volume)), &target).await?;
        report.volumes.push(target);
    }
    Ok(report)
}
