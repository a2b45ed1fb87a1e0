//! `http: { port, path }` — ready when `GET path` answers 2xx or 3xx.
//! A minimal HTTP/1.1 client: one request, `Connection: close`, only the status line is read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ProbeFailed;

/// A status line longer than this is not HTTP.
const MAX_STATUS_LINE: usize = 8 * 1024;

pub(super) async fn check(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(), ProbeFailed> {
    let mut stream = super::tcp::connect(addr, timeout).await?;
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: envctl-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_STATUS_LINE {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(head)) => head,
        Ok(Err(err)) => return Err(format!("GET http://{addr}{path}: {err}").into()),
        Err(_) => {
            return Err(format!("GET http://{addr}{path}: no answer within {timeout:?}").into())
        }
    };
    let status = status_code(&head)
        .ok_or_else(|| format!("GET http://{addr}{path}: the answer is not HTTP"))?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("GET http://{addr}{path}: status {status}").into())
    }
}

/// The status code of `HTTP/1.x NNN reason`.
fn status_code(head: &[u8]) -> Option<u16> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `answer` to every connection and records the first request line.
    async fn server(answer: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap();
            conn.write_all(answer.as_bytes()).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            text.lines().next().unwrap_or_default().to_string()
        });
        (addr, task)
    }

    const T: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn two_and_three_hundreds_are_ready() {
        for answer in [
            "HTTP/1.1 200 OK\r\n\r\n",
            "HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n",
        ] {
            let (addr, task) = server(answer).await;
            check(addr, "health", T).await.unwrap();
            assert_eq!(task.await.unwrap(), "GET /health HTTP/1.1");
        }
    }

    #[tokio::test]
    async fn errors_and_garbage_are_not_ready() {
        let (addr, _task) = server("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let err = check(addr, "/", T).await.unwrap_err();
        assert!(err.0.contains("status 503"), "{err}");
        let (addr, _task) = server("SSH-2.0-OpenSSH\r\n").await;
        let err = check(addr, "/", T).await.unwrap_err();
        assert!(err.0.contains("not HTTP"), "{err}");
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(status_code(b"HTTP/1.1 204"), None);
        assert_eq!(status_code(b"HTTP/1.1 2000 x\r\n"), None);
        assert_eq!(status_code(b"\xff\xfe\r\n"), None);
    }
}
