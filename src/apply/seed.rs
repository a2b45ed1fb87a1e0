//! Seeding: a service's `init:` steps, run inside its container once it is ready, the first
//! time its data is created. A marker file on the service's volume (holding the seed's
//! digest) says the seed ran, so it runs once per volume lifetime; `up --reseed` runs it
//! again. Files reach the container through the engine's archive upload, commands through
//! exec, so this works wherever the engine is.

use crate::engine::{Engine, EngineError};
use crate::model::{InitStep, SeedFile};
use crate::plan::SeedTarget;

/// Where SQL files are put inside the container while they run; removed afterwards.
const STAGING: &str = "/tmp/envctl-init";

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The marker was there: nothing ran. `stale` when it records another seed than the
    /// definition's (the definition changed after the volume was seeded).
    AlreadySeeded {
        stale: bool,
    },
    Seeded {
        steps: usize,
    },
}

/// Why a seed failed. Steps before the failing one have run; the marker is not written, so
/// the next `up` runs the whole seed again.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Sql {
        file: String,
        line: Option<usize>,
        message: String,
        /// The statement's line of the file, shown under the message.
        text: Option<String>,
    },
    #[error("seed step {step} (`{command}`) exited with code {code}: {output}")]
    Exec {
        step: usize,
        command: String,
        code: i64,
        output: String,
    },
    #[error("seed step {step}: {source}")]
    Pack {
        step: usize,
        #[source]
        source: super::seed_archive::PackError,
    },
    #[error("seed: {0}")]
    Engine(#[from] EngineError),
}

impl SeedError {
    /// The failure with the offending SQL line under it, as shown to users.
    pub fn describe(&self) -> String {
        match self {
            SeedError::Sql {
                line: Some(line),
                text: Some(text),
                ..
            } => format!("{self}\n  {line} | {text}"),
            _ => self.to_string(),
        }
    }
}

/// Seeds a ready service when it has `init:` steps; the status its dependents then see
/// (`Failed` when the seed failed: its data is not what the definition says).
pub(super) async fn after_ready(
    ctx: &super::Ctx,
    target: &crate::plan::ServiceTarget,
    id: &str,
) -> bool {
    let Some(wanted) = &target.seed else {
        return true;
    };
    let name = target.name.as_str();
    let again = ctx.reseed.contains(name);
    let on_step = |step: String| ctx.emit(name, super::Phase::Seeding { step });
    match seed(ctx.engine.as_ref(), id, wanted, again, &on_step).await {
        Ok(SeedOutcome::AlreadySeeded { stale: true }) => {
            ctx.emit(
                name,
                super::Phase::Waiting {
                    reason: format!(
                        "not seeding: the volume was seeded by an earlier `init:`; `up --reseed {name}` runs the current one"
                    ),
                },
            );
            true
        }
        Ok(_) => true,
        Err(err) => {
            ctx.fail(name, err.describe(), Vec::new());
            false
        }
    }
}

/// Runs `seed` in container `id` unless its marker exists (or `again`); `on_step` hears each
/// step as it starts.
pub async fn seed(
    engine: &dyn Engine,
    id: &str,
    seed: &SeedTarget,
    again: bool,
    on_step: &(dyn Fn(String) + Send + Sync),
) -> Result<SeedOutcome, SeedError> {
    if !again {
        let marker = engine.exec(id, &words(&["cat", &seed.marker])).await?;
        if marker.exit_code == 0 {
            return Ok(SeedOutcome::AlreadySeeded {
                stale: marker.output.trim() != seed.digest,
            });
        }
    }
    let steps = &seed.init.steps;
    for (i, step) in steps.iter().enumerate() {
        let number = i + 1;
        match step {
            InitStep::Sql(file) => {
                on_step(format!("{number}/{} sql {}", steps.len(), file.name));
                let client = seed.init.sql_client.as_deref().unwrap_or("false");
                run_sql(engine, id, number, file, client).await?;
            }
            InitStep::Exec(command) => {
                on_step(format!(
                    "{number}/{} exec {}",
                    steps.len(),
                    command.join(" ")
                ));
                let out = engine.exec(id, command).await?;
                if out.exit_code != 0 {
                    return Err(SeedError::Exec {
                        step: number,
                        command: command.join(" "),
                        code: out.exit_code,
                        output: tail(&out.output),
                    });
                }
            }
            InitStep::Copy { to, files } => {
                on_step(format!(
                    "{number}/{} copy {} file(s) to {to}",
                    steps.len(),
                    files.len()
                ));
                upload(engine, id, number, to, files).await?;
            }
        }
    }
    let write = engine
        .exec(
            id,
            &words(&[
                "sh",
                "-c",
                "printf %s \"$1\" > \"$2\"",
                "sh",
                &seed.digest,
                &seed.marker,
            ]),
        )
        .await?;
    if write.exit_code != 0 {
        return Err(SeedError::Exec {
            step: steps.len() + 1,
            command: format!("write the marker {}", seed.marker),
            code: write.exit_code,
            output: tail(&write.output),
        });
    }
    Ok(SeedOutcome::Seeded { steps: steps.len() })
}

