//! The per-machine key that keeps secret values out of the spec-hash label.
//!
//! Anyone who can list containers can read `io.envctl.spec-hash`. An unsalted hash over the
//! secrets would let them confirm a guessed password offline, so the secret part of the hash
//! is an HMAC-SHA256 keyed with 32 random bytes that never leave this machine: a file in the
//! envctl state directory, mode 0600, made on first use.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104). Small enough to keep here instead of adding a crate.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The key, read (or made) once per process and only when a service has secrets.
#[derive(Clone)]
pub struct SpecKey {
    source: KeySource,
    key: OnceLock<Result<Vec<u8>, String>>,
}

#[derive(Clone)]
enum KeySource {
    File(Option<PathBuf>),
    Fixed(Vec<u8>),
}

impl SpecKey {
    /// The key file in the state directory.
    pub fn from_host() -> Self {
        Self {
            source: KeySource::File(crate::state_dir::state_dir().map(|d| d.join("spec-key"))),
            key: OnceLock::new(),
        }
    }

    /// A fixed key (tests).
    pub fn fixed(key: &[u8]) -> Self {
        Self {
            source: KeySource::Fixed(key.to_vec()),
            key: OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&[u8], SpecKeyError> {
        self.key
            .get_or_init(|| match &self.source {
                KeySource::Fixed(key) => Ok(key.clone()),
                KeySource::File(Some(path)) => load_or_create(path),
                KeySource::File(None) => {
                    Err("no state directory for the spec key: set ENVCTL_STATE_DIR or HOME".into())
                }
            })
            .as_deref()
            .map_err(|reason| SpecKeyError(reason.clone()))
    }
}

/// Why the spec key cannot be read or created (the key file and the I/O error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecKeyError(pub String);

/// Reads the key file, or creates it (0600) when there is none. Two processes racing to
/// create it both end up with the one that was linked into place first.
fn load_or_create(path: &Path) -> Result<Vec<u8>, String> {
    let context = |what: &str, e: std::io::Error| format!("{what} {}: {e}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => return parse_key(&text).ok_or_else(|| corrupt(path)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(context("cannot read", e))
        }
        Err(_) => {}
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| context("cannot create the directory of", e))?;
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| format!("cannot read random bytes for the spec key: {e}"))?;
    let temp = dir.join(format!(".spec-key.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(hex::encode(random).as_bytes())?;
        file.sync_all()
    };
    let written = write().map_err(|e| context("cannot write", e));
    // A hard link never replaces an existing file: the first writer wins, later ones read it.
    let linked = written.and_then(|()| match std::fs::hard_link(&temp, path) {
        Ok(()) => Ok(random.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path)
            .map_err(|e| context("cannot read", e))
            .and_then(|text| parse_key(&text).ok_or_else(|| corrupt(path))),
        Err(e) => Err(context("cannot create", e)),
    });
    let _ = std::fs::remove_file(&temp);
    linked
}

fn parse_key(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim()).ok().filter(|k| k.len() >= 16)
}

fn corrupt(path: &Path) -> String {
    format!(
        "the spec key {} is not 32 hex-encoded bytes; remove it (containers with secrets are recreated once)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn long_keys_are_hashed_first() {
        // RFC 4231 case 6: a 131-byte key.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_key_file_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("spec-key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("not 32"));
    }
}
