//! One image's pull, build or copy progress as events for every service that uses it. Layer
//! updates come in bursts; a few events per second are plenty for humans and scripts, and the
//! last one held back is shown at `finish`, so the final count (`80.0/80.0 MB`) is never lost.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::ImageProgress;

use super::{pull_progress::PullProgress, EventSink, Phase, ServiceEvent};

/// The shortest gap between two progress events of one image.
const MIN_GAP: Duration = Duration::from_millis(250);

pub struct ImageReporter {
    image: String,
    users: Vec<String>,
    sink: EventSink,
    began: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    layers: PullProgress,
    last_emit: Option<Instant>,
    /// The latest phase skipped for coming too soon after the previous one.
    held: Option<Phase>,
}

impl ImageReporter {
    /// Reports `image`'s progress to the services `users`; `began` is when the operation did.
    pub fn new(image: &str, users: Vec<String>, sink: EventSink, began: Instant) -> Self {
        Self {
            image: image.to_string(),
            users,
            sink,
            began,
            state: Mutex::default(),
        }
    }

    /// Tells every user `phase` now.
    pub fn emit(&self, phase: Phase) {
        for user in &self.users {
            (self.sink)(ServiceEvent {
                service: user.clone(),
                phase: phase.clone(),
                elapsed: self.began.elapsed(),
            });
        }
    }

    /// Takes one update from the engine; emits it unless the previous one was too recent.
    pub fn progress(&self, update: ImageProgress) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image.clone();
        let phase = match update {
            ImageProgress::Layer {
                id,
                status,
                current,
                total,
            } => Phase::Pulling {
                image,
                progress: state.layers.update(&id, &status, current, total),
            },
            ImageProgress::Line(line) => Phase::Building { image, line },
            ImageProgress::Copy { sent, total } => Phase::Copying { image, sent, total },
        };
        let now = Instant::now();
        if state
            .last_emit
            .is_some_and(|t| now.duration_since(t) < MIN_GAP)
        {
            state.held = Some(phase);
            return;
        }
        state.last_emit = Some(now);
        state.held = None;
        drop(state);
        self.emit(phase);
    }

    /// Emits the last update `progress` held back, if any: the work is done.
    pub fn finish(&self) {
        let held = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .held
            .take();
        if let Some(phase) = held {
            self.emit(phase);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn bursts_are_thinned_and_the_last_update_is_kept() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink: EventSink = {
            let seen = seen.clone();
            Arc::new(move |e: ServiceEvent| seen.lock().unwrap().push(e))
        };
        let reporter =
            ImageReporter::new("img", vec!["a".into(), "b".into()], sink, Instant::now());
        for sent in [0, 10, 20, 30] {
            let (sent, total) = (sent * 1_000_000, 30_000_000);
            reporter.progress(ImageProgress::Copy { sent, total });
        }
        // The first update goes out to both users; the burst after it is held back.
        assert_eq!(seen.lock().unwrap().len(), 2);
        reporter.finish();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(
            seen[3].phase,
            Phase::Copying {
                image: "img".into(),
                sent: 30_000_000,
                total: 30_000_000
            }
        );
        assert_eq!(seen[3].phase.detail(), "img to the engine: 30.0/30.0 MB");
    }
}
