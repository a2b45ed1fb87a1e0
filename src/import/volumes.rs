//! `volumes:` — named volumes (one per instance in envctl) and bind mounts.

use super::context::{dns_name, Ctx};
use super::emit::Out;
use super::paths;
use super::yaml::{At, Entry, Node, Value};

struct Mount {
    kind: &'static str,
    source: String,
    target: String,
    read_only: bool,
}

pub fn volumes(ctx: &mut Ctx, service: &str, e: &Entry) -> Vec<Out> {
    let mut out = Vec::new();
    for (i, item) in e.value.as_seq().unwrap_or_default().iter().enumerate() {
        let mount = match &item.value {
            Value::Scalar(..) => {
                let text = ctx.resolved(item).unwrap_or_default();
                short(ctx, item.at, &text)
            }
            Value::Map(_) => long(ctx, item),
            _ => None,
        };
        let Some(mut mount) = mount else { continue };
        if !mount.target.starts_with('/') {
            ctx.lost(
                item.at,
                format!("volume target `{}`", mount.target),
                "envctl mounts at absolute paths only",
            );
            continue;
        }
        let mode = if mount.read_only { ":ro" } else { "" };
        match mount.kind {
            "anonymous" => {
                let name = format!("{}-{}", dns_name(service), i + 1);
                ctx.changed(
                    item.at,
                    format!("anonymous volume at `{}`", mount.target),
                    format!("a named volume `{name}` (kept until `envctl down --volumes`)"),
                );
                mount.source = name;
            }
            "volume" => {
                let name = dns_name(&mount.source);
                named_volume_settings(ctx, &mount.source);
                mount.source = name;
            }
            _ => match bind_source(ctx, item.at, &mount.source) {
                Some(s) => mount.source = s,
                None => continue,
            },
        }
        out.push(Out::str(format!("{}:{}{mode}", mount.source, mount.target)));
    }
    out
}

/// `SOURCE:TARGET[:MODE]` or `TARGET`. A source is a path when it starts with `.`, `/` or `~`.
fn short(ctx: &mut Ctx, at: At, text: &str) -> Option<Mount> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => {
            ctx.lost(at, format!("volume `{text}`"), "write SOURCE:TARGET[:ro]");
            return None;
        }
    };
    let mut read_only = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => {}
            other => ctx.changed(
                at,
                format!("volume mode `{other}` of `{text}`"),
                "left out: envctl mounts without SELinux relabelling or consistency options",
            ),
        }
    }
    let kind = if source.is_empty() {
        "anonymous"
    } else if source.starts_with(['.', '/', '~']) {
        "bind"
    } else {
        "volume"
    };
    Some(Mount {
        kind,
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    })
}

fn long(ctx: &mut Ctx, item: &Node) -> Option<Mount> {
    let get = |k: &str| item.get(k).and_then(|n| ctx.resolved(n));
    let kind = get("type").unwrap_or_else(|| "volume".into());
    let source = get("source").unwrap_or_default();
    let target = get("target").unwrap_or_default();
    let read_only = get("read_only").as_deref() == Some("true");
    for opt in item.as_map().unwrap_or_default() {
        match opt.key.as_str() {
            "type" | "source" | "target" | "read_only" => {}
            "bind" => {
                for b in opt.value.as_map().unwrap_or_default() {
                    if b.key == "create_host_path" {
                        continue; // envctl requires the source to exist, see bind_source
                    }
                    ctx.changed(
                        b.at,
                        format!("bind option `{}`", b.key),
                        "left out: envctl mounts binds with the engine's defaults",
                    );
                }
            }
            // A tmpfs mount is reported whole below.
            "tmpfs" => {}
            _ => {
                for o in opt.value.as_map().unwrap_or_default() {
                    ctx.lost(
                        o.at,
                        format!("{} option `{}`", opt.key, o.key),
                        "envctl mounts volumes with the engine's defaults",
                    );
                }
            }
        }
    }
    match kind.as_str() {
        "volume" if source.is_empty() => Some(Mount {
            kind: "anonymous",
            source,
            target,
            read_only,
        }),
        "volume" => Some(Mount {
            kind: "volume",
            source,
            target,
            read_only,
        }),
        "bind" => Some(Mount {
            kind: "bind",
            source,
            target,
            read_only,
        }),
        other => {
            ctx.lost(
                item.at,
                format!("`{other}` mount at `{target}`"),
                "use a named volume or a bind mount",
            );
            None
        }
    }
}

/// Settings of a top-level `volumes:` entry envctl cannot keep.
fn named_volume_settings(ctx: &mut Ctx, name: &str) {
    let Some(def) = ctx
        .project
        .root
        .get("volumes")
        .and_then(|v| v.entry(name))
        .cloned()
    else {
        return;
    };
    for opt in def.value.as_map().unwrap_or_default() {
        let (what, instead) = match opt.key.as_str() {
            "external" => ("an external volume", "envctl makes a volume per instance; copy the data in with a job, or bind-mount a host directory"),
            "name" => ("a fixed volume name", "envctl names volumes `<instance>_<volume>` so feature copies do not share data"),
            "driver" | "driver_opts" => ("a volume driver", "envctl uses the local driver"),
            "labels" => ("volume labels", "envctl labels volumes itself"),
            _ => ("a volume setting", "envctl has no such setting"),
        };
        if ctx.findings.0.iter().any(|f| f.at == opt.at) {
            continue; // reported for another service already
        }
        ctx.lost(
            opt.at,
            format!("volume `{name}`: {what} (`{}`)", opt.key),
            instead,
        );
    }
}

/// The bind source as the definition writes it, with `allow:` when it leaves the directory.
fn bind_source(ctx: &mut Ctx, at: At, written: &str) -> Option<String> {
    let abs = paths::absolute(ctx.project.base_dir(at), written);
    let project_dir = paths::absolute(&ctx.project.dir, ".");
    let shown = paths::for_definition(written, &abs, &project_dir, &ctx.out_dir);
    if !abs.exists() {
        ctx.lost(
            at,
            format!("bind source `{written}` does not exist (Compose creates it)"),
            "create it (relative to the project directory) before importing, or use a named volume",
        );
        return None;
    }
    if !abs.starts_with(&project_dir) {
        ctx.changed(
            at,
            format!("bind mount of `{written}`, outside the project"),
            "listed under `allow: [outside-binds]`; check that tests need this host path",
        );
    }
    if !abs.starts_with(&ctx.out_dir) {
        ctx.allow("outside-binds", shown.clone());
    }
    Some(shown)
}
