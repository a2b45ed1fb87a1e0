//! `envctl template list|show`.

use crate::errors::ExitCode;
use clap::{Args, Subcommand};

use serde::Serialize;

use super::{OutputFormat, RenderInputs};
use crate::definition::{self, LibraryUpdate, ParamType, TemplateInfo};

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the templates on the search path (and, with --env, in that environment's libraries).
    List(ListArgs),
    /// Show one template: its description and parameters, as documentation.
    Show(ShowArgs),
    /// Re-resolve the library refs of environments (fetching them) and rewrite envctl.lock.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Also list the templates of the libraries this environment declares (`LIB/NAME`).
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    #[command(flatten)]
    pub inputs: RenderInputs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Template name: `<name>` on the search path, or `LIB/NAME` from a library of --env.
    pub name: String,
    /// The environment whose `libraries:` resolve `LIB/NAME`.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    #[command(flatten)]
    pub inputs: RenderInputs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Environments (names in ./environments or paths); all of ./environments/*.yaml when none.
    pub envs: Vec<String>,
    #[command(flatten)]
    pub inputs: RenderInputs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn run(cmd: TemplateCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TemplateCommand::List(args) => list(args),
        TemplateCommand::Show(args) => show(args),
        TemplateCommand::Update(args) => update(args),
    }
}

/// One environment's outcome of `template update`, for `--output json`.
#[derive(Debug, Serialize)]
struct UpdateReport {
    env: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_file: Option<String>,
    changes: Vec<LibraryUpdate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let envs = super::environments_or_all(&args.envs, "update")?;
    let opts = args.inputs.load_options(None);
    let json = args.output == OutputFormat::Json;
    let mut reports = Vec::new();
    for env in &envs {
        let report = match definition::update_libraries(env, &opts) {
            Ok(outcome) => {
                if !json {
                    print_changes(env, &outcome.lock_file, &outcome.changes);
                    if let Some(err) = &outcome.problems {
                        crate::errln!("{}\n", err.rendered);
                        crate::errln!("FAILED {env}");
                    }
                }
                UpdateReport {
                    env: env.clone(),
                    ok: outcome.problems.is_none(),
                    lock_file: Some(outcome.lock_file.display().to_string()),
                    changes: outcome.changes,
                    error: outcome.problems.map(|e| e.to_string()),
                }
            }
            Err(err) => {
                if !json {
                    crate::errln!(
                        "{}
",
                        err.rendered
                    );
                    crate::errln!("FAILED {env}");
                }
                UpdateReport {
                    env: env.clone(),
                    ok: false,
                    lock_file: None,
                    changes: Vec::new(),
                    error: Some(err.to_string()),
                }
            }
        };
        reports.push(report);
    }
    if json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&reports)?))?;
    }
    Ok(ExitCode::from_ok(reports.iter().all(|r| r.ok)))
}

fn print_changes(env: &str, lock_file: &std::path::Path, changes: &[LibraryUpdate]) {
    if changes.is_empty() {
        if lock_file.exists() {
            crate::outln!("{env}: up to date ({})", lock_file.display());
        } else {
            crate::outln!("{env}: no git libraries, nothing to lock");
        }
        return;
    }
    crate::outln!("{env}: updated {}", lock_file.display());
    for c in changes {
        let short = |c: &str| c[..c.len().min(7)].to_string();
        match &c.from {
            Some(from) => crate::outln!(
                "  {} {}: {} -> {}",
                c.git,
                c.git_ref,
                short(from),
                short(&c.to)
            ),
            None => crate::outln!("  {} {}: locked at {}", c.git, c.git_ref, short(&c.to)),
        }
    }
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let (mut templates, broken) = definition::list_templates();
    let mut code = broken.map_or(ExitCode::Ok, |err| super::render::report(&err));
    if let Some(env) = &args.env {
        match definition::list_library_templates(env, &args.inputs.load_options(None)) {
            Ok((more, broken)) => {
                templates.extend(more);
                if let Some(err) = broken {
                    code = super::render::report(&err);
                }
            }
            Err(err) => code = super::render::report(&err),
        }
    }
    if args.output == OutputFormat::Json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&templates)?))?;
        return Ok(code);
    }
    if templates.is_empty() {
        let dirs: Vec<String> = definition::template_search_path()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        crate::outln!("no templates found; searched {}", dirs.join(", "));
        return Ok(code);
    }
    let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let text: String = templates
        .iter()
        .map(|t| {
            format!(
                "{:width$}  {}\n",
                t.name,
                t.description.as_deref().unwrap_or("")
            )
        })
        .collect();
    super::render::emit(&text)?;
    Ok(code)
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let found = match &args.env {
        Some(env) => {
            definition::show_library_template(env, &args.name, &args.inputs.load_options(None))
        }
        None => definition::show_template(&args.name),
    };
    let template = match found {
        Ok(t) => t,
        Err(err) => return Ok(super::render::report(&err)),
    };
    if args.output == OutputFormat::Json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&template)?))?;
        return Ok(ExitCode::Ok);
    }
    super::render::emit(&describe(&template))?;
    Ok(ExitCode::Ok)
}

/// The template as documentation: what it is, where it comes from, each param with its
/// type, default or requiredness and description, and a usage snippet.
fn describe(t: &TemplateInfo) -> String {
    let mut out = format!("{}  ({})\n", t.name, t.path.display());
    if let Some(source) = &t.source {
        out.push_str(&format!("  recorded as: {source}\n"));
    }
    if let Some(d) = &t.description {
        out.push_str(&format!("  {d}\n"));
    }
    if t.params.is_empty() {
        out.push_str("\nno params\n");
    } else {
        out.push_str("\nparams:\n");
        for (name, p) in &t.params {
            let mut facts = Vec::new();
            match p.kind() {
                Some(ParamType::Enum) => facts.push(p.describe_type()),
                Some(kind) => facts.push(kind.as_str().to_string()),
                None => facts.push("any".into()),
            }
            if p.required {
                facts.push("required".into());
            }
            if let Some(default) = &p.default {
                facts.push(format!("default: {default}"));
            } else if !p.required {
                facts.push("optional".into());
            }
            out.push_str(&format!("  {name}  [{}]\n", facts.join(", ")));
            if let Some(d) = &p.description {
                out.push_str(&format!("      {d}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\nusage:\n  my-service:\n    template: {}\n",
        t.name
    ));
    let required: Vec<&String> = t
        .params
        .iter()
        .filter(|(_, p)| p.required)
        .map(|(n, _)| n)
        .collect();
    if !required.is_empty() {
        let with: Vec<String> = required.iter().map(|n| format!("{n}: ...")).collect();
        out.push_str(&format!("    with: {{ {} }}\n", with.join(", ")));
    }
    out
}
