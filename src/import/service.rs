//! One Compose service -> one envctl service: each key is translated or reported.

use std::collections::BTreeMap;

use super::context::{is_dns_label, repository, Ctx};
use super::emit::{Out, ServiceOut};
use super::yaml::{At, Entry, Node, Value};
use super::{env, health, limits, ports, volumes};

/// `command`/`entrypoint`: a string (split like a shell by envctl, as by Compose) or a list.
fn words(ctx: &mut Ctx, key: &str, e: &Entry) -> Option<Out> {
    match &e.value.value {
        Value::Scalar(s, _) => Some(Out::str(s.clone())),
        Value::Seq(items) => Some(Out::List(
            items
                .iter()
                .map(|i| Out::str(i.as_str().unwrap_or("")))
                .collect(),
        )),
        Value::Null => {
            ctx.lost(
                e.at,
                format!("empty `{key}`"),
                format!("leave `{key}` out or write the words"),
            );
            None
        }
        Value::Map(_) => {
            ctx.lost(
                e.at,
                format!("`{key}` is a mapping"),
                "write a list of words",
            );
            None
        }
    }
}

/// The keys of an envctl service in the order they are written.
const ORDER: &[&str] = &[
    "template",
    "with",
    "kind",
    "image",
    "pull",
    "build",
    "command",
    "entrypoint",
    "env",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "resources",
    "restart",
    "aliases",
    "privileged",
    "network_mode",
    "pid",
];

#[allow(clippy::too_many_lines)]
pub fn translate(ctx: &mut Ctx, compose_name: &str, service: &Node) -> Option<ServiceOut> {
    let name = ctx.name_of(compose_name);
    let mut keys: BTreeMap<&'static str, Out> = BTreeMap::new();
    let mut env_out: Vec<(String, Out)> = Vec::new();
    let mut aliases: Vec<String> = ctx
        .link_aliases
        .get(compose_name)
        .cloned()
        .unwrap_or_default();
    let mut profiles = Vec::new();
    let mut resources: Vec<(String, Out)> = Vec::new();
    let mut restart: Option<(At, String)> = None;
    let entries = service.as_map().unwrap_or_default();
    // env_file values come first: `environment` overrides them, as in Compose.
    if let Some(e) = service.entry("env_file") {
        env::env_files(ctx, e, &mut env_out);
    }
    for e in entries {
        let v = &e.value;
        match e.key.as_str() {
            "image" => {
                if let Some(image) = v.as_str() {
                    keys.insert("image", Out::str(map_image(ctx, e.at, image)));
                }
            }
            "build" => {
                if let Some(b) = env::build(ctx, e) {
                    keys.insert("build", b);
                }
            }
            "command" => {
                if let Some(w) = words(ctx, "command", e) {
                    keys.insert("command", w);
                }
            }
            "entrypoint" => {
                if let Some(w) = words(ctx, "entrypoint", e) {
                    keys.insert("entrypoint", w);
                }
            }
            "environment" => env::environment(ctx, e, &mut env_out),
            "env_file" => {}
            "ports" => {
                let list = ports::ports(ctx, e);
                if !list.is_empty() {
                    keys.insert("ports", Out::List(list));
                }
            }
            "volumes" => {
                let list = volumes::volumes(ctx, compose_name, e);
                if !list.is_empty() {
                    keys.insert("volumes", Out::List(list));
                }
            }
            "depends_on" => {
                if let Some(d) = health::depends_on(ctx, compose_name, e) {
                    keys.insert("depends_on", d);
                }
            }
            "healthcheck" => {
                if let Some(h) = health::healthcheck(ctx, e) {
                    keys.insert("healthcheck", h);
                }
            }
            "restart" => {
                if let Some(r) = ctx.resolved(v) {
                    restart = Some((e.at, r));
                }
            }
            "deploy" => limits::deploy(ctx, e, &mut resources, &mut restart),
            "mem_limit" => {
                if let Some(m) = limits::memory(ctx, e) {
                    resources.retain(|(k, _)| k != "memory");
                    resources.push(("memory".into(), m));
                }
            }
            "cpus" => {
                if let Some(c) = ctx.resolved(v) {
                    resources.retain(|(k, _)| k != "cpus");
                    resources.push(("cpus".into(), Out::Plain(c)));
                }
            }
            "networks" => network_aliases(ctx, e, &name, &mut aliases),
            "network_mode" => match ctx.resolved(v).as_deref() {
                Some("host") => {
                    keys.insert("network_mode", Out::str("host"));
                    ctx.allow("host-network", format!("{name} network_mode"));
                }
                Some("bridge") => {}
                Some(other) => ctx.lost(
                    e.at,
                    format!("network_mode `{other}`"),
                    "envctl puts every service on the instance network; reach the other service by name",
                ),
                None => {}
            },
            "privileged" => {
                if ctx.resolved(v).as_deref() == Some("true") {
                    keys.insert("privileged", Out::Plain("true".into()));
                    ctx.allow("privileged", name.clone());
                }
            }
            "pid" => match ctx.resolved(v).as_deref() {
                Some("host") => {
                    keys.insert("pid", Out::str("host"));
                    ctx.allow("host-pid", name.clone());
                }
                other => ctx.lost(e.at, format!("pid `{}`", other.unwrap_or("")), "envctl only knows `pid: host`"),
            },
            "container_name" | "hostname" => {
                let wanted = ctx.resolved(v).unwrap_or_default();
                if wanted == name || wanted.is_empty() {
                    continue;
                }
                if is_dns_label(&wanted) {
                    if !aliases.contains(&wanted) {
                        aliases.push(wanted.clone());
                    }
                    ctx.changed(
                        e.at,
                        format!("{} `{wanted}`", e.key),
                        format!("the container is `<instance>-{name}`; `{wanted}` is an alias on the instance network, so other services still reach it by that name"),
                    );
                } else {
                    ctx.lost(
                        e.at,
                        format!("{} `{wanted}` (not a DNS name)", e.key),
                        format!("reach the service as `{name}`"),
                    );
                }
            }
            "profiles" => {
                profiles = v
                    .as_seq()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| ctx.resolved(p))
                    .collect();
                ctx.changed(
                    e.at,
                    format!("profiles {}", profiles.join(", ")),
                    format!("the service is written inside `{{% if ... in profiles %}}`: `envctl up ENV --set profiles={}` starts it", profiles.join(",")),
                );
            }
            "pull_policy" => match ctx.resolved(v).as_deref() {
                Some("always") => {
                    keys.insert("pull", Out::str("always"));
                }
                Some("never") => {
                    keys.insert("pull", Out::str("never"));
                }
                Some("missing" | "if_not_present") | None => {}
                Some("build") => {
                    ctx.changed(e.at, "pull_policy `build`", "envctl builds when `build` is given and the image is missing; `envctl up` rebuilds on changes");
                }
                Some(other) => ctx.lost(e.at, format!("pull_policy `{other}`"), "use `pull: always`, `missing` or `never`"),
            },
            "links" => {} // handled for the whole project: aliases on the linked services
            key if key.starts_with("x-") => {}
            key => {
                let instead = super::unsupported::no_equivalent(key);
                if key == "expose" {
                    ctx.changed(e.at, format!("`{key}`"), instead);
                } else {
                    ctx.lost(e.at, format!("`{key}`"), instead);
                }
            }
        }
    }
    if let Some((at, policy)) = restart {
        match policy.as_str() {
            "no" | "none" => {}
            "always" | "unless-stopped" | "on-failure" => {
                keys.insert("restart", Out::str(policy));
            }
            "any" => {
                keys.insert("restart", Out::str("always"));
            }
            p if p.starts_with("on-failure:") => {
                keys.insert("restart", Out::str("on-failure"));
                ctx.lost(
                    at,
                    format!("restart `{p}` (a retry limit)"),
                    "envctl retries without limit with `on-failure`",
                );
            }
            p => ctx.lost(
                at,
                format!("restart `{p}`"),
                "use no, always, on-failure or unless-stopped",
            ),
        }
    }
    if !env_out.is_empty() {
        keys.insert("env", Out::Map(env_out));
    }
    if !resources.is_empty() {
        keys.insert("resources", Out::Map(resources));
    }
    if !aliases.is_empty() {
        aliases.sort();
        aliases.dedup();
        keys.insert(
            "aliases",
            Out::List(aliases.into_iter().map(Out::Str).collect()),
        );
    }
    if ctx.jobs.contains(compose_name) {
        keys.insert("kind", Out::str("job"));
    }
    if !keys.contains_key("image") && !keys.contains_key("build") {
        ctx.lost(
            service.at,
            format!(
                "service `{compose_name}` has no image or build envctl can use: it is left out"
            ),
            "add it with an image",
        );
        return None;
    }
    let mut out = ServiceOut {
        name,
        profiles,
        ..Default::default()
    };
    super::templates::apply(ctx, compose_name, service, &mut keys, &mut out.comments);
    out.keys = ORDER
        .iter()
        .filter_map(|k| keys.remove(k).map(|v| (k.to_string(), v)))
        .collect();
    Some(out)
}

