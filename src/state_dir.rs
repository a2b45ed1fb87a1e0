//! Where envctl keeps per-machine state (the spec key, remembered seed digests).

use std::path::PathBuf;

/// `$ENVCTL_STATE_DIR`, else the user's state directory (`~/.local/state/envctl`), else the
/// local data directory.
pub fn state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ENVCTL_STATE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("envctl"))
}
