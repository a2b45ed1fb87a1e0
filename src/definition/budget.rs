//! Bounded rendering: every definition and template file is read, rendered and parsed within
//! fixed limits, so no input makes envctl run for ever or fill the memory.
//!
//! - a file larger than `MAX_SOURCE_BYTES` is not read;
//! - one rendering may write at most `MAX_RENDERED_BYTES` (checked while Tera writes);
//! - loading one definition (the file, its bases and every template it uses) must finish
//!   rendering within `RENDER_TIME`;
//! - a rendering may grow the process by at most `RENDER_MEMORY` (checked at loop
//!   checkpoints), and `replace`/`join` refuse to build a string over the output budget.
//!
//! Tera cannot be cancelled from outside, so the time budget is enforced from inside: every
//! `{% for %}` body starts with a call to a checkpoint function (inserted before rendering;
//! it writes nothing) that fails the rendering once the deadline has passed, and records the
//! line of the loop so the error can name it. Rendering runs on a worker thread that the
//! caller waits for only until shortly after the deadline, so even work that reaches no
//! checkpoint cannot hold the process: the caller reports the error and the process exits.
//! Tera itself refuses `range()` of more than 100 000 numbers.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Definition and template files larger than this are refused unread.
pub const MAX_SOURCE_BYTES: u64 = 1024 * 1024;
/// One rendering may write at most this much text.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;
/// Rendering everything one definition needs must finish within this time.
pub const RENDER_TIME: Duration = Duration::from_secs(5);
/// How much a rendering may grow the process's resident memory (strings built in loops).
pub const RENDER_MEMORY: u64 = 256 * 1024 * 1024;
/// How long past the deadline the caller waits for a rendering that reached no checkpoint.
pub const GRACE: Duration = Duration::from_secs(1);

/// The name of the checkpoint function inserted into loop bodies.
pub const CHECKPOINT: &str = "__envctl_loop";

/// Why a rendering was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Time,
    Output,
    Memory,
}

impl Exceeded {
    pub fn message(self) -> String {
        match self {
            Exceeded::Time => format!(
                "rendering takes longer than the time budget of {} s (a loop too large for a definition?)",
                RENDER_TIME.as_secs()
            ),
            Exceeded::Output => format!(
                "the rendered text is larger than the budget of {} MiB (a loop too large for a definition?)",
                MAX_RENDERED_BYTES / (1024 * 1024)
            ),
            Exceeded::Memory => format!(
                "rendering uses more than the memory budget of {} MiB (strings built in a loop?)",
                RENDER_MEMORY / (1024 * 1024)
            ),
        }
    }
}

/// What a rendering has done so far, shared between the worker and the caller.
#[derive(Debug)]
pub struct Progress {
    pub deadline: Instant,
    /// The 1-based source line of the loop last entered (0: none yet).
    last_loop_line: AtomicUsize,
    /// Checkpoints passed, to space out memory checks.
    checkpoints: AtomicUsize,
    /// Resident memory when rendering started, when the system tells.
    start_memory: Option<u64>,
    timed_out: AtomicBool,
    overflowed: AtomicBool,
    out_of_memory: AtomicBool,
}

impl Progress {
    pub fn new(deadline: Instant) -> Arc<Self> {
        Arc::new(Self {
            deadline,
            last_loop_line: AtomicUsize::new(0),
            checkpoints: AtomicUsize::new(0),
            start_memory: resident_memory(),
            timed_out: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            out_of_memory: AtomicBool::new(false),
        })
    }

    /// Called at the start of every loop iteration: records where, and stops the rendering
    /// once the deadline has passed.
    pub fn checkpoint(&self, line: usize) -> Result<(), Exceeded> {
        self.last_loop_line.store(line, Ordering::Relaxed);
        if Instant::now() >= self.deadline {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(Exceeded::Time);
        }
        // Every checkpoint at first (a string doubling per iteration needs few), then every
        // 64th, so long loops of small bodies do not pay a read of /proc each time.
        let n = self.checkpoints.fetch_add(1, Ordering::Relaxed);
        if n < 4096 || n.is_multiple_of(64) {
            if let (Some(start), Some(now)) = (self.start_memory, resident_memory()) {
                if now.saturating_sub(start) > RENDER_MEMORY {
                    self.out_of_memory.store(true, Ordering::Relaxed);
                    return Err(Exceeded::Memory);
                }
            }
        }
        Ok(())
    }

