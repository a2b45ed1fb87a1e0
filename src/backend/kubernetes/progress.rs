//! Progress of one operation (up, down) as `EventSink` events, timed from its start, as the
//! Docker path reports them.

use tokio::time::Instant;

use crate::apply::{EventSink, Phase, ServiceEvent};

pub struct Progress {
    sink: EventSink,
    began: Instant,
}

impl Progress {
    pub fn new(sink: EventSink) -> Self {
        Self {
            sink,
            began: Instant::now(),
        }
    }

    /// When the operation began (deadlines count from here).
    pub fn began(&self) -> Instant {
        self.began
    }

    pub fn emit(&self, service: &str, phase: Phase) {
        (self.sink)(ServiceEvent {
            service: service.to_string(),
            phase,
            elapsed: self.began.elapsed(),
        })
    }
}
