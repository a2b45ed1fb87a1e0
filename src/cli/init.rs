//! `envctl init [DIR]`: scaffolds environments/ and templates/ with a working example.
//! Never overwrites: when any file it would write exists, it writes nothing.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to scaffold (created when missing); the current directory by default.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

const EXAMPLE_ENV: &str = include_str!("init/example.yaml");
const CACHE_TEMPLATE: &str = include_str!("init/cache.yaml");

/// The files `init` writes, relative to the target directory.
pub const FILES: &[(&str, &str)] = &[
    ("environments/example.yaml", EXAMPLE_ENV),
    ("templates/cache.yaml", CACHE_TEMPLATE),
];

pub fn run(args: InitArgs) -> anyhow::Result<crate::errors::ExitCode> {
    let written = scaffold(&args.dir)?;
    for path in &written {
        crate::outln!("created {}", path.display());
    }
    crate::outln!(
        "\nnext: cd {} && envctl validate && envctl render example && envctl up example",
        args.dir.display()
    );
    Ok(crate::errors::ExitCode::Ok)
}

/// Writes the example files under `dir`; fails, writing nothing, when one exists already.
pub fn scaffold(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let existing: Vec<String> = FILES
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        anyhow::bail!(
            "refusing to overwrite existing files: {}\n  = help: run `envctl init` in an empty directory, or move these away",
            existing.join(", ")
        );
    }
    let mut written = Vec::new();
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // create_new: a file that appeared since the check is still never overwritten.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
