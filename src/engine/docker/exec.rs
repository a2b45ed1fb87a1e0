//! Running a command in a container, and cleaning up after one that took too long.
//!
//! The engine has no "kill exec" call, and a client that stops reading does not stop the
//! process: a `cmd` health check that hangs (`sleep 100`) would stay in the container, and one
//! more would pile up every interval. So after a timeout envctl finds the exec's process on
//! the engine host (`/proc`, when the engine runs on this machine), learns its PID inside the
//! container, and kills its whole process group from inside (each exec is the leader of its
//! own group, so children of a shell go too).

use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::stream::{StreamExt, TryStreamExt};

use crate::engine::{Archive, EngineError, EngineResult, ExecOutput};

use super::connection::{api_err, DockerEngine, REQUEST_TIMEOUT};

impl DockerEngine {
    /// Unpacks `archive` into `dir` of container `id` (the engine's archive endpoint),
    /// streaming it.
    pub(super) async fn upload_archive(
        &self,
        id: &str,
        dir: &str,
        archive: Archive,
    ) -> EngineResult<()> {
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path(dir)
            .build();
        // The engine answers once it has the whole archive: allow the usual deadline plus a
        // second per MiB, so a dump of gigabytes over a slow link is not cut off, yet a link
        // that stops moving still ends in an error.
        let deadline = REQUEST_TIMEOUT + Duration::from_secs(archive.size / (1024 * 1024));
        let body = bollard::body_try_stream(archive.chunks.map_ok(Into::into));
        self.docker
            .clone()
            .with_timeout(deadline)
            .upload_to_container(id, Some(options), body)
            .await
            .map_err(api_err(
                &self.endpoint,
                "copy files into",
                format!("container {id} ({dir})"),
            ))
    }

    /// Creates an exec of `cmd` in container `id`; returns its id.
    pub(super) async fn create_exec(&self, id: &str, cmd: &[String]) -> EngineResult<String> {
        let what = format!("container {id}");
        let created = self
            .docker
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                // 409 here means "not running", not "already exists".
                BollardError::DockerResponseServerError {
                    status_code: 409,
                    message,
                } => EngineError::Api {
                    context: format!("exec in {what}"),
                    message,
                },
                other => api_err(&self.endpoint, "exec in", what.clone())(other),
            })?;
        Ok(created.id)
    }

    /// Starts exec `exec_id`, collects its output and its exit code.
    pub(super) async fn run_exec(&self, id: &str, exec_id: &str) -> EngineResult<ExecOutput> {
        let what = format!("container {id}");
        let mut output = String::new();
        if let StartExecResults::Attached {
            output: mut out, ..
        } = self
            .docker
            .start_exec(exec_id, None)
            .await
            .map_err(api_err(&self.endpoint, "exec in", what.clone()))?
        {
            while let Some(chunk) = out.next().await {
                let chunk = chunk.map_err(api_err(&self.endpoint, "exec in", what.clone()))?;
                output.push_str(&chunk.to_string());
            }
        }
        // The exit code can lag the end of the output stream by a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let inspect = self.docker.inspect_exec(exec_id).await.map_err(api_err(
                &self.endpoint,
                "inspect exec in",
                what.clone(),
            ))?;
            if inspect.running != Some(true) {
                if let Some(exit_code) = inspect.exit_code {
                    return Ok(ExecOutput { exit_code, output });
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Api {
                    context: format!("exec in {what}"),
                    message: "the command's output ended but it never reported an exit code".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `cmd` in `id`, bounded by `timeout`; on timeout its processes are killed (best effort:
    /// see the module comment) and the answer is `None`.
    pub(super) async fn exec_with_timeout(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> EngineResult<Option<ExecOutput>> {
        let exec_id = self.create_exec(id, cmd).await?;
        match tokio::time::timeout(timeout, self.run_exec(id, &exec_id)).await {
            Ok(result) => result.map(Some),
            Err(_) => {
                self.kill_exec(id, &exec_id, cmd).await;
                Ok(None)
            }
        }
    }

    /// Kills the process group of a still running exec from inside its container.
    async fn kill_exec(&self, id: &str, exec_id: &str, cmd: &[String]) {
        let Ok(inspect) = self.docker.inspect_exec(exec_id).await else {
            return;
        };
        let host_pid = match (inspect.running, inspect.pid) {
            (Some(true), Some(pid)) if pid > 0 => pid,
            _ => return,
        };
        let Some(pid) = container_pid(host_pid, cmd) else {
            return;
        };
        // The shell's builtin first (most images have `sh`, fewer a `kill` binary).
        let group = format!("-{pid}");
        let attempts = [
            vec!["sh".to_string(), "-c".into(), format!("kill -9 {group}")],
            vec!["kill".to_string(), "-9".into(), group.clone()],
        ];
        for attempt in attempts {
            let Ok(killer) = self.create_exec(id, &attempt).await else {
                return;
            };
            let killed = tokio::time::timeout(Duration::from_secs(5), self.run_exec(id, &killer));
            if let Ok(Ok(out)) = killed.await {
                if out.exit_code == 0 {
                    return;
                }
            }
        }
    }
}

/// The PID, inside its container, of host process `host_pid`, if it is still the exec of
/// `cmd` (a PID may have been reused meanwhile). `None` when the engine's processes are not
/// visible here (a remote engine).
fn container_pid(host_pid: i64, cmd: &[String]) -> Option<u32> {
    let proc_dir = std::path::Path::new("/proc").join(host_pid.to_string());
    let cmdline = std::fs::read(proc_dir.join("cmdline")).ok()?;
    let running: Vec<&[u8]> = cmdline
        .strip_suffix(b"\0")
        .unwrap_or(&cmdline)
        .split(|b| *b == 0)
        .collect();
    let wanted: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
    if running != wanted {
        return None;
    }
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    ns_pid(&status)
}

/// The innermost PID of an `NSpid:` line of `/proc/PID/status`.
fn ns_pid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_pid_is_the_containers() {
        assert_eq!(ns_pid("Name:\tsh\nNSpid:\t7382\t7\nPPid:\t1\n"), Some(7));
        assert_eq!(ns_pid("NSpid:\t42\n"), Some(42));
        assert_eq!(ns_pid("Name:\tsh\n"), None);
    }

    #[test]
    fn a_reused_pid_is_not_taken_for_the_exec() {
        let me = std::process::id() as i64;
        assert_eq!(container_pid(me, &["certainly-not-this".into()]), None);
    }
}
