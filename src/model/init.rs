//! A service's `init:` steps: what seeds its data the first time its volume is made.
//!
//! The files the steps name are hashed when the definition loads, so the steps (and their
//! digest, which goes into the spec hash) say exactly what will run, and a changed seed file
//! shows up in `plan`. Their bytes are read only when a step runs, streamed from disk: a seed
//! may be a database dump of gigabytes.

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

/// A file of the definition, hashed when it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// As written in the definition (for `sql:`), or relative to the copied directory.
    pub name: String,
    pub source: SeedSource,
    /// Its size and SHA-256 (hex) when the definition loaded; a file that differs when the
    /// step runs is refused rather than seeded with something `plan` never saw.
    pub size: u64,
    pub sha256: String,
    /// Unix permission bits.
    pub mode: u32,
}

/// Where a seed file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedSource {
    /// A file of the definition's tree (absolute path).
    Path(std::path::PathBuf),
    /// Bytes made by envctl itself (tests, generated files).
    Inline(Vec<u8>),
}

impl SeedFile {
    /// A file whose bytes are in memory.
    pub fn inline(name: impl Into<String>, content: Vec<u8>, mode: u32) -> SeedFile {
        SeedFile {
            name: name.into(),
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(&content)),
            source: SeedSource::Inline(content),
            mode,
        }
    }

    /// Opens the bytes for reading.
    pub fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(match &self.source {
            SeedSource::Path(path) => Box::new(std::fs::File::open(path)?),
            SeedSource::Inline(bytes) => Box::new(std::io::Cursor::new(bytes.clone())),
        })
    }
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
                    part(file.sha256.as_bytes());
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
                        part(file.sha256.as_bytes());
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
        InitStep::Sql(SeedFile::inline(name, content.as_bytes().to_vec(), 0o644))
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
