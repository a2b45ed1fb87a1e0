//! `envctl import`: Compose files -> an environment definition, and a report of what could
//! not be carried over.
//!
//! compose (read and merge files, `extends`) -> service (translate each service) -> emit
//! (write the definition). Every step adds [`report::Finding`]s instead of dropping things.

mod compose;
mod context;
mod emit;
mod env;
mod health;
mod interp;
mod limits;
mod paths;
mod ports;
pub mod report;
mod service;
mod templates;
mod unsupported;
mod volumes;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use context::{dns_name, Ctx};
use emit::{DefinitionOut, Out};
use report::{Finding, Findings};
use yaml::Node;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Compose files, merged in order.
    pub files: Vec<PathBuf>,
    /// The environment name (`--name`); else Compose's `name:`, else the project directory's.
    pub name: Option<String>,
    /// The directory the definition will be written to (relative paths are written for it).
    pub out_dir: PathBuf,
    pub use_templates: bool,
    /// `--image-map FROM=TO`.
    pub image_map: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Imported {
    /// The definition's text.
    pub text: String,
    pub name: String,
    pub services: usize,
    pub findings: Findings,
    /// The files read, as reports name them (index = `At::file`).
    pub files: Vec<String>,
}

impl Imported {
    /// The report, one line each.
    pub fn report(&self) -> Vec<String> {
        self.findings.lines(&self.files)
    }
}

pub fn import(options: &Options) -> anyhow::Result<Imported> {
    let mut files = options.files.clone();
    if files.len() == 1 {
        // Like `docker compose` without -f: the override file next to the file is merged too.
        if let Some(over) = compose::default_override(&files[0]) {
            files.push(over);
        }
    }
    let mut findings = Findings::default();
    let project = compose::load(&files, &mut findings)?;
    let out_dir = paths::absolute(&options.out_dir, ".");
    let mut ctx = Ctx {
        project: &project,
        out_dir,
        options,
        findings,
        allow: BTreeMap::new(),
        names: BTreeMap::new(),
        healthchecked: BTreeSet::new(),
        jobs: BTreeSet::new(),
        link_aliases: BTreeMap::new(),
        profiles: BTreeMap::new(),
        left_out: BTreeSet::new(),
        fixed: Default::default(),
    };
    top_level(&mut ctx);
    let services: Vec<(String, Node, yaml::At)> = project
        .root
        .get("services")
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|e| (e.key.clone(), e.value.clone(), e.at))
        .collect();
    survey(&mut ctx, &services);
    let mut def = DefinitionOut::default();
    for (name, node, _) in &services {
        def.services
            .extend(service::translate(&mut ctx, name, node));
    }
    let name = options
        .name
        .clone()
        .or_else(|| project.vars.dotenv.get("COMPOSE_PROJECT_NAME").cloned())
        .or_else(|| {
            project
                .root
                .get("name")
                .and_then(|n| n.as_str())
                .map(|n| project.vars.resolve(n))
        })
        .unwrap_or_else(|| {
            paths::absolute(&project.dir, ".")
                .file_name()
                .map_or_else(|| "imported".into(), |n| n.to_string_lossy().into_owned())
        });
    def.name = dns_name(&name);
    // Like Compose, `.env` may choose the profiles started by default.
    def.default_profiles = project
        .vars
        .dotenv
        .get("COMPOSE_PROFILES")
        .cloned()
        .unwrap_or_default();
    let shown: Vec<String> = project.files.iter().map(|f| f.shown.clone()).collect();
    def.description = format!("Imported from {}", shown[..files.len()].join(" + "));
    def.header = vec![
        format!("Imported by `envctl import` from {}.", shown.join(", ")),
        "What Compose did that this file does not is listed by `envctl import --check` (docs/import.md).".into(),
    ];
    ctx.report_fixed();
    variables(&mut ctx, &mut def);
    def.allow = std::mem::take(&mut ctx.allow);
    let services = def.services.len();
    Ok(Imported {
        text: def.write(),
        name: def.name,
        services,
        findings: ctx.findings,
        files: shown,
    })
}

/// Top-level keys: `networks` collapse into the instance network; the rest is reported.
fn top_level(ctx: &mut Ctx) {
    let root = ctx.project.root.clone();
    for e in root.as_map().unwrap_or_default() {
        match e.key.as_str() {
            "services" | "name" | "version" | "volumes" | "secrets" | "configs" => {}
            "networks" => {
                let nets = e.value.as_map().unwrap_or_default();
                let used: Vec<&str> = nets.iter().map(|n| n.key.as_str()).filter(|n| *n != "default").collect();
                if used.len() > 1 {
                    ctx.changed(
                        e.at,
                        format!("networks {}", used.join(", ")),
                        "envctl puts all services of an instance on one network: services kept apart by networks can reach each other",
                    );
                }
                for n in nets {
                    for opt in n.value.as_map().unwrap_or_default() {
                        match opt.key.as_str() {
                            "external" | "name" => ctx.lost(opt.at, format!("network `{}` is shared with other projects (`{}`)", n.key, opt.key), "envctl makes one network per instance; reach outside services through published ports and `advertise_host`"),
                            "internal" => ctx.lost(opt.at, format!("internal network `{}`", n.key), "envctl's instance network is not internal: containers reach outside"),
                            _ => ctx.changed(opt.at, format!("network `{}` setting `{}`", n.key, opt.key), "left out: envctl creates its network with the engine's defaults"),
                        }
                    }
                }
            }
            "include" => ctx.lost(e.at, "`include` of other Compose projects", "import each project on its own, or name their files on the command line to merge them"),
            k if k.starts_with("x-") => {}
            other => ctx.lost(e.at, format!("top-level `{other}`"), "envctl has no such setting"),
        }
    }
}

