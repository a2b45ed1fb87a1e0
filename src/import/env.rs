//! `environment`, `env_file` and `build`: the keys that carry values and paths.

use super::context::{out_scalar, Ctx};
use super::emit::Out;
use super::interp::{self, whole_var};
use super::paths;
use super::yaml::{Entry, Node, Value};

/// Sets `key` in `env`, replacing an earlier value (an env_file's, or a base file's).
fn set(env: &mut Vec<(String, Out)>, key: &str, value: Out) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => env.push((key.to_string(), value)),
    }
}

fn from_env(name: &str) -> Out {
    Out::Map(vec![("from_env".into(), Out::str(name))])
}

/// `environment:` (already a mapping, see `compose::normalise`).
pub fn environment(ctx: &mut Ctx, e: &Entry, env: &mut Vec<(String, Out)>) {
    for var in e.value.as_map().unwrap_or_default() {
        let value = match &var.value.value {
            Value::Null => {
                ctx.changed(
                    var.at,
                    format!("`{}` without a value (taken from the host)", var.key),
                    format!(
                        "`{{ from_env: {} }}`: envctl refuses to start when it is not set",
                        var.key
                    ),
                );
                from_env(&var.key)
            }
            Value::Scalar(text, _) => match whole_var(text) {
                Some(name) if secret_from_host(ctx, name) => {
                    ctx.changed(
                        var.at,
                        format!("`{}: ${{{name}}}` (a host variable without default)", var.key),
                        format!("`{{ from_env: {name} }}`, read when the container is created; envctl refuses to start when it is not set"),
                    );
                    from_env(name)
                }
                _ => match out_scalar(&var.value) {
                    Out::Plain(p) => Out::Str(p),
                    other => other,
                },
            },
            _ => {
                ctx.lost(
                    var.at,
                    format!("environment `{}` is {}", var.key, var.value.kind()),
                    "write a string",
                );
                continue;
            }
        };
        set(env, &var.key, value);
    }
}

/// A variable Compose reads from the host with no default anywhere: a `from_env` secret.
fn secret_from_host(ctx: &Ctx, name: &str) -> bool {
    ctx.project
        .vars
        .vars
        .get(name)
        .is_some_and(|v| v.default.is_none())
}

/// `env_file:` — each file's variables are copied into `env`.
pub fn env_files(ctx: &mut Ctx, e: &Entry, env: &mut Vec<(String, Out)>) {
    for item in e.value.as_seq().unwrap_or_default() {
        let (path_node, required) = match &item.value {
            Value::Map(_) => (
                item.get("path").cloned().unwrap_or_else(|| item.clone()),
                item.get("required").and_then(Node::as_str) != Some("false"),
            ),
            _ => (item.clone(), true),
        };
        let Some(written) = ctx.resolved(&path_node) else {
            continue;
        };
        let path = paths::absolute(ctx.project.base_dir(item.at), &written);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let vars = interp::parse_env_file(&text);
                ctx.changed(
                    item.at,
                    format!("env_file `{written}`"),
                    format!(
                        "its {} variables are copied into `env`; edit them there from now on",
                        vars.len()
                    ),
                );
                for (k, v, _) in vars {
                    set(env, &k, Out::Str(v));
                }
            }
            Err(_) if !required => {}
            Err(err) => ctx.lost(
                item.at,
                format!("env_file `{written}` cannot be read ({err})"),
                "create it, or mark it `required: false`",
            ),
        }
    }
}

/// `build:` — context and dockerfile as paths for the definition, args as a mapping.
pub fn build(ctx: &mut Ctx, e: &Entry) -> Option<Out> {
    let mut out: Vec<(String, Out)> = Vec::new();
    let context = e.value.get("context").cloned();
    let written = context
        .as_ref()
        .and_then(|c| ctx.resolved(c))
        .unwrap_or_else(|| ".".into());
    if written.contains("://") || written.starts_with("git@") {
        ctx.lost(
            e.at,
            format!("build context `{written}` (a remote repository)"),
            "clone it next to the definition and build from the directory",
        );
        return None;
    }
    let at = context.as_ref().map_or(e.at, |c| c.at);
    let abs = paths::absolute(ctx.project.base_dir(at), &written);
    let project_dir = paths::absolute(&ctx.project.dir, ".");
    let shown = paths::for_definition(&written, &abs, &project_dir, &ctx.out_dir);
    if !abs.starts_with(&ctx.out_dir) {
        ctx.allow("outside-build", shown.clone());
    }
    out.push(("context".into(), Out::str(shown)));
    for b in e.value.as_map().unwrap_or_default() {
        match b.key.as_str() {
            "context" => {}
            "dockerfile" => {
                if let Some(d) = ctx.resolved(&b.value) {
                    out.push(("dockerfile".into(), Out::str(d)));
                }
            }
            "args" => {
                let mut args = Vec::new();
                match &b.value.value {
                    Value::Map(entries) => {
                        for a in entries {
                            match &a.value.value {
                                Value::Null => ctx.lost(
                                    a.at,
                                    format!("build arg `{}` from the host", a.key),
                                    format!("give it a value: `{}: \"...\"`", a.key),
                                ),
                                _ => args.push((
                                    a.key.clone(),
                                    match out_scalar(&a.value) {
                                        Out::Plain(p) => Out::Str(p),
                                        o => o,
                                    },
                                )),
                            }
                        }
                    }
                    Value::Seq(items) => {
                        for a in items {
                            let text = a.as_str().unwrap_or("");
                            match text.split_once('=') {
                                Some((k, v)) => args.push((k.to_string(), Out::str(v))),
                                None => ctx.lost(
                                    a.at,
                                    format!("build arg `{text}` from the host"),
                                    format!("give it a value: `{text}=...`"),
                                ),
                            }
                        }
                    }
                    _ => {}
                }
                if !args.is_empty() {
                    out.push(("args".into(), Out::Map(args)));
                }
            }
            other => ctx.lost(
                b.at,
                format!("build `{other}`"),
                "envctl builds with context, dockerfile and args; put the rest in the Dockerfile",
            ),
        }
    }
    Some(Out::Map(out))
}
