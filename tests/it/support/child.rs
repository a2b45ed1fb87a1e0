//! Reading a running envctl child's output line by line, with deadlines instead of sleeps.

use std::process::{Child, ExitStatus};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Lines of a child's stream, read on a thread.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one satisfies `done`; panics with what was read after `within` or when
/// the stream ends first.
pub fn read_until(
    rx: &Receiver<String>,
    within: Duration,
    mut done: impl FnMut(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!("expected output never came; read:\n{}", seen.join("\n"));
        };
        let finished = done(&line);
        seen.push(line);
        if finished {
            return seen;
        }
    }
}

/// Everything left on a stream once its process has exited.
pub fn rest(rx: &Receiver<String>) -> String {
    rx.iter().collect::<Vec<_>>().join("\n")
}

/// The child's exit status; panics when it has not exited within `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "envctl did not exit in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}
