//! Resource limits (`mem_limit`, `cpus`, `deploy.resources`) and `deploy`'s restart policy.

use super::context::Ctx;
use super::emit::Out;
use super::yaml::{At, Entry};

pub fn memory(ctx: &mut Ctx, e: &Entry) -> Option<Out> {
    let text = ctx.resolved(&e.value)?;
    let lower = text.to_ascii_lowercase();
    let normal = lower
        .strip_suffix('b')
        .filter(|s| s.ends_with(['k', 'm', 'g']))
        .unwrap_or(&lower);
    match crate::definition::parse_memory(normal) {
        Ok(_) => Some(Out::str(normal.to_string())),
        Err(_) => {
            ctx.lost(
                e.at,
                format!("memory `{text}`"),
                "write bytes or a size like 256m or 1g",
            );
            None
        }
    }
}

/// `deploy:` — resource limits and the restart policy carry over; swarm settings do not.
pub fn deploy(
    ctx: &mut Ctx,
    e: &Entry,
    resources: &mut Vec<(String, Out)>,
    restart: &mut Option<(At, String)>,
) {
    for d in e.value.as_map().unwrap_or_default() {
        match d.key.as_str() {
            "resources" => {
                for r in d.value.as_map().unwrap_or_default() {
                    match r.key.as_str() {
                        "limits" => {
                            for l in r.value.as_map().unwrap_or_default() {
                                match l.key.as_str() {
                                    "memory" => {
                                        if let Some(m) = memory(ctx, l) {
                                            resources.push(("memory".into(), m));
                                        }
                                    }
                                    "cpus" => {
                                        if let Some(c) = ctx.resolved(&l.value) {
                                            resources.push(("cpus".into(), Out::Plain(c)));
                                        }
                                    }
                                    other => ctx.lost(
                                        l.at,
                                        format!("deploy limit `{other}`"),
                                        "envctl limits memory and cpus only",
                                    ),
                                }
                            }
                        }
                        "reservations" => ctx.lost(
                            r.at,
                            "deploy reservations",
                            "envctl sets limits only; reservations only matter to a scheduler",
                        ),
                        other => ctx.lost(
                            r.at,
                            format!("deploy resources `{other}`"),
                            "envctl limits memory and cpus only",
                        ),
                    }
                }
            }
            "restart_policy" => {
                let condition = d.value.get("condition").and_then(|c| ctx.resolved(c));
                if restart.is_none() {
                    if let Some(c) = condition {
                        *restart = Some((d.at, c));
                    }
                }
                for extra in d
                    .value
                    .as_map()
                    .unwrap_or_default()
                    .iter()
                    .filter(|x| x.key != "condition")
                {
                    ctx.lost(
                        extra.at,
                        format!("restart_policy `{}`", extra.key),
                        "envctl restarts with the engine's policy defaults",
                    );
                }
            }
            "replicas" if ctx.resolved(&d.value).as_deref() == Some("1") => {}
            "replicas" => ctx.lost(
                d.at,
                "deploy replicas",
                "write one service per copy (a Tera `{% for %}` loop makes that short)",
            ),
            other => ctx.changed(
                d.at,
                format!("deploy `{other}`"),
                "swarm-only; `docker compose up` ignores it too",
            ),
        }
    }
}
