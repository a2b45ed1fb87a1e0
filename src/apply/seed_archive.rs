//! Packing seed files into a tar that streams to the engine as it is written: a blocking
//! thread reads each file in blocks and sends the archive in chunks, so a seed of gigabytes
//! never sits in memory. Each file is checked against the size and digest it had when the
//! definition loaded; one that changed since aborts the upload, because what `plan` showed
//! is what must run.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Archive;
use crate::model::SeedFile;

/// Bytes per chunk sent to the engine.
const CHUNK: usize = 1 << 20;

/// Why a seed file could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read seed file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("seed file {file} changed since the definition was loaded; run `up` again to seed what `plan` shows")]
    Changed { file: String },
}

/// The archive of `files` (names relative to the target directory, with an entry for each
/// subdirectory they need) and the task that packs it; await the task after the upload: its
/// error explains an upload that was cut short.
pub fn stream(files: Vec<SeedFile>) -> (Archive, JoinHandle<Result<(), PackError>>) {
    let size = files.iter().map(|f| f.size + 1024).sum::<u64>() + 1024;
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let packer = tokio::task::spawn_blocking(move || {
        let writer = ChunkWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        let packed = pack(writer, &files);
        if let Err(err) = &packed {
            // Tell the engine the archive is broken instead of letting it end early.
            let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
        packed
    });
    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (
        Archive {
            size,
            chunks: Box::pin(chunks),
        },
        packer,
    )
}

fn pack(writer: ChunkWriter, files: &[SeedFile]) -> Result<(), PackError> {
    let mut builder = tar::Builder::new(writer);
    let mut dirs = std::collections::BTreeSet::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for file in files {
        let sent = |e: std::io::Error| PackError::Read {
            file: file.name.clone(),
            reason: e.to_string(),
        };
        let path = std::path::Path::new(&file.name);
        let mut parents: Vec<&std::path::Path> = path
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        parents.reverse();
        for parent in parents {
            if dirs.insert(parent.to_path_buf()) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_mtime(now);
                header.set_size(0);
                builder
                    .append_data(&mut header, parent, std::io::empty())
                    .map_err(sent)?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(file.mode);
        header.set_mtime(now);
        header.set_size(file.size);
        let mut reader = Checked {
            inner: file.open().map_err(sent)?.take(file.size),
            hasher: Sha256::new(),
            read: 0,
        };
        builder
            .append_data(&mut header, path, &mut reader)
            .map_err(sent)?;
        // Same length and digest, and nothing beyond the length it had.
        let mut beyond = [0u8; 1];
        let longer = reader.inner.into_inner().read(&mut beyond).map_err(sent)? > 0;
        let digest = hex::encode(reader.hasher.finalize());
        if reader.read != file.size || longer || digest != file.sha256 {
            return Err(PackError::Changed {
                file: file.name.clone(),
            });
        }
    }
    let mut writer = builder.into_inner().map_err(|e| PackError::Read {
        file: "(archive)".into(),
        reason: e.to_string(),
    })?;
    writer.send_rest().map_err(|e| PackError::Read {
        file: "(archive)".into(),
        reason: e.to_string(),
    })
}

/// A reader that hashes and counts what passes through it.
struct Checked<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Collects the archive into chunks and sends each full one (blocking: it runs on its own
/// thread, and the channel's bound keeps memory to a few chunks when the engine is slow).
struct ChunkWriter {
    tx: mpsc::Sender<std::io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send_rest(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the engine stopped reading the archive"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.send_rest()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn unpack(files: Vec<SeedFile>) -> (Vec<(String, Vec<u8>)>, Result<(), PackError>) {
        let (archive, packer) = stream(files);
        let mut tar = Vec::new();
        let mut chunks = archive.chunks;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(bytes) => tar.extend(bytes),
                Err(_) => break,
            }
        }
        let packed = packer.await.unwrap();
        let mut entries = Vec::new();
        if packed.is_ok() {
            let mut archive = tar::Archive::new(tar.as_slice());
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                entries.push((entry.path().unwrap().display().to_string(), content));
            }
        }
        (entries, packed)
    }

    #[tokio::test]
    async fn streams_files_with_their_parent_directories() {
        let big = vec![7u8; 3 * CHUNK + 5];
        let files = vec![
            SeedFile::inline("sub/a.txt", b"a".to_vec(), 0o600),
            SeedFile::inline("big.bin", big.clone(), 0o644),
        ];
        let (entries, packed) = unpack(files).await;
        packed.unwrap();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["sub", "sub/a.txt", "big.bin"]);
        assert_eq!(entries[2].1, big);
    }

    #[tokio::test]
    async fn a_file_changed_since_loading_aborts_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.sql");
        std::fs::write(&path, "SELECT 1;").unwrap();
        let loaded = SeedFile {
            source: crate::model::SeedSource::Path(path.clone()),
            ..SeedFile::inline("seed.sql", b"SELECT 1;".to_vec(), 0o644)
        };
        let (_, packed) = unpack(vec![loaded.clone()]).await;
        packed.unwrap();
        for changed in ["SELECT 2;", "SELECT 1;;", "SELECT"] {
            std::fs::write(&path, changed).unwrap();
            let (_, packed) = unpack(vec![loaded.clone()]).await;
            assert!(
                matches!(packed, Err(PackError::Changed { ref file }) if file == "seed.sql"),
                "{changed}: {packed:?}"
            );
        }
    }
}
