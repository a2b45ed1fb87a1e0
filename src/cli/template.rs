//! `envctl template list|show`.

use clap::{Args, Subcommand};

use super::OutputFormat;
use crate::definition::{self, TemplateInfo};

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the templates on the search path.
    List(ListArgs),
    /// Show one template: its description and parameters.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Template name (a file `<name>.yaml` on the search path).
    pub name: String,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn run(cmd: TemplateCommand) -> anyhow::Result<i32> {
    match cmd {
        TemplateCommand::List(args) => list(args),
        TemplateCommand::Show(args) => show(args),
    }
}

fn list(args: ListArgs) -> anyhow::Result<i32> {
    let (templates, broken) = definition::list_templates();
    let code = broken.map_or(0, |err| super::render::report(&err));
    if args.output == OutputFormat::Json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&templates)?))?;
        return Ok(code);
    }
    if templates.is_empty() {
        let dirs: Vec<String> = definition::template_search_path()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        println!("no templates found; searched {}", dirs.join(", "));
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

fn show(args: ShowArgs) -> anyhow::Result<i32> {
    let template = match definition::show_template(&args.name) {
        Ok(t) => t,
        Err(err) => return Ok(super::render::report(&err)),
    };
    if args.output == OutputFormat::Json {
        super::render::emit(&format!("{}\n", serde_json::to_string_pretty(&template)?))?;
        return Ok(0);
    }
    super::render::emit(&describe(&template))?;
    Ok(0)
}

fn describe(t: &TemplateInfo) -> String {
    let mut out = format!("{}  ({})\n", t.name, t.path.display());
    if let Some(d) = &t.description {
        out.push_str(&format!("  {d}\n"));
    }
    if t.params.is_empty() {
        out.push_str("\nno params\n");
        return out;
    }
    out.push_str("\nparams:\n");
    for (name, p) in &t.params {
        let mut facts = Vec::new();
        if let Some(kind) = p.kind {
            facts.push(kind.as_str().to_string());
        }
        if p.required {
            facts.push("required".into());
        }
        if let Some(default) = &p.default {
            let text = serde_yaml::to_string(default).unwrap_or_default();
            facts.push(format!("default: {}", text.trim()));
        }
        out.push_str(&format!("  {name}  [{}]\n", facts.join(", ")));
        if let Some(d) = &p.description {
            out.push_str(&format!("      {d}\n"));
        }
    }
    out
}
