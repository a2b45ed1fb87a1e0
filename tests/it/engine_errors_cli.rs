//! A dead or unreachable engine: every engine command says so in one line, with the fix,
//! promptly (the binary with a bogus DOCKER_HOST). The engine's connect timeout is 3 s; the
//! tests allow a generous multiple of it, which still tells "gave up" from "hung" (the
//! command is killed at 30 s).

use std::time::{Duration, Instant};

use assert_cmd::Command;

/// Five times the engine's 3 s connect timeout: a loaded machine stays well inside it, a
/// command that waits on a hung engine does not.
const PROMPTLY: Duration = Duration::from_secs(15);

const DEFINITION: &str = "services:\n  a:\n    image: envctl/busybox:1.35\n";

fn run(dir: &std::path::Path, host: &str, args: &[&str]) -> (Option<i32>, String, Duration) {
    let began = Instant::now();
    let out = Command::cargo_bin("envctl")
        .unwrap()
        .current_dir(dir)
        .env("DOCKER_HOST", host)
        .env("ENVCTL_LOCK_DIR", dir.join("locks"))
        .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
        .timeout(Duration::from_secs(30))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, began.elapsed())
}

const COMMANDS: &[&[&str]] = &[
    &["up", "shop"],
    &["down", "shop"],
    &["plan", "shop"],
    &["status", "shop"],
    &["ls"],
    &["ports", "shop"],
    &["logs", "shop"],
    &["exec", "shop", "a", "--", "true"],
    &["endpoints", "shop"],
    // Scoped, as every test's gc is: the engine here is unreachable, but a test never sweeps
    // other people's instances.
    &["gc", "shop"],
    &["gc", "--dry-run", "--instance", "shop--x"],
];

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("environments")).unwrap();
    std::fs::write(dir.path().join("environments/shop.yaml"), DEFINITION).unwrap();
    dir
}

#[track_caller]
fn assert_one_clear_line(what: &str, result: (Option<i32>, String, Duration), fix: &str) {
    let (code, stderr, took) = result;
    assert_eq!(code, Some(1), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: not one line:\n{stderr}");
    assert!(
        lines[0].contains("cannot reach the Docker engine"),
        "{what}: {stderr}"
    );
    assert!(
        lines[0].contains(fix),
        "{what}: no fix `{fix}` in: {stderr}"
    );
    assert!(took < PROMPTLY, "{what} took {took:?}");
}

#[test]
fn a_missing_socket_is_one_line_with_the_fix_for_every_engine_command() {
    let dir = fixture();
    for args in COMMANDS {
        let result = run(dir.path(), "unix:///nonexistent.sock", args);
        assert_one_clear_line(&args.join(" "), result, "systemctl start docker");
    }
}

#[test]
fn a_socket_nobody_listens_on_is_one_line_with_the_fix() {
    let dir = fixture();
    let path = dir.path().join("dead.sock");
    // A socket file whose listener is gone, like a stopped daemon's stale socket.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let host = format!("unix://{}", path.display());
    for args in [&["ls"][..], &["up", "shop"], &["down", "shop"]] {
        let result = run(dir.path(), &host, args);
        assert_one_clear_line(&args.join(" "), result, "DOCKER_HOST");
    }
}

#[test]
fn a_hung_engine_is_reported_after_the_connect_timeout() {
    let dir = fixture();
    let path = dir.path().join("hung.sock");
    // Accepts connections and never answers.
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
        }
        held
    });
    let host = format!("unix://{}", path.display());
    let result = run(dir.path(), &host, &["ls"]);
    assert_one_clear_line("ls", result, "no answer within");
    drop(keep);
}

/// A fake engine on a unix socket that speaks API 1.24 (Docker 1.12): `/_ping` and `/version`.
fn old_engine(path: &std::path::Path) {
    use std::io::{Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || loop {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => request.push(byte[0]),
                        _ => return,
                    }
                }
                let line = String::from_utf8_lossy(&request).into_owned();
                let body = if line.contains("/_ping") {
                    "OK".to_string()
                } else {
                    r#"{"Version":"1.12.6","ApiVersion":"1.24","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#.to_string()
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.24\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            });
        }
    });
}

#[test]
fn an_engine_too_old_is_one_line_with_the_fix() {
    let dir = fixture();
    let path = dir.path().join("old.sock");
    old_engine(&path);
    let host = format!("unix://{}", path.display());
    for args in [&["ls"][..], &["up", "shop"], &["gc", "shop"]] {
        let (code, stderr, took) = run(dir.path(), &host, args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line:\n{stderr}");
        assert!(lines[0].contains("API 1.24"), "{stderr}");
        assert!(lines[0].contains("upgrade Docker"), "{stderr}");
        assert!(took < PROMPTLY, "{args:?} took {took:?}");
    }
}