    /// The budget this rendering ran out of, if any.
    pub fn exceeded(&self) -> Option<Exceeded> {
        if self.overflowed.load(Ordering::Relaxed) {
            Some(Exceeded::Output)
        } else if self.out_of_memory.load(Ordering::Relaxed) {
            Some(Exceeded::Memory)
        } else if self.timed_out.load(Ordering::Relaxed) {
            Some(Exceeded::Time)
        } else {
            None
        }
    }

    /// The line of the loop last entered, if any.
    pub fn last_loop_line(&self) -> Option<usize> {
        Some(self.last_loop_line.load(Ordering::Relaxed)).filter(|l| *l > 0)
    }
}

/// The process's resident memory in bytes (Linux: `VmRSS` of /proc/self/status).
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The length of `text.replace(from, to)`, without building it.
pub fn replaced_len(text: &str, from: &str, to: &str) -> usize {
    let count = if from.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(from).count()
    };
    (text.len() - count * from.len()).saturating_add(count.saturating_mul(to.len()))
}

/// A filter was about to build a string over the output budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{filter}` would build a string of {} MiB, more than the budget of {} MiB", .len / (1024 * 1024), MAX_RENDERED_BYTES / (1024 * 1024))]
pub struct TooLong {
    pub filter: &'static str,
    pub len: usize,
}

/// Refuses a string of `len` bytes about to be built by `filter`.
pub fn check_string_len(filter: &'static str, len: usize) -> Result<(), TooLong> {
    if len > MAX_RENDERED_BYTES {
        return Err(TooLong { filter, len });
    }
    Ok(())
}

/// A buffer that refuses to grow past `MAX_RENDERED_BYTES`.
pub struct LimitedWriter {
    pub buffer: Vec<u8>,
    progress: Arc<Progress>,
}

impl LimitedWriter {
    pub fn new(progress: Arc<Progress>) -> Self {
        Self {
            buffer: Vec::new(),
            progress,
        }
    }
}

impl Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buffer.len() + data.len() > MAX_RENDERED_BYTES {
            self.progress.overflowed.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(Exceeded::Output.message()));
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Tera source with a checkpoint call at the start of every loop body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrumented {
    pub text: String,
    /// Where text was inserted: (1-based line, 0-based char column, length), in order.
    inserted: Vec<(usize, usize, usize)>,
}

impl Instrumented {
    /// Maps a (1-based line, 0-based column) of the instrumented text back to the source.
    pub fn source_position(&self, line: usize, col: usize) -> (usize, usize) {
        let mut shift = 0;
        for &(at_line, at_col, len) in &self.inserted {
            if at_line == line && at_col < col {
                // Inside the inserted call: point at where it was inserted.
                shift += (col - at_col).min(len);
            }
        }
        (line, col - shift)
    }
}

/// Inserts `{{ __envctl_loop(line=N) }}` right after every `{% for ... %}` tag. The call
/// writes nothing and keeps the tag's whitespace control (`-%}` trims after the call
/// instead), so the output is unchanged. Comments, expressions and `{% raw %}` blocks are
/// skipped.
pub fn instrument(source: &str) -> Instrumented {
    let mut text = String::with_capacity(source.len());
    let mut inserted = Vec::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = next_open(source, at) {
        let (start, open) = found;
        let close = match open {
            "{#" => "#}",
            "{{" => "}}",
            _ => "%}",
        };
        let Some(end) = source[start + 2..].find(close).map(|i| start + 2 + i) else {
            break;
        };
        let after = end + close.len();
        at = after;
        if open != "{%" {
            continue;
        }
        let inner = source[start + 2..end].trim_start_matches('-').trim_start();
        let word = inner.split_whitespace().next().unwrap_or("");
        if word == "raw" {
            at = end_of_raw(source, after);
            continue;
        }
        if word != "for" {
            continue;
        }
        let line = source[..start].matches('\n').count() + 1;
        let trims_after = source[..end].ends_with('-');
        let call = format!(
            "{{{{ {CHECKPOINT}(line={line}) {}}}}}",
            if trims_after { "-" } else { "" }
        );
        text.push_str(&source[copied..after]);
        copied = after;
        let insert_line = source[..after].matches('\n').count() + 1;
        let line_start = source[..after].rfind('\n').map_or(0, |i| i + 1);
        let insert_col = source[line_start..after].chars().count();
        inserted.push((insert_line, insert_col, call.chars().count()));
        text.push_str(&call);
    }
    text.push_str(&source[copied..]);
    Instrumented { text, inserted }
}

