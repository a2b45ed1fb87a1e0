//! Services that a shipped template already describes (ZooKeeper, Redis, MySQL/MariaDB, nginx).
//!
//! Without `--use-templates` the service is kept as Compose wrote it and a comment names the
//! template; with it, the service uses the template: the template gives image, port and probe,
//! the service keeps what it sets itself (pinned ports, command, env, volumes, dependencies).

use std::collections::BTreeMap;

use super::context::{repository, Ctx};
use super::emit::Out;
use super::report::Finding;
use super::yaml::Node;

/// The shipped template for an image repository.
pub fn template_for(image: &str) -> Option<&'static str> {
    let repo = repository(image);
    let name = repo.rsplit('/').next().unwrap_or(&repo);
    match name {
        "zookeeper" | "cp-zookeeper" => Some("zookeeper"),
        "redis" | "redis-stack-server" | "valkey" => Some("redis"),
        "mysql" | "mariadb" | "percona-server" => Some("mysql"),
        "nginx" | "nginx-unprivileged" | "openresty" => Some("nginx"),
        _ => None,
    }
}

/// Env keys a template sets from its params: `(param, [env keys])`.
const MYSQL_PARAMS: &[(&str, &[&str])] = &[
    (
        "root_password",
        &["MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD"],
    ),
    ("database", &["MYSQL_DATABASE", "MARIADB_DATABASE"]),
];

pub fn apply(
    ctx: &mut Ctx,
    compose_name: &str,
    service: &Node,
    keys: &mut BTreeMap<&'static str, Out>,
    comments: &mut Vec<String>,
) {
    let at_list = |map: &std::collections::BTreeMap<String, Vec<super::yaml::At>>| -> Vec<String> {
        map.get(compose_name)
            .into_iter()
            .flatten()
            .map(|at| format!("{}:{}", ctx.project.shown(*at), at.line))
            .collect()
    };
    let origins = at_list(&ctx.project.origins);
    let bases = at_list(&ctx.project.bases);
    if !origins.is_empty() {
        let extends = if bases.is_empty() {
            String::new()
        } else {
            format!("; extends {}", bases.join(", "))
        };
        comments.push(format!("from {}{extends}", origins.join(", ")));
    }
    let Some(image_entry) = service.entry("image") else {
        return;
    };
    let image = ctx
        .project
        .vars
        .resolve(image_entry.value.as_str().unwrap_or(""));
    let Some(template) = template_for(&image) else {
        return;
    };
    if !ctx.options.use_templates {
        comments.push(format!(
            "matches the shipped template `{template}` (envctl import --use-templates)"
        ));
        ctx.findings.push(Finding::note(
            image_entry.at,
            format!("image `{image}` matches the shipped template `{template}`"),
            "import with --use-templates to use it",
        ));
        return;
    }
    keys.remove("image");
    keys.remove("healthcheck");
    let mut with: Vec<(String, Out)> = Vec::new();
    if template == "mysql" {
        if let Some(Out::Map(env)) = keys.get_mut("env") {
            for (param, env_keys) in MYSQL_PARAMS {
                if let Some(pos) = env.iter().position(|(k, _)| env_keys.contains(&k.as_str())) {
                    let (_, value) = env[pos].clone();
                    if matches!(value, Out::Str(_)) {
                        with.push((param.to_string(), value));
                        env.retain(|(k, _)| !env_keys.contains(&k.as_str()));
                    }
                }
            }
            if env.is_empty() {
                keys.remove("env");
            }
        }
    }
    // Unpinned ports are the template's (one container port each); pinned ones stay.
    if let Some(Out::List(ports)) = keys.get("ports") {
        if ports.iter().all(|p| matches!(p, Out::Plain(_))) {
            keys.remove("ports");
        }
    }
    keys.insert("template", Out::str(template));
    if !with.is_empty() {
        keys.insert("with", Out::Map(with));
    }
    ctx.changed(
        image_entry.at,
        format!("image `{image}`"),
        format!("uses the shipped template `{template}` (its image, port and health check)"),
    );
}
