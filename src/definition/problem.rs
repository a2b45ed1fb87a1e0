//! A problem found while resolving one service (by `resolve` and `init`), before it is
//! placed at its file and line.

use super::locate::Seg;

/// A problem inside one service; `path` is relative to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
    pub hint: Option<String>,
}