/// The next `{{`, `{%` or `{#` at or after `from`.
fn next_open(source: &str, from: usize) -> Option<(usize, &'static str)> {
    ["{{", "{%", "{#"]
        .into_iter()
        .filter_map(|open| source[from..].find(open).map(|i| (from + i, open)))
        .min_by_key(|(i, _)| *i)
}

/// Where the text after the `{% endraw %}` that closes a raw block starting at `from` begins.
fn end_of_raw(source: &str, from: usize) -> usize {
    let mut at = from;
    while let Some(i) = source[at..].find("{%") {
        let start = at + i;
        let Some(end) = source[start..].find("%}").map(|e| start + e) else {
            return source.len();
        };
        let inner = source[start + 2..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if inner == "endraw" {
            return end + 2;
        }
        at = end + 2;
    }
    source.len()
}

/// Reads a definition or template file, refusing one over `MAX_SOURCE_BYTES` unread.
pub fn read_source(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    // One byte more than allowed tells a file at the limit from one over it.
    file.take(MAX_SOURCE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SOURCE_BYTES {
        return Err(std::io::Error::other(format!(
            "the file is larger than the limit of {} KiB",
            MAX_SOURCE_BYTES / 1024
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_get_a_checkpoint_and_keep_their_whitespace_control() {
        let source = "a\n{% for i in x %}b{% endfor %}\n  {%- for j in y -%}\n c{% endfor %}";
        let got = instrument(source);
        assert_eq!(
            got.text,
            "a\n{% for i in x %}{{ __envctl_loop(line=2) }}b{% endfor %}\n  {%- for j in y -%}{{ __envctl_loop(line=3) -}}\n c{% endfor %}"
        );
        // A column after the inserted call maps back; one inside it points at the insertion.
        assert_eq!(got.source_position(2, 16 + 27), (2, 16));
        assert_eq!(got.source_position(2, 20), (2, 16));
        assert_eq!(got.source_position(2, 3), (2, 3));
        assert_eq!(got.source_position(1, 40), (1, 40));
    }

    #[test]
    fn comments_expressions_and_raw_blocks_are_left_alone() {
        let source = "{# {% for a in b %} #}{{ '{% for' }}{% raw %}{% for x in y %}{% endraw %}{% if x %}{% endif %}";
        assert_eq!(instrument(source).text, source);
    }

    #[test]
    fn the_checkpoint_stops_after_the_deadline_and_remembers_the_line() {
        let progress = Progress::new(Instant::now() + Duration::from_secs(60));
        assert_eq!(progress.checkpoint(7), Ok(()));
        assert_eq!(progress.last_loop_line(), Some(7));
        assert_eq!(progress.exceeded(), None);
        let late = Progress::new(Instant::now());
        assert_eq!(late.checkpoint(3), Err(Exceeded::Time));
        assert_eq!(late.exceeded(), Some(Exceeded::Time));
    }

    #[test]
    fn replaced_lengths_are_known_before_building() {
        for (text, from, to) in [
            ("a-b-c", "-", "=="),
            ("abc", "", "x"),
            ("aaa", "aa", ""),
            ("", "a", "b"),
        ] {
            assert_eq!(
                replaced_len(text, from, to),
                text.replace(from, to).len(),
                "{text} {from} {to}"
            );
        }
        assert!(check_string_len("replace", MAX_RENDERED_BYTES).is_ok());
        assert!(check_string_len("replace", MAX_RENDERED_BYTES + 1).is_err());
    }

    #[test]
    fn the_writer_refuses_to_grow_past_the_budget() {
        let progress = Progress::new(Instant::now() + Duration::from_secs(60));
        let mut writer = LimitedWriter::new(progress.clone());
        writer.write_all(&vec![b'x'; MAX_RENDERED_BYTES]).unwrap();
        assert!(writer.write_all(b"y").is_err());
        assert_eq!(progress.exceeded(), Some(Exceeded::Output));
    }

    #[test]
    fn large_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'a'; MAX_SOURCE_BYTES as usize + 1]).unwrap();
        let err = read_source(&big).unwrap_err();
        assert!(err.to_string().contains("larger than the limit"), "{err}");
        let fits = dir.path().join("fits.yaml");
        std::fs::write(&fits, vec![b'a'; MAX_SOURCE_BYTES as usize]).unwrap();
        assert!(read_source(&fits).is_ok());
    }
}
