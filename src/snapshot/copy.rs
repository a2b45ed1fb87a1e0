//! Copying one volume into another on the engine: a busybox container mounts both and runs
//! `cp -a`, then reports the size. It carries no instance label (plan never sees it as an
//! orphan) and is removed whatever happens.

use crate::engine::{ContainerSpec, Engine, Labels, Mount, MountKind};

use super::{SnapshotError, SNAPSHOT_LABEL};

/// The helper image (built by images/busybox/build.sh).
pub const HELPER_IMAGE: &str = "envctl/busybox:1.35";

/// Copies volume `from` into the empty volume `to`; returns the bytes copied.
pub async fn copy_volume(
    engine: &dyn Engine,
    snapshot: &str,
    from: &str,
    to: &str,
) -> Result<u64, SnapshotError> {
    let failed = |reason: String| SnapshotError::Copy {
        volume: from.to_string(),
        reason,
    };
    let mount = |source: &str, target: &str, read_only| Mount {
        kind: MountKind::Volume,
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    };
    let spec = ContainerSpec {
        name: format!("envctl-snapshot-copy-{snapshot}-{}", std::process::id()),
        image: HELPER_IMAGE.into(),
        env: vec![],
        labels: Labels::from([(format!("{SNAPSHOT_LABEL}.helper"), snapshot.to_string())]),
        command: Some(
            ["sh", "-c", "cp -a /from/. /to/ && du -sk /to | cut -f1"]
                .map(String::from)
                .to_vec(),
        ),
        entrypoint: None,
        ports: vec![],
        publish_address: "127.0.0.1".into(),
        network: "none".into(),
        aliases: vec![],
        links: vec![],
        mounts: vec![mount(from, "/from", true), mount(to, "/to", false)],
        memory_bytes: None,
        nano_cpus: None,
        restart: "no".into(),
        extra_hosts: vec![],
        host_access: Default::default(),
    };
    let id = engine.create_container(&spec).await?;
    let result = async {
        engine.start_container(&id).await?;
        let code = engine.wait_container(&id).await?;
        let logs = engine.logs(&id, 5).await?;
        Ok::<_, SnapshotError>((code, logs))
    }
    .await;
    let removed = engine.remove_container(&id).await;
    let (code, logs) = result?;
    removed?;
    if code != 0 {
        return Err(failed(format!(
            "the copy exited with {code}: {}",
            logs.join(" | ")
        )));
    }
    let kib: u64 = logs
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| failed(format!("no size in its output: {}", logs.join(" | "))))?;
    Ok(kib * 1024)
}
