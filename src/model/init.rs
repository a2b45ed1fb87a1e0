//! A service's `init:` steps: what seeds its data the first time its volume is made.
//!
//! The files the steps name are read when the definition loads, so the steps (and their
//! digest, which goes into the spec hash) say exactly what will run, and a changed seed file
//! shows up in `plan`.

use sha2::{Digest, Sha256};

/// One step of `init:`, run in order inside the service's container once it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitStep {
    /// An SQL file fed to the service's `sql_client` on its standard input.
    Sql(SeedFile),
    /// A command run in the container (no shell unless it names one).
    Exec(Vec<String>),
    /// Files copied into the container under `to` (a directory).
    Copy { to: String, files: Vec<SeedFile> },
}

/// A file of the definition, read when it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// As written in the definition (for `sql:`), or relative to the copied directory.
    pub name: String,
    pub content: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

/// The seeding of one service: its steps and how SQL reaches its database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Init {
    pub steps: Vec<InitStep>,
    /// A shell command that reads SQL on its standard input (`sql_client:`), e.g.
    /// `mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" "$MARIADB_DATABASE"`.
    pub sql_client: Option<String>,
}

impl Init {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// A digest of everything the steps do (file contents included): a changed seed changes
    /// the service's spec hash, and the marker on the volume records which seed ran.
    pub fn digest(&self) -> String {
        let mut digest = Sha256::new();
        // Length-prefixed parts, so no two different step lists encode alike.
        let mut part = |bytes: &[u8]| {
            digest.update(format!("{}:", bytes.len()).as_bytes());
            digest.update(bytes);
        };
        part(self.sql_client.as_deref().unwrap_or("").as_bytes());
        for step in &self.steps {
            match step {
                InitStep::Sql(file) => {
                    part(b"sql");
                    part(file.name.as_bytes());
                    part(&file.content);
                }
                InitStep::Exec(words) => {
                    part(b"exec");
                    part(words.len().to_string().as_bytes());
                    for word in words {
                        part(word.as_bytes());
                    }
                }
                InitStep::Copy { to, files } => {
                    part(b"copy");
                    part(to.as_bytes());
                    part(files.len().to_string().as_bytes());
                    for file in files {
                        part(file.name.as_bytes());
                        part(file.mode.to_string().as_bytes());
                        part(&file.content);
                    }
                }
            }
        }
        hex::encode(digest.finalize())
    }
}

/// The file that records a finished seed (its digest): on the service's first named volume, so
/// it lives exactly as long as the data; without one, in the container's own `/tmp`.
pub const MARKER_FILE: &str = ".envctl-init";

/// Where the marker of `service`'s seed lives inside its container.
pub fn marker_path(service: &super::Service) -> String {
    let volume = service
        .volumes
        .iter()
        .find(|v| matches!(v.source, super::VolumeSource::Named(_)) && !v.read_only);
    match volume {
        Some(v) => format!("{}/{MARKER_FILE}", v.target.trim_end_matches('/')),
        None => format!("/tmp/{MARKER_FILE}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(name: &str, content: &str) -> InitStep {
        InitStep::Sql(SeedFile {
            name: name.into(),
            content: content.as_bytes().to_vec(),
            mode: 0o644,
        })
    }

    #[test]
    fn the_digest_follows_file_contents_and_order() {
        let init = |steps: Vec<InitStep>| Init {
            steps,
            sql_client: Some("mariadb".into()),
        };
        let a = init(vec![sql("a.sql", "x"), sql("b.sql", "y")]);
        let changed = init(vec![sql("a.sql", "x"), sql("b.sql", "z")]);
        let swapped = init(vec![sql("b.sql", "y"), sql("a.sql", "x")]);
        assert_ne!(a.digest(), changed.digest());
        assert_ne!(a.digest(), swapped.digest());
        assert_eq!(a.digest(), a.clone().digest());
        let exec = |w: &[&str]| {
            init(vec![InitStep::Exec(
                w.iter().map(|s| s.to_string()).collect(),
            )])
        };
        assert_ne!(exec(&["a b"]).digest(), exec(&["a", "b"]).digest());
    }
}
