//! The inputs of a `build:` — Dockerfile, context files, build args — as digests, so a change
//! to any of them rebuilds the image. The digest is recorded on the image it built
//! (`io.envctl.build-inputs`) and compared with the files on every plan.
//!
//! Files are streamed through the hash in fixed-size chunks: memory stays bounded whatever the
//! size of the context. What `.dockerignore` excludes is not sent to the engine and does not
//! count (the same walk decides both).

use std::collections::BTreeMap;
use std::io::Read;

use sha2::{Digest, Sha256};

use crate::engine::build_context::{walk, EntryKind};
use crate::model::BuildSpec;

/// Label on a built image: the digest of the inputs it was built from.
pub const BUILD_INPUTS_LABEL: &str = "io.envctl.build-inputs";

/// The digest of each build input, hex sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildDigest {
    pub dockerfile: String,
    pub context: String,
    pub args: String,
}

impl BuildDigest {
    /// The label value: `dockerfile=<hex>,context=<hex>,args=<hex>`.
    pub fn to_label(&self) -> String {
        format!(
            "dockerfile={},context={},args={}",
            self.dockerfile, self.context, self.args
        )
    }

    pub fn from_label(text: &str) -> Option<Self> {
        let parts: BTreeMap<&str, &str> = text
            .split(',')
            .filter_map(|part| part.split_once('='))
            .collect();
        Some(Self {
            dockerfile: parts.get("dockerfile")?.to_string(),
            context: parts.get("context")?.to_string(),
            args: parts.get("args")?.to_string(),
        })
    }

    /// What differs from `old`, in words (`Dockerfile changed`, ...).
    pub fn changes_since(&self, old: &BuildDigest) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.dockerfile != old.dockerfile {
            changed.push("Dockerfile changed");
        }
        if self.context != old.context {
            changed.push("build context changed");
        }
        if self.args != old.args {
            changed.push("build args changed");
        }
        changed
    }
}

/// Why a build context could not be digested: which file, and the I/O error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnreadableContext(pub String);

/// Digests `build`'s inputs, reading the context from disk.
pub fn digest(build: &BuildSpec) -> Result<BuildDigest, UnreadableContext> {
    let context = &build.context;
    let fail = |what: &str, e: std::io::Error| {
        UnreadableContext(format!(
            "cannot read the build context {}: {what}: {e}",
            context.display()
        ))
    };
    let entries = walk(context, &build.dockerfile).map_err(|e| fail("listing it", e))?;
    let dockerfile_path = context.join(&build.dockerfile);
    let dockerfile = hash_file(&dockerfile_path)
        .map_err(|e| fail(&format!("the Dockerfile {}", build.dockerfile), e))?;

    let mut hasher = Sha256::new();
    for entry in &entries {
        // The Dockerfile has its own digest, so a plan can say which one changed.
        if entry.absolute == dockerfile_path {
            continue;
        }
        let (kind, detail) = match &entry.kind {
            EntryKind::Dir => ("d", String::new()),
            EntryKind::File { mode } => {
                let content = hash_file(&entry.absolute).map_err(|e| fail(&entry.path, e))?;
                ("f", format!("{mode:o}:{content}"))
            }
            EntryKind::Symlink(target) => ("l", target.display().to_string()),
        };
        // Length-prefixed: no two different listings feed the hash the same bytes.
        for part in [kind, entry.path.as_str(), detail.as_str()] {
            hasher.update(format!("{}:", part.len()));
            hasher.update(part);
        }
    }
    let mut args = Sha256::new();
    for (key, value) in &build.args {
        for part in [key, value] {
            args.update(format!("{}:", part.len()));
            args.update(part);
        }
    }
    Ok(BuildDigest {
        dockerfile,
        context: hex::encode(hasher.finalize()),
        args: hex::encode(args.finalize()),
    })
}

/// sha256 of a file's content, read in 64 KiB chunks.
fn hash_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(dir: &Path, args: &[(&str, &str)]) -> BuildSpec {
        BuildSpec {
            context: dir.to_path_buf(),
            dockerfile: "Dockerfile".into(),
            args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn each_input_changes_its_own_digest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join("app.txt"), "one").unwrap();
        std::fs::write(root.join("notes.log"), "ignored").unwrap();
        std::fs::write(root.join(".dockerignore"), "*.log\n").unwrap();
        let base = digest(&spec(root, &[("V", "1")])).unwrap();
        assert_eq!(base, digest(&spec(root, &[("V", "1")])).unwrap());

        std::fs::write(root.join("notes.log"), "still ignored").unwrap();
        assert_eq!(digest(&spec(root, &[("V", "1")])).unwrap(), base);

        let args = digest(&spec(root, &[("V", "2")])).unwrap();
        assert_eq!(args.changes_since(&base), ["build args changed"]);

        std::fs::write(root.join("app.txt"), "two").unwrap();
        let context = digest(&spec(root, &[("V", "1")])).unwrap();
        assert_eq!(context.changes_since(&base), ["build context changed"]);

        std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        let both = digest(&spec(root, &[("V", "1")])).unwrap();
        assert_eq!(both.changes_since(&context), ["Dockerfile changed"]);
    }

    #[test]
    fn the_label_round_trips() {
        let d = BuildDigest {
            dockerfile: "a".into(),
            context: "b".into(),
            args: "c".into(),
        };
        assert_eq!(BuildDigest::from_label(&d.to_label()), Some(d));
        assert_eq!(BuildDigest::from_label("junk"), None);
    }

    #[test]
    fn a_missing_context_is_named() {
        let err = digest(&spec(Path::new("/nonexistent/ctx"), &[])).unwrap_err();
        assert!(err.0.contains("/nonexistent/ctx"), "{err}");
    }
}
