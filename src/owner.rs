//! Who runs envctl, as instances record it (`io.envctl.owner`): `user@host`, or the value of
//! `ENVCTL_OWNER` (`up --owner` sets it per command). A team on one server tells its instances
//! apart by it: `ls` shows it, `ls --mine` filters on it, `down` of another's needs `--force`.

/// The variable that overrides the machine's `user@host`.
pub const VAR: &str = "ENVCTL_OWNER";

/// `ENVCTL_OWNER`, else `$USER@hostname`.
pub fn current() -> String {
    if let Some(owner) = std::env::var(VAR).ok().filter(|v| !v.trim().is_empty()) {
        return owner.trim().to_string();
    }
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", hostname())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `recorded` (an instance's `io.envctl.owner`) is someone other than `me`. An
/// instance without the label predates owners and belongs to nobody in particular.
pub fn is_someone_else(recorded: Option<&str>, me: &str) -> bool {
    recorded.is_some_and(|owner| owner != me)
}

#[cfg(test)]
mod tests {
    #[test]
    fn others_and_unowned() {
        assert!(super::is_someone_else(Some("a@x"), "b@y"));
        assert!(!super::is_someone_else(Some("a@x"), "a@x"));
        assert!(!super::is_someone_else(None, "a@x"));
        assert!(super::current().contains('@') || std::env::var(super::VAR).is_ok());
    }
}