/// `--image-map FROM=TO`: FROM is a whole reference (`redis:7-alpine`) or a repository
/// (`redis`, any tag).
fn map_image(ctx: &mut Ctx, at: At, image: &str) -> String {
    let resolved = ctx.project.vars.resolve(image);
    let repo = repository(&resolved);
    for (from, to) in &ctx.options.image_map {
        if *from == resolved || *from == repo {
            ctx.changed(
                at,
                format!("image `{resolved}`"),
                format!("`{to}` (--image-map)"),
            );
            return to.clone();
        }
    }
    image.to_string()
}

/// Aliases from `networks:`; envctl has one network per instance.
fn network_aliases(ctx: &mut Ctx, e: &Entry, name: &str, aliases: &mut Vec<String>) {
    for n in e.value.as_map().unwrap_or_default() {
        for opt in n.value.as_map().unwrap_or_default() {
            match opt.key.as_str() {
                "aliases" => {
                    for a in opt.value.as_seq().unwrap_or_default() {
                        let Some(alias) = ctx.resolved(a) else {
                            continue;
                        };
                        if alias == name {
                            continue;
                        }
                        if is_dns_label(&alias) {
                            aliases.push(alias);
                        } else {
                            ctx.lost(
                                a.at,
                                format!("alias `{alias}` (not a DNS label)"),
                                "use a name of letters, digits and `-`",
                            );
                        }
                    }
                }
                other => ctx.lost(
                    opt.at,
                    format!("network `{}` setting `{other}`", n.key),
                    "envctl assigns addresses itself; reach services by name",
                ),
            }
        }
    }
}
