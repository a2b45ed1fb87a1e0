//! The only way envctl writes to stdout and stderr. A closed stream (`envctl ls | head -1`, a
//! terminal that went away) must never decide the outcome: a failed write is dropped, the work
//! goes on to the end, and the exit status reflects the work. `println!` would panic instead.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout and flushes; a failure marks stdout closed and is otherwise ignored.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    write(&mut std::io::stdout().lock(), &STDOUT_CLOSED, args);
}

/// Writes to stderr; a failure marks stderr closed and is otherwise ignored.
pub fn write_stderr(args: fmt::Arguments<'_>) {
    write(&mut std::io::stderr().lock(), &STDERR_CLOSED, args);
}

/// Writes raw bytes (e.g. a command's output) to stdout, as `write_stdout` does text.
pub fn write_stdout_bytes(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether a write to stdout has failed: nobody reads it any more (a follower can stop).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

fn write(out: &mut dyn Write, closed: &AtomicBool, args: fmt::Arguments<'_>) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// `print!` that never panics: see [`write_stdout`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stream::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics: see [`write_stdout`].
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stream::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::stream::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics: see [`write_stderr`].
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stream::write_stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics: see [`write_stderr`].
#[macro_export]
macro_rules! errln {
    () => { $crate::output::stream::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::stream::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone away.
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_remembered_not_fatal() {
        let closed = AtomicBool::new(false);
        write(&mut Closed, &closed, format_args!("hello {}", 1));
        assert!(closed.load(Ordering::Relaxed));
        // Later writes are dropped without touching the stream.
        write(&mut Closed, &closed, format_args!("again"));
    }
}
