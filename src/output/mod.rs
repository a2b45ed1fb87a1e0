//! Everything envctl shows: command results ([`report`]), live progress ([`progress`]), and the
//! pipe-safe streams both write through ([`stream`]).

pub mod progress;
pub mod report;
pub mod stream;

pub use progress::{
    plain_line, renderer, JsonLines, PlainLines, Progress, Renderer, SharedRenderer,
};
pub use report::{emit, failure_report, is_failure, table, Report};
