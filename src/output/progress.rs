//! Draws the events of `apply` and `down`: a live line per service on a terminal (indicatif),
//! plain lines otherwise, JSON lines for scripts. The only place progress is printed.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::apply::{Phase, ServiceEvent};

/// Something that shows events as they come.
pub trait Renderer: Send {
    fn event(&mut self, event: &ServiceEvent);
    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// A renderer shared by the event sink that `apply` calls and the command that finishes it.
pub struct SharedRenderer(std::sync::Arc<std::sync::Mutex<Box<dyn Renderer>>>);

impl SharedRenderer {
    pub fn new(json: bool) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(renderer(json))))
    }

    /// The sink to hand to `apply`/`down`: every event is drawn by this renderer.
    pub fn sink(&self) -> crate::apply::EventSink {
        let shared = self.0.clone();
        std::sync::Arc::new(move |event| {
            shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .event(&event)
        })
    }

    pub fn finish(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).finish();
    }
}

/// Picks the renderer: JSON lines when asked, progress bars on a terminal, plain lines otherwise.
pub fn renderer(json: bool) -> Box<dyn Renderer> {
    if json {
        Box::new(JsonLines)
    } else if std::io::stderr().is_terminal() {
        Box::new(Progress::new())
    } else {
        Box::new(PlainLines::default())
    }
}

/// One JSON object per event on stdout.
pub struct JsonLines;

impl Renderer for JsonLines {
    fn event(&mut self, event: &ServiceEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            crate::outln!("{line}");
        }
    }
}

/// How often a log shows an image transfer's progress again (a copy or pull over a slow link
/// takes minutes; a line per update would drown the log).
const TRANSFER_LINE_EVERY: Duration = Duration::from_secs(5);

/// A line per change of phase, for logs and CI; a running transfer again every few seconds.
#[derive(Default)]
pub struct PlainLines {
    /// Per service: the phase of its last line, and when (`elapsed`) it was printed.
    last: BTreeMap<String, (&'static str, Duration)>,
}

impl PlainLines {
    /// Whether `event` gets a line: a new phase, or a transfer's progress after a while.
    fn shows(&mut self, event: &ServiceEvent) -> bool {
        let word = event.phase.word();
        let transfer = matches!(event.phase, Phase::Pulling { .. } | Phase::Copying { .. });
        // Repeated health-check attempts would drown the log: one line each.
        let repeat = match self.last.get(&event.service) {
            Some((last, at)) if *last == word => {
                transfer && event.elapsed.saturating_sub(*at) >= TRANSFER_LINE_EVERY
            }
            _ => true,
        };
        if repeat {
            self.last
                .insert(event.service.clone(), (word, event.elapsed));
        }
        repeat
    }
}

impl Renderer for PlainLines {
    fn event(&mut self, event: &ServiceEvent) {
        if self.shows(event) {
            crate::outln!("{}", plain_line(event));
        }
    }
}

/// `[  1.2s] db: waiting (health check: ...)`.
pub fn plain_line(event: &ServiceEvent) -> String {
    let detail = event.phase.detail();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    format!(
        "[{:>6.1}s] {}: {}{detail}",
        event.elapsed.as_secs_f64(),
        event.service,
        event.phase.word()
    )
}

/// A live spinner line per service.
pub struct Progress {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    style: ProgressStyle,
    done_style: ProgressStyle,
}

impl Progress {
    fn new() -> Self {
        let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let done_style = ProgressStyle::with_template("  {prefix:<28} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Self {
            multi: MultiProgress::new(),
            bars: BTreeMap::new(),
            style,
            done_style,
        }
    }
}

impl Renderer for Progress {
    fn event(&mut self, event: &ServiceEvent) {
        let bar = self.bars.entry(event.service.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(self.style.clone());
            bar.set_prefix(event.service.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let detail = event.phase.detail();
        let message = if detail.is_empty() {
            event.phase.word().to_string()
        } else {
            format!("{} {}", event.phase.word(), truncate(&detail, 70))
        };
        if event.phase.is_final() {
            bar.set_style(self.done_style.clone());
            bar.finish_with_message(format!("{message} ({:.1}s)", event.elapsed.as_secs_f64()));
        } else {
            bar.set_message(message);
        }
    }

    fn finish(&mut self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_show_phase_and_detail() {
        let e = ServiceEvent {
            service: "db".into(),
            phase: Phase::Waiting {
                reason: "for zk to be healthy".into(),
            },
            elapsed: Duration::from_millis(1234),
        };
        assert_eq!(
            plain_line(&e),
            "[   1.2s] db: waiting (for zk to be healthy)"
        );
    }

    #[test]
    fn plain_lines_repeat_a_transfer_every_few_seconds_only() {
        let at = |secs: u64, phase: Phase| ServiceEvent {
            service: "web".into(),
            phase,
            elapsed: Duration::from_secs(secs),
        };
        let copying = |sent| Phase::Copying {
            image: "img".into(),
            sent,
            total: 100,
        };
        let waiting = || Phase::Waiting {
            reason: "health check".into(),
        };
        let mut plain = PlainLines::default();
        let shown: Vec<bool> = [
            at(0, copying(0)),
            at(2, copying(10)),
            at(5, copying(50)),
            at(6, copying(60)),
            at(7, waiting()),
            at(20, waiting()),
        ]
        .iter()
        .map(|e| plain.shows(e))
        .collect();
        assert_eq!(shown, [true, false, true, false, true, false]);
    }
}
