//! A per-instance lock so concurrent `up`/`down` of one instance wait for each other, while
//! different instances run in parallel. An OS file lock (flock) is released by the kernel when
//! the process dies, so a crashed envctl never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::InstanceId;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("instance {instance} is busy: {holder}; retry later, or drop --no-wait-lock to wait")]
    Busy { instance: String, holder: String },
    #[error("gave up waiting {waited:?} for instance {instance}: {holder}")]
    TimedOut {
        instance: String,
        holder: String,
        waited: Duration,
    },
    #[error("cannot use lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// How to behave when someone else holds the lock.
#[derive(Debug, Clone, Copy)]
pub enum WaitPolicy {
    /// Fail at once, saying who holds it.
    FailFast,
    /// Wait up to this long, calling `on_wait` once with the holder's description.
    Wait(Duration),
}

/// Where lock files live: `$ENVCTL_LOCK_DIR`, else `$XDG_RUNTIME_DIR/envctl`, else the temp dir.
pub fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ENVCTL_LOCK_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("envctl-locks")
}

/// Takes the lock of `instance` for `command` (e.g. "up"), per `policy`.
pub fn acquire(
    instance: &InstanceId,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<InstanceLock, LockError> {
    acquire_in(&lock_dir(), instance, command, policy, on_wait)
}

pub fn acquire_in(
    dir: &Path,
    instance: &InstanceId,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<InstanceLock, LockError> {
    let path = dir.join(format!("{instance}.lock"));
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;

    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = describe_holder(&mut file);
                match policy {
                    WaitPolicy::FailFast => {
                        return Err(LockError::Busy {
                            instance: instance.to_string(),
                            holder,
                        })
                    }
                    WaitPolicy::Wait(limit) if started.elapsed() >= limit => {
                        return Err(LockError::TimedOut {
                            instance: instance.to_string(),
                            holder,
                            waited: limit,
                        })
                    }
                    WaitPolicy::Wait(_) => {
                        if !told {
                            on_wait(&holder);
                            told = true;
                        }
                        // Polling keeps the wait bounded by the deadline; flock has no timeout.
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
        }
    }

    let holder = format!(
        "held by pid {} (envctl {command}) since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(holder.as_bytes()).map_err(io)?;
    Ok(InstanceLock { _file: file })
}

fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    if text.trim().is_empty() {
        "held by another envctl process".to_string()
    } else {
        text.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> InstanceId {
        InstanceId::new("lock-test", None).unwrap()
    }

    #[test]
    fn second_holder_fails_fast_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire_in(dir.path(), &id(), "up", WaitPolicy::FailFast, &mut |_| {}).unwrap();
        // A second open file description conflicts even within one process.
        let err =
            acquire_in(dir.path(), &id(), "down", WaitPolicy::FailFast, &mut |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("lock-test") && text.contains("envctl up"),
            "{text}"
        );
    }

    #[test]
    fn waiter_gets_the_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire_in(dir.path(), &id(), "up", WaitPolicy::FailFast, &mut |_| {}).unwrap();
        let path = dir.path().to_path_buf();
        let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            acquire_in(
                &path,
                &id(),
                "down",
                WaitPolicy::Wait(Duration::from_secs(10)),
                &mut |holder| waiting_tx.send(holder.to_string()).unwrap(),
            )
            .is_ok()
        });
        // The waiter reports who holds the lock before we release it.
        let holder = waiting_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(holder.contains("envctl up"), "{holder}");
        drop(held);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn different_instances_do_not_block_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let other = InstanceId::new("lock-test", Some("f1")).unwrap();
        let _a = acquire_in(dir.path(), &id(), "up", WaitPolicy::FailFast, &mut |_| {}).unwrap();
        assert!(acquire_in(dir.path(), &other, "up", WaitPolicy::FailFast, &mut |_| {}).is_ok());
    }

    #[test]
    fn times_out_with_a_bounded_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _a = acquire_in(dir.path(), &id(), "up", WaitPolicy::FailFast, &mut |_| {}).unwrap();
        let err = acquire_in(
            dir.path(),
            &id(),
            "up",
            WaitPolicy::Wait(Duration::from_millis(200)),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, LockError::TimedOut { .. }), "{err}");
    }
}
