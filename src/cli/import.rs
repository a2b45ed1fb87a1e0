//! `envctl import COMPOSE_FILE...`: writes an environment definition from Compose files and
//! reports, one line each, what could not be carried over.
//!
//! The definition is written next to where it goes under a temporary name, validated as
//! `envctl validate` would, and only then renamed into place: an import that would not
//! validate, or `--check`, leaves nothing behind.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::definition;
use crate::errors::ExitCode;
use crate::import::{self, Options};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Compose files, merged in order like `docker compose -f A -f B` (a single file's
    /// `.override` sibling is merged too, as Compose does by default).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Environment name (default: Compose's `name:`, else the project directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the definition (default: environments/NAME.yaml).
    #[arg(long = "out", short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 1 when anything would be lost or the result would not validate.
    #[arg(long)]
    pub check: bool,
    /// Use the shipped templates (zookeeper, redis, mysql, nginx) for services they describe.
    #[arg(long)]
    pub use_templates: bool,
    /// Replace an image: FROM is a reference (`redis:7-alpine`) or a repository (`redis`).
    #[arg(long = "image-map", value_name = "FROM=TO", value_parser = super::parse_key_value)]
    pub image_map: Vec<(String, String)>,
    /// Overwrite the definition file when it exists.
    #[arg(long)]
    pub force: bool,
}

/// Removes the temporary definition unless it was renamed into place.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let out_dir = match &args.out {
        Some(p) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("environments"),
    };
    let options = Options {
        files: args.files.clone(),
        name: args.name.clone(),
        out_dir: out_dir.clone(),
        use_templates: args.use_templates,
        image_map: args.image_map.clone(),
    };
    let imported = import::import(&options)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| out_dir.join(format!("{}.yaml", imported.name)));
    let report = imported.report();
    for line in &report {
        crate::errln!("{line}");
    }
    if !args.check && out.exists() && !args.force {
        anyhow::bail!(
            "{} exists; nothing was written\n  = help: pass --force to overwrite it, or -o to write elsewhere",
            out.display()
        );
    }
    let created_dir = !out_dir.exists();
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let temp = TempFile(out_dir.join(format!(".import-{}.yaml", std::process::id())));
    std::fs::write(&temp.0, &imported.text)
        .with_context(|| format!("cannot write {}", temp.0.display()))?;
    let valid = definition::load(&temp.0.display().to_string(), &Default::default());
    let lost = imported.findings.any_lost();
    let summary = format!(
        "{} services, {} report lines ({} lost)",
        imported.services,
        report.len(),
        imported
            .findings
            .0
            .iter()
            .filter(|f| f.kind == import::report::Kind::Lost)
            .count()
    );
    if let Err(err) = valid {
        drop(temp);
        if created_dir {
            let _ = std::fs::remove_dir(&out_dir);
        }
        crate::errln!("{}", err.rendered);
        anyhow::bail!(
            "the imported definition does not validate; nothing was written\n  = help: the problems above name lines of the generated file; please report them"
        );
    }
    if args.check {
        drop(temp);
        if created_dir {
            let _ = std::fs::remove_dir(&out_dir);
        }
        crate::outln!("check {}: {summary}", out.display());
        return Ok(ExitCode::from_ok(!lost));
    }
    std::fs::rename(&temp.0, &out).with_context(|| format!("cannot write {}", out.display()))?;
    std::mem::forget(temp);
    crate::outln!("wrote {} ({summary})", out.display());
    crate::outln!("next: envctl validate {0} && envctl up {0}", out.display());
    Ok(ExitCode::Ok)
}
