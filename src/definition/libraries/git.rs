//! The git CLI as a process: a bare mirror per repository URL in the cache, and one extracted
//! tree per commit. No hand-written protocol; git's own transports, credentials and config apply.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// Why a git step failed; the text is git's own message, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0} (is git installed and on PATH?)")]
    NotRunnable(String),
    #[error("{0}")]
    Failed(String),
}

/// Where libraries are cached: `$ENVCTL_CACHE_DIR/libraries`, else the user's cache directory.
pub fn cache_root() -> PathBuf {
    // A bad value was refused at startup (`settings::check_environment`).
    let base = crate::settings::cache_dir()
        .ok()
        .flatten()
        .or_else(|| dirs::cache_dir().map(|d| d.join("envctl")))
        .unwrap_or_else(|| std::env::temp_dir().join("envctl-cache"));
    base.join("libraries")
}

/// The cache directory of one repository URL: readable name plus a hash of the exact URL.
pub fn repo_key(url: &str) -> String {
    let hash = hex::encode(Sha256::digest(url.as_bytes()));
    let stem: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{stem}-{}", &hash[..16])
}

fn git(args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(args)
        // Never prompt for credentials: a CLI run must fail, not hang.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command) -> Result<Vec<u8>, GitError> {
    let out = cmd
        .output()
        .map_err(|e| GitError::NotRunnable(e.to_string()))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Err(GitError::Failed(if text.is_empty() {
            format!("git exited with {}", out.status)
        } else {
            text
        }))
    }
}

fn git_dir_arg(repo: &Path) -> String {
    format!("--git-dir={}", repo.display())
}

/// Makes `repo` (a bare mirror) hold every branch and tag of `url`: cloned when missing,
/// fetched otherwise (tags may move, so they are forced).
pub fn fetch(url: &str, repo: &Path) -> Result<(), GitError> {
    if repo.join("HEAD").is_file() {
        let dir = git_dir_arg(repo);
        let cmd = git(&[
            &dir,
            "fetch",
            "--quiet",
            "--prune",
            "--force",
            "--",
            url,
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ]);
        return run(cmd).map(drop);
    }
    let parent = repo.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| GitError::Failed(format!("cannot create cache {}: {e}", parent.display())))?;
    // Clone beside the target, then rename: a concurrent or interrupted clone never leaves a
    // half-made mirror under the final name.
    let tmp = parent.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        repo.file_name().and_then(|n| n.to_str()).unwrap_or("repo")
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let tmp_text = tmp.display().to_string();
    let cmd = git(&["clone", "--bare", "--quiet", "--", url, &tmp_text]);
    let cloned = run(cmd);
    if let Err(e) = cloned {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if std::fs::rename(&tmp, repo).is_err() {
        // Someone else finished first; theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&tmp);
        if !repo.join("HEAD").is_file() {
            return Err(GitError::Failed(format!(
                "cannot move the clone into {}",
                repo.display()
            )));
        }
    }
    Ok(())
}

/// The full commit id `git_ref` (tag, branch or commit) names in `repo`, if any.
pub fn resolve_ref(repo: &Path, git_ref: &str) -> Option<String> {
    if !repo.join("HEAD").is_file() {
        return None;
    }
    let dir = git_dir_arg(repo);
    let spec = format!("{git_ref}^{{commit}}");
    let cmd = git(&[
        &dir,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &spec,
    ]);
    let out = run(cmd).ok()?;
    let id = String::from_utf8_lossy(&out).trim().to_string();
    (!id.is_empty()).then_some(id)
}

/// Whether `repo` holds `commit`.
pub fn has_commit(repo: &Path, commit: &str) -> bool {
    resolve_ref(repo, commit).is_some_and(|id| id == commit)
}

/// Writes the files of `commit` to `dest` (created atomically: a temp dir, then rename).
pub fn extract(repo: &Path, commit: &str, dest: &Path) -> Result<(), GitError> {
    if dest.is_dir() {
        return Ok(());
    }
    let dir = git_dir_arg(repo);
    let tar_bytes = run(git(&[&dir, "archive", "--format=tar", commit]))?;
    let parent = dest.parent().unwrap_or(Path::new("."));
    let io = |e: std::io::Error| GitError::Failed(format!("cannot write {}: {e}", dest.display()));
    std::fs::create_dir_all(parent).map_err(io)?;
    let tmp = parent.join(format!(".tmp-{}-{commit}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    tar::Archive::new(&tar_bytes[..]).unpack(&tmp).map_err(io)?;
    if std::fs::rename(&tmp, dest).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dest.is_dir() {
            return Err(GitError::Failed(format!(
                "cannot move the tree into {}",
                dest.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_keys_are_readable_and_distinct() {
        let a = repo_key("https://example.com/platform/templates.git");
        let b = repo_key("https://example.com/other/templates.git");
        assert!(a.starts_with("templates-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, repo_key("https://example.com/platform/templates.git"));
    }
}
