//! Running a command in a pod: the exec subresource over a websocket (kube's `ws`): stdout
//! and stderr arrive on their own channels, the exit code in a `Status` on the status channel.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use kube::{Api, Client};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::errors::Request;
use crate::engine::{EngineResult, ExecOutput};

/// Runs `command` in `pod` (its only container) and collects its output, stdout and stderr
/// interleaved as they arrive (as `docker exec` shows them), and its exit code.
pub async fn exec(
    client: &Client,
    namespace: &str,
    pod: &str,
    command: &[String],
) -> EngineResult<ExecOutput> {
    let request = Request {
        verb: "create",
        resource: "pods/exec",
        kind: "pod",
        namespace,
        name: pod,
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = api
        .exec(pod, command.to_vec(), &params)
        .await
        .map_err(|e| request.error(e))?;
    let status = process.take_status();
    let (stdout, stderr) = (process.stdout(), process.stderr());
    let output = interleave(stdout, stderr).await;
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    // The status is what counts; the connection's own end may report a close race.
    let _ = process.join().await;
    let what = format!("`{}`", command.join(" "));
    match exit_code(status) {
        Ok(exit_code) => Ok(ExecOutput { exit_code, output }),
        Err(reason) => Err(request.failed(&format!("{what}: {reason}"))),
    }
}

/// Both streams read together (each has a small buffer: reading one to its end first could
/// stall the other), appended in arrival order.
async fn interleave(
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
) -> String {
    let mut output = Vec::new();
    let (mut out, mut err) = (stdout, stderr);
    let (mut out_buf, mut err_buf) = ([0u8; 4096], [0u8; 4096]);
    while out.is_some() || err.is_some() {
        tokio::select! {
            read = async { out.as_mut().unwrap().read(&mut out_buf).await }, if out.is_some() => {
                match read {
                    Ok(n) if n > 0 => output.extend_from_slice(&out_buf[..n]),
                    _ => out = None,
                }
            }
            read = async { err.as_mut().unwrap().read(&mut err_buf).await }, if err.is_some() => {
                match read {
                    Ok(n) if n > 0 => output.extend_from_slice(&err_buf[..n]),
                    _ => err = None,
                }
            }
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// The exit code in the status channel's `Status`: `Success` is 0; a non-zero exit is a
/// `Failure` with reason `NonZeroExitCode` and the code in the cause `ExitCode`. Any other
/// failure (the command could not start) or no status at all is an error.
pub(super) fn exit_code(status: Option<Status>) -> Result<i64, String> {
    let Some(status) = status else {
        return Err("the connection ended before the command reported its exit status".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.trim().parse::<i64>().ok());
    match (status.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => Ok(code),
        _ => Err(status
            .message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the command failed without an exit code".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> Option<Status> {
        Some(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn exit_codes_from_the_status_channel() {
        assert_eq!(
            exit_code(status(json!({ "status": "Success", "metadata": {} }))),
            Ok(0)
        );
        let non_zero = json!({
            "metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
            "reason": "NonZeroExitCode",
            "details": { "causes": [{ "reason": "ExitCode", "message": "3" }] }
        });
        assert_eq!(exit_code(status(non_zero)), Ok(3));
        let not_started = json!({
            "metadata": {}, "status": "Failure",
            "message": "exec: \"nope\": executable file not found in $PATH",
            "reason": "InternalError"
        });
        let err = exit_code(status(not_started)).unwrap_err();
        assert!(err.contains("executable file not found"), "{err}");
        assert!(exit_code(None)
            .unwrap_err()
            .contains("before the command reported"));
    }

    use super::super::mock_ws::{send, Socket, WsApi};

    fn command(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// The server side of one exec: its output on channels 1 and 2, then `status` on 3.
    async fn run(mut socket: Socket, status: serde_json::Value) {
        send(&mut socket, 1, b"out one\n").await;
        send(&mut socket, 2, b"err one\n").await;
        send(&mut socket, 1, b"out two\n").await;
        send(&mut socket, 3, status.to_string().as_bytes()).await;
        let _ = socket.close(None).await;
    }

    fn sorted_lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn output_of_both_streams_and_the_exit_code_over_the_websocket() {
        let api =
            WsApi::start(|_, socket| run(socket, json!({ "metadata": {}, "status": "Success" })))
                .await;
        let out = exec(
            &api.client,
            "envctl-shop",
            "web-1",
            &command(&["sh", "-c", "echo hi"]),
        )
        .await
        .unwrap();
        assert_eq!(out.exit_code, 0);
        assert_eq!(sorted_lines(&out.output), ["err one", "out one", "out two"]);
        // Each stream keeps its own order.
        assert!(
            out.output.find("out one") < out.output.find("out two"),
            "{}",
            out.output
        );
        assert_eq!(
            api.seen(),
            ["/api/v1/namespaces/envctl-shop/pods/web-1/exec?&stdout=true&stderr=true&command=sh&command=-c&command=echo+hi"]
        );
    }

    #[tokio::test]
    async fn a_non_zero_exit_is_an_output_not_an_error() {
        let failed = json!({
            "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code",
            "details": { "causes": [{ "reason": "ExitCode", "message": "42" }] }
        });
        let api = WsApi::start(move |_, socket| run(socket, failed.clone())).await;
        let out = exec(&api.client, "ns", "p", &command(&["false"]))
            .await
            .unwrap();
        assert_eq!(out.exit_code, 42);
        assert_eq!(sorted_lines(&out.output), ["err one", "out one", "out two"]);
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_is_an_error_naming_pod_and_command() {
        let missing = json!({
            "metadata": {}, "status": "Failure", "reason": "InternalError",
            "message": "exec: \"nope\": executable file not found in $PATH"
        });
        let api = WsApi::start(move |_, mut socket| {
            let missing = missing.clone();
            async move {
                send(&mut socket, 3, missing.to_string().as_bytes()).await;
                let _ = socket.close(None).await;
            }
        })
        .await;
        let err = exec(&api.client, "envctl-shop", "web-1", &command(&["nope"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("pod envctl-shop/web-1"), "{err}");
        assert!(
            err.contains("`nope`: exec: \"nope\": executable file not found"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn forbidden_exec_says_what_rbac_must_allow() {
        let api = WsApi::refusing(
            403,
            "pods \"web-1\" is forbidden: cannot create resource \"pods/exec\"",
        )
        .await;
        let err = exec(&api.client, "envctl-shop", "web-1", &command(&["true"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("verb `create` on resource `pods/exec` in namespace envctl-shop"),
            "{err}"
        );
    }
}