/// What translating one service needs to know about the others: names, health checks, jobs.
fn survey(ctx: &mut Ctx, services: &[(String, Node, yaml::At)]) {
    let mut taken = BTreeSet::new();
    for (name, _, at) in services {
        let mut dns = dns_name(name);
        let base = dns.clone();
        let mut n = 2;
        while !taken.insert(dns.clone()) {
            dns = format!("{base}-{n}");
            n += 1;
        }
        if dns != *name {
            ctx.changed(*at, format!("service name `{name}`"), format!("`{dns}` (envctl names are DNS labels); other services reach it by the new name"));
        }
        ctx.names.insert(name.clone(), dns);
    }
    for (name, node, _) in services {
        let profiles: Vec<String> = node
            .get("profiles")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(|p| ctx.project.vars.resolve(p)))
            .collect();
        ctx.profiles.insert(name.clone(), profiles);
        let context = node
            .get("build")
            .and_then(|b| b.get("context"))
            .and_then(Node::as_str)
            .map(|c| ctx.project.vars.resolve(c));
        let local_build = node.get("build").is_some()
            && !context.is_some_and(|c| c.contains("://") || c.starts_with("git@"));
        if node.get("image").is_none() && !local_build {
            ctx.left_out.insert(name.clone());
        }
        // A shipped template brings its own probe (every one has one).
        let templated = ctx.options.use_templates
            && node
                .get("image")
                .and_then(Node::as_str)
                .is_some_and(|i| templates::template_for(&ctx.project.vars.resolve(i)).is_some());
        if templated || node.get("healthcheck").is_some_and(health::is_active) {
            ctx.healthchecked.insert(name.clone());
        }
        for dep in node
            .get("depends_on")
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let condition = dep.value.get("condition").and_then(Node::as_str);
            if condition == Some("service_completed_successfully") {
                ctx.jobs.insert(dep.key.clone());
            }
        }
        for link in node.get("links").and_then(Node::as_seq).unwrap_or_default() {
            let text = link.as_str().unwrap_or("");
            let (target, alias) = text.split_once(':').unwrap_or((text, text));
            let target_dns = ctx.name_of(target);
            if alias != target_dns && context::is_dns_label(alias) {
                ctx.link_aliases
                    .entry(target.to_string())
                    .or_default()
                    .push(alias.to_string());
            }
            ctx.changed(
                link.at,
                format!("link `{text}`"),
                if alias == target_dns {
                    "not needed: services reach each other by name".to_string()
                } else {
                    format!("`{alias}` is an alias of `{target_dns}`")
                },
            );
        }
    }
}

/// Every variable left in the output becomes a `{% set %}` line with its default.
fn variables(ctx: &mut Ctx, def: &mut DefinitionOut) {
    let mut used: Vec<String> = Vec::new();
    fn walk(v: &Out, used: &mut Vec<String>) {
        match v {
            Out::Str(s) => {
                for n in interp::names(s) {
                    if !used.contains(&n) {
                        used.push(n);
                    }
                }
            }
            Out::Plain(_) => {}
            Out::List(items) => items.iter().for_each(|i| walk(i, used)),
            Out::Map(entries) => entries.iter().for_each(|(_, v)| walk(v, used)),
        }
    }
    for s in &def.services {
        for (_, v) in &s.keys {
            walk(v, &mut used);
        }
    }
    // Beyond the definition's context variables: the import's own `profiles`, Tera's words.
    const RESERVED: &[&str] = &[
        "profiles", "true", "false", "and", "or", "not", "in", "is", "loop", "none", "self",
        "super",
    ];
    used.sort();
    for name in used {
        let var = ctx.project.vars.vars.get(&name).cloned();
        let default = var.as_ref().and_then(|v| v.default.clone());
        let tera = if RESERVED.contains(&name.as_str())
            || crate::definition::CONTEXT_VARIABLES.contains(&name.as_str())
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            format!("v_{name}")
        } else {
            name.clone()
        };
        let at = var.as_ref().map(|v| v.at).unwrap_or_default();
        let finding = match (&default, var.as_ref().is_some_and(|v| v.required)) {
            (None, true) => Finding::lost(
                at,
                format!("`${{{name}:?...}}`: Compose refuses to start without {name}"),
                format!("`--set {name}=...`; envctl renders it empty when not given"),
            ),
            (Some(d), _) => Finding::changed(
                at,
                format!("`${{{name}}}` from the host (default `{d}`)"),
                format!("`--set {name}=...`, default `{d}`"),
            ),
            (None, _) => Finding::changed(
                at,
                format!("`${{{name}}}` from the host, without default"),
                format!("`--set {name}=...`; empty when not given"),
            ),
        };
        ctx.findings.push(finding);
        def.tera_names.insert(name.clone(), tera.clone());
        def.sets.push((tera, name, default.unwrap_or_default()));
    }
}
