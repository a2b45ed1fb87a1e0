//! Watching the engine's container, network and volume events from a test, with sentinel
//! events marking where a window starts and ends, so "nothing happened" is proven rather than
//! assumed: a window only counts once its end sentinel was seen.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// One engine event, as `docker events --format '{{json .}}'` reports it.
#[derive(Debug, Clone)]
pub struct Event {
    /// `container`, `network` or `volume`.
    pub kind: String,
    pub action: String,
    /// The container's or network's name, or the volume's (its id is its name).
    pub name: String,
    /// The signal of a container `kill` event (`9`, `15`), else empty.
    pub signal: String,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.kind, self.action, self.name)
    }
}

/// A running `docker events` for containers, networks and volumes, from the moment `start`
/// returns (it waits for its own first sentinel, so the subscription is live).
pub struct EventWatch {
    child: Child,
    lines: Receiver<String>,
    tag: String,
    marks: usize,
}

/// How long a sentinel may take to come back before the test fails.
const SENTINEL_DEADLINE: Duration = Duration::from_secs(60);

impl EventWatch {
    /// Starts watching; `tag` (unique per test, e.g. the instance) names the sentinels.
    pub fn start(tag: &str) -> Self {
        let mut child = Command::new("docker")
            .args([
                "events",
                "--filter",
                "type=container",
                "--filter",
                "type=network",
                "--filter",
                "type=volume",
                "--format",
                "{{json .}}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut watch = Self {
            child,
            lines,
            tag: tag.to_string(),
            marks: 0,
        };
        // The subscription is live once a sentinel comes back; until then, sentinels can be
        // missed, so retry (each try is short, the whole start is bounded).
        let deadline = Instant::now() + SENTINEL_DEADLINE;
        while watch.try_mark(Duration::from_secs(1)).is_none() {
            assert!(
                Instant::now() < deadline,
                "docker events never reported a sentinel in {SENTINEL_DEADLINE:?}"
            );
        }
        watch
    }

    /// Creates and removes a throwaway volume of this test's own, and returns every event seen
    /// before its removal came back. Panics when it does not come back in time or the stream
    /// ends: then the window was never seen to close.
    pub fn mark(&mut self) -> Vec<Event> {
        self.try_mark(SENTINEL_DEADLINE)
            .unwrap_or_else(|| panic!("no sentinel came back within {SENTINEL_DEADLINE:?}"))
    }

    fn try_mark(&mut self, wait: Duration) -> Option<Vec<Event>> {
        self.marks += 1;
        let name = format!("envctl-test-sentinel.{}.{}", self.tag, self.marks);
        let made = super::docker_cli(&[
            "volume",
            "create",
            "--label",
            "io.envctl.test=sentinel",
            &name,
        ]);
        super::assert_ok(&made);
        super::assert_ok(&super::docker_cli(&["volume", "rm", &name]));
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the event stream ended before sentinel {name}")
                }
            };
            let event = parse(&line);
            if event.kind == "volume" && event.name == name && event.action == "destroy" {
                return Some(seen);
            }
            seen.push(event);
        }
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        super::check_cleanup_result("the docker events process", self.child.kill());
        super::check_cleanup_result("the docker events process", self.child.wait());
    }
}

fn parse(line: &str) -> Event {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("event {line:?}: {e}"));
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let actor = &v["Actor"];
    let kind = text(&v["Type"]);
    let name = match kind.as_str() {
        "volume" => text(&actor["ID"]),
        _ => text(&actor["Attributes"]["name"]),
    };
    Event {
        kind,
        action: text(&v["Action"]),
        name,
        signal: text(&actor["Attributes"]["signal"]),
    }
}

/// Whether an object name belongs to `instance`: its containers `<instance>-<service>`, its
/// network `envctl-<instance>`, its volumes `<instance>_<name>` and leases
/// `envctl-lease.<instance>.<n>` (the separators keep `x1` from matching `x10`).
pub fn of_instance(name: &str, instance: &str) -> bool {
    name == format!("envctl-{instance}")
        || [
            format!("{instance}-"),
            format!("{instance}_"),
            format!("envctl-lease.{instance}."),
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix.as_str()))
}