/// Puts the file under `STAGING`, feeds it to the client, removes it again.
async fn run_sql(
    engine: &dyn Engine,
    id: &str,
    number: usize,
    file: &SeedFile,
    client: &str,
) -> Result<(), SeedError> {
    let staged = SeedFile {
        name: format!("{number:03}.sql"),
        mode: 0o644,
        ..file.clone()
    };
    upload(engine, id, number, STAGING, &[staged]).await?;
    let path = format!("{STAGING}/{number:03}.sql");
    let script = format!("{client} < {path}; status=$?; rm -rf {STAGING}; exit $status");
    let out = engine.exec(id, &words(&["sh", "-c", &script])).await?;
    if out.exit_code == 0 {
        return Ok(());
    }
    let (line, message) = sql_error(&out.output);
    let text = line.and_then(|l| line_of(file, l));
    Err(SeedError::Sql {
        file: file.name.clone(),
        line,
        message,
        text,
    })
}

/// Line `number` (from 1) of a seed file, read up to there only (a dump may be gigabytes).
fn line_of(file: &SeedFile, number: usize) -> Option<String> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(file.open().ok()?);
    let line = reader.split(b'\n').nth(number.checked_sub(1)?)?.ok()?;
    // A dump's line can be a megabyte of rows: show its start.
    let text = String::from_utf8_lossy(&line[..line.len().min(300)])
        .trim_end()
        .to_string();
    Some(text)
}

/// The line and message of a MySQL/MariaDB client error (`ERROR 1064 (42000) at line 3:
/// You have ...`); other clients' output is passed on as it is.
fn sql_error(output: &str) -> (Option<usize>, String) {
    let error = output
        .lines()
        .find(|l| l.starts_with("ERROR"))
        .unwrap_or_else(|| output.lines().last().unwrap_or("the SQL client failed"));
    let Some((head, rest)) = error.split_once(" at line ") else {
        return (None, error.trim().to_string());
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let message = rest[digits.len()..].trim_start_matches(':').trim();
    (digits.parse().ok(), format!("{head}: {message}"))
}

/// Makes directory `dir` in the container (the archive endpoint needs it to exist), then
/// unpacks `files` into it. Only the files' own subdirectories are in the archive: an entry
/// for an existing directory such as `/tmp` would reset its mode.
async fn upload(
    engine: &dyn Engine,
    id: &str,
    step: usize,
    dir: &str,
    files: &[SeedFile],
) -> Result<(), SeedError> {
    let made = engine.exec(id, &words(&["mkdir", "-p", dir])).await?;
    if made.exit_code != 0 {
        return Err(SeedError::Exec {
            step,
            command: format!("mkdir -p {dir}"),
            code: made.exit_code,
            output: tail(&made.output),
        });
    }
    let (archive, packer) = super::seed_archive::stream(files.to_vec());
    let uploaded = engine.upload(id, dir, archive).await;
    // A packing error explains an upload that was cut short, so it comes first.
    match packer.await {
        Ok(Err(source)) => return Err(SeedError::Pack { step, source }),
        Ok(Ok(())) => {}
        Err(joined) => {
            return Err(SeedError::Engine(EngineError::Api {
                context: format!("packing the files for {dir}"),
                message: joined.to_string(),
            }))
        }
    }
    uploaded?;
    Ok(())
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// The last lines of a command's output, enough to see why it failed.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_line_and_message_of_a_mariadb_error() {
        let out =
            "ERROR 1064 (42000) at line 3: You have an error in your SQL syntax near 'SELEC 1'\n";
        assert_eq!(
            sql_error(out),
            (
                Some(3),
                "ERROR 1064 (42000): You have an error in your SQL syntax near 'SELEC 1'".into()
            )
        );
        assert_eq!(sql_error("psql: boom\n"), (None, "psql: boom".into()));
    }
}
