//! `envctl ui` for tests: the server as a child process, a plain HTTP/1.0 client that can send
//! any header (the security tests forge Origin and Host), and a server-sent event reader.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `envctl ui`, killed on drop.
pub struct UiServer {
    child: Child,
    pub port: u16,
    pub token: String,
    /// The URL it printed, token included.
    pub url: String,
}

impl UiServer {
    /// Starts `envctl ui --listen LISTEN` in `dir` (which holds ./environments), with `vars`
    /// in its environment.
    pub fn start(dir: &std::path::Path, listen: &str, vars: &[(&str, &str)]) -> Self {
        let mut command = Self::command(dir, listen);
        command.envs(vars.iter().copied());
        Self::spawn(command)
    }

    /// The command `start` runs, to adjust before `spawn`.
    pub fn command(dir: &std::path::Path, listen: &str) -> std::process::Command {
        super::envctl_in(dir, &["ui", "--listen", listen, "--output", "json"])
    }

    /// Runs `command` (from `UiServer::command`) and waits until it listens.
    pub fn spawn(mut command: std::process::Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("envctl ui starts");
        let mut line = String::new();
        // The first line comes once it listens; EOF (it exited) fails the test below.
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("reading envctl ui's first line");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("envctl ui printed {line:?}, not its JSON line: {e}"));
        let listen: std::net::SocketAddr = ready["listen"].as_str().unwrap().parse().unwrap();
        Self {
            child,
            port: listen.port(),
            token: ready["token"].as_str().unwrap().to_string(),
            url: ready["url"].as_str().unwrap().to_string(),
        }
    }

    /// The page's own origin, as a browser sends it.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn get(&self, path: &str) -> Reply {
        request(self.port, "GET", path, &[], "")
    }

    /// A state-changing request as the page sends it: token and same origin.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        let origin = self.origin();
        let headers = [("X-Envctl-Token", self.token.as_str()), ("Origin", &origin)];
        request(self.port, "POST", path, &headers, body)
    }

    /// Posts an action and follows its progress to the end: its `done` outcome.
    pub fn act(&self, path: &str, body: &str) -> serde_json::Value {
        let reply = self.post(path, body);
        assert_eq!(reply.status, 202, "POST {path}: {}", reply.body);
        let events = reply.json()["events"].as_str().unwrap().to_string();
        let mut done = None;
        sse(
            self.port,
            &events,
            Duration::from_secs(180),
            |name, data| {
                if name == "done" {
                    done = Some(serde_json::from_str(data).unwrap());
                }
                done.is_some()
            },
        );
        done.unwrap()
    }
}

impl UiServer {
    /// Sends SIGINT (Ctrl-C) and waits up to `limit` for the server to exit.
    pub fn interrupt(&mut self, limit: Duration) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -INT failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "envctl ui still runs {limit:?} after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to envctl ui");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    stream
}

/// One HTTP/1.0 request (the server closes after answering).
pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut answer = String::new();
    send(port, method, path, headers, body)
        .read_to_string(&mut answer)
        .expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head[9..12].parse().expect("a status code");
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Reads the event stream at `path` (with the token, as the page does) and hands each
/// `(event, data)` to `until` until it returns true; fails after `limit`.
pub fn sse(port: u16, path: &str, limit: Duration, mut until: impl FnMut(&str, &str) -> bool) {
    let deadline = Instant::now() + limit;
    let stream = send(port, "GET", path, &[], "");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let (mut name, mut data) = (String::new(), String::new());
    let mut line = String::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "no matching event on {path} within {limit:?}"
        );
        // A timeout keeps what was read of the line; it is finished on the next read.
        match reader.read_line(&mut line) {
            Ok(0) => panic!("{path}: the stream ended"),
            Ok(_) if !line.ends_with('\n') => continue,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => continue,
            Err(e) => panic!("{path}: {e}"),
        }
        let text = std::mem::take(&mut line);
        let line = text.trim_end_matches(['\r', '\n']);
        if let Some(value) = line.strip_prefix("event: ") {
            name = value.to_string();
        } else if let Some(value) = line.strip_prefix("data: ") {
            data.push_str(value);
        } else if line.is_empty() && !data.is_empty() {
            if until(&name, &data) {
                return;
            }
            name.clear();
            data.clear();
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Runs `envctl down ENV` in `dir` on drop, so a failing test leaves nothing behind.
pub struct DownOnDrop<'a> {
    pub dir: &'a std::path::Path,
    pub env: String,
}

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        match super::envctl_in(self.dir, &["down", &self.env]).output() {
            Ok(out) => super::check_cleanup(&format!("envctl down {}", self.env), &out),
            Err(e) => super::cleanup_failed(&format!("envctl down {}", self.env), &e.to_string()),
        }
    }
}
