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
    /// `what`: `instance shop--f1` or `host port 8080/tcp`.
    #[error("{what} is busy: {holder}; retry later, or drop --no-wait-lock to wait")]
    Busy { what: String, holder: String },
    #[error("gave up waiting {waited:?} for {what}: {holder}")]
    TimedOut {
        what: String,
        holder: String,
        waited: Duration,
    },
    /// The engine holding the instance's lock could not be asked.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("cannot use lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for as long as the value lives; its file is removed when it is released.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
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
    // Bad values were refused at startup (`settings::check_environment`).
    if let Ok(Some(dir)) = crate::settings::lock_dir() {
        return dir;
    }
    let base = crate::settings::runtime_dir()
        .ok()
        .flatten()
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
    let stem = instance.to_string();
    acquire_file(
        dir,
        &stem,
        &format!("instance {instance}"),
        command,
        policy,
        on_wait,
    )
}

/// Takes the lock of a pinned host port, held from planning until `up` ends: two instances
/// racing for one pinned port never both find it free; the second waits for the first, then
/// plans, finds the port taken and stops before creating anything.
pub fn acquire_port(
    port: u16,
    protocol: &str,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<InstanceLock, LockError> {
    // `_` never occurs in an instance id, so this never names an instance's lock file.
    let stem = format!("port_{protocol}_{port}");
    let what = format!("pinned host port {port}/{protocol}");
    acquire_file(&lock_dir(), &stem, &what, command, policy, on_wait)
}

/// Locks `<dir>/<stem>.lock`; `what` names the locked thing in errors.
fn acquire_file(
    dir: &Path,
    stem: &str,
    what: &str,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<InstanceLock, LockError> {
    let path = dir.join(format!("{stem}.lock"));
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let started = Instant::now();
    let mut told = false;
    let mut file = loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        lock_file(&mut file, what, policy, started, &mut told, on_wait).map_err(|e| match e {
            Wait::Lock(err) => err,
            Wait::Io(err) => io(err),
        })?;
        // The holder before us removes the file as it lets go; a lock on a removed file
        // protects nothing, so take the lock again on the file that is there now.
        if is_same_file(&file, &path) {
            break file;
        }
    };

    let holder = format!(
        "held by pid {} (envctl {command}) since {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(holder.as_bytes()).map_err(io)?;
    Ok(InstanceLock { file, path })
}

enum Wait {
    Lock(LockError),
    Io(std::io::Error),
}

/// Locks `file`, waiting per `policy` (bounded from `started`).
fn lock_file(
    file: &mut File,
    what: &str,
    policy: WaitPolicy,
    started: Instant,
    told: &mut bool,
    on_wait: &mut dyn FnMut(&str),
) -> Result<(), Wait> {
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = describe_holder(file);
                match policy {
                    WaitPolicy::FailFast => {
                        return Err(Wait::Lock(LockError::Busy {
                            what: what.to_string(),
                            holder,
                        }))
                    }
                    WaitPolicy::Wait(limit) if started.elapsed() >= limit => {
                        return Err(Wait::Lock(LockError::TimedOut {
                            what: what.to_string(),
                            holder,
                            waited: limit,
                        }))
                    }
                    WaitPolicy::Wait(_) => {
                        if !*told {
                            on_wait(&holder);
                            *told = true;
                        }
                        // Polling keeps the wait bounded by the deadline; flock has no timeout.
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(Wait::Io(err)),
        }
    }
}

/// Whether `path` still names the open `file` (same device and inode).
fn is_same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

impl Drop for InstanceLock {
    /// Removes the lock file while still holding the lock, so lock files never pile up; a
    /// waiter that locked the removed file notices (`is_same_file`) and starts over.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
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
    fn lock_files_do_not_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        for feature in ["a", "b", "c"] {
            let id = InstanceId::new("lock-test", Some(feature)).unwrap();
            let held = acquire_in(dir.path(), &id, "up", WaitPolicy::FailFast, &mut |_| {});
            assert!(held.is_ok());
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn many_waiters_take_turns_on_a_removed_file() {
        // Each holder removes the file on release; every thread must still hold the lock
        // alone (the counter never sees two holders at once).
        let dir = tempfile::tempdir().unwrap();
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let path = dir.path().to_path_buf();
                let inside = inside.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        let _held = acquire_in(
                            &path,
                            &id(),
                            "up",
                            WaitPolicy::Wait(Duration::from_secs(30)),
                            &mut |_| {},
                        )
                        .unwrap();
                        let before = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(before, 0, "two holders at once");
                        std::thread::yield_now();
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
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

/// An instance lock held on the engine (see `backend::Backend::try_lock`).
#[derive(Debug)]
#[must_use = "a lock is released with backend::Backend::unlock"]
pub struct EngineLock {
    pub name: String,
}

/// The outcome of one `backend::Backend::try_lock`.
#[derive(Debug)]
pub enum LockAttempt {
    /// Nobody else can reach this engine's instances without going through this machine's
    /// file lock (a local engine): nothing to take.
    NotNeeded,
    Acquired(EngineLock),
    /// Someone holds it: who, and until when.
    Held {
        holder: String,
    },
}
