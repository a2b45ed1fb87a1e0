//! The second, real Docker engine the remote-engine tests talk to: a dockerd in its own
//! network namespace, listening on TCP at its own address (`scripts/remote-engine.sh`).
//! `engine()` starts it when it is not running (idempotent, under the script's lock) and loads
//! the envctl/* images it lacks; `scripts/test.sh` starts it before the tests and stops it
//! after them, so a full run leaves the machine as found.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The engine's `DOCKER_HOST` (`tcp://10.231.7.2:2375`).
pub fn engine() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/remote-engine.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .output()
            .expect("run scripts/remote-engine.sh");
        assert!(
            out.status.success(),
            "scripts/remote-engine.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// The engine's TLS listener (`tcp://10.231.7.2:2376`, `--tlsverify`) and the directory of a
/// client certificate it trusts (`ca.pem`, `cert.pem`, `key.pem`), for `DOCKER_CERT_PATH`.
pub fn tls() -> (String, std::path::PathBuf) {
    engine();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/remote-engine.sh");
    let ask = |what: &str| {
        let out = Command::new("bash")
            .arg(&script)
            .arg(what)
            .output()
            .unwrap();
        assert!(out.status.success(), "remote-engine.sh {what}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (ask("tls-url"), ask("certs").into())
}

/// The engine host's address, as envctl should dial and advertise it.
pub fn host() -> &'static str {
    let url = engine();
    let rest = url.trim_start_matches("tcp://");
    rest.split(':').next().unwrap_or(rest)
}

/// The `docker` CLI against the remote engine.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .arg("-H")
        .arg(engine())
        .args(args)
        .output()
        .expect("docker CLI")
}

/// The remote engine's trimmed stdout for `args`, or the command and its stderr.
pub fn docker_stdout(args: &[&str]) -> Result<String, String> {
    let out = docker(args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker -H {} {args:?}: {}",
            engine(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `envctl ARGS` in `dir` against the remote engine: `DOCKER_HOST` names it and no advertise
/// address is forced (the engine host's is the default there).
pub fn envctl(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = super::envctl_in(dir, args);
    cmd.env("DOCKER_HOST", engine())
        .env_remove("ENVCTL_ADVERTISE_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("ENVCTL_ENGINE")
        .env(
            "ENVCTL_TEMPLATE_PATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        );
    cmd
}

/// Removes what is left of `env`'s instances on the remote engine (containers, networks,
/// volumes by label, the engine lock), reporting each failure; the guard every remote test
/// ends with.
pub fn sweep(env: &str) {
    let label = format!("label=io.envctl.env={env}");
    // The main instance's engine lock (lock volumes carry no env label).
    let lock = format!("label=io.envctl.lock={env}");
    let containers = (&["ps", "-aq"][..], &["rm", "-f", "-v"][..]);
    let networks = (&["network", "ls", "-q"][..], &["network", "rm"][..]);
    let volumes = (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]);
    for (kind, (list, remove), label) in [
        ("container", containers, &label),
        ("network", networks, &label),
        ("volume", volumes, &label),
        ("lock", volumes, &lock),
    ] {
        let mut args = list.to_vec();
        args.extend(["--filter", label.as_str()]);
        let Ok(ids) = docker_stdout(&args) else {
            continue;
        };
        for id in ids.lines() {
            let mut args = remove.to_vec();
            args.push(id);
            super::check_cleanup_result(&format!("{kind} {id} of {env}"), docker_stdout(&args));
        }
    }
}

/// A TCP relay to the remote engine on loopback whose connections the test can cut, as a
/// dropped link to a server would: `cut` resets every relayed connection and refuses new ones.
pub struct Relay {
    pub url: String,
    streams: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// While set, relayed bytes are held: the link goes silent, connections stay open.
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    pub fn start() -> Self {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let upstream = engine().trim_start_matches("tcp://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        let streams = std::sync::Arc::new(std::sync::Mutex::new(Vec::<TcpStream>::new()));
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (held, stop, hold) = (streams.clone(), cut.clone(), paused.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut list = held.lock().unwrap();
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (from, to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    let (hold, stop) = (hold.clone(), stop.clone());
                    std::thread::spawn(move || pump(from, to, &hold, &stop));
                }
                list.extend([client, server]);
            }
        });
        Self {
            url,
            streams,
            cut,
            paused,
        }
    }

    /// What makes the link go silent (as when packets are dropped): from then on nothing is
    /// relayed and nothing closed. Callable from anywhere (an engine's progress callback).
    pub fn pauser(&self) -> impl Fn() + Send + Sync + 'static {
        let paused = self.paused.clone();
        move || paused.store(true, std::sync::atomic::Ordering::SeqCst)
    }

    /// Drops the link: every relayed connection is shut, and no new one is relayed.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        // Wakes the accept loop so it sees `cut` and closes the listener.
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("tcp://"));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Relays `from` to `to` until either ends or the relay is cut, holding bytes while paused.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    paused: &std::sync::atomic::AtomicBool,
    cut: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        // Polled, as the relay has nothing to wait on but the flag.
        while paused.load(Ordering::SeqCst) && !cut.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}
