//! `healthcheck:` and `depends_on:` — the start order and readiness.

use super::context::Ctx;
use super::emit::Out;
use super::yaml::{Entry, Node, Value};

/// Whether a Compose healthcheck actually checks something (not `disable`, not `NONE`).
pub fn is_active(h: &Node) -> bool {
    if h.get("disable").and_then(Node::as_str) == Some("true") {
        return false;
    }
    match h.get("test").map(|t| &t.value) {
        Some(Value::Seq(items)) => items.first().and_then(Node::as_str) != Some("NONE"),
        Some(Value::Scalar(..)) => true,
        // Without a test, Compose changes the timing of the image's own HEALTHCHECK.
        _ => false,
    }
}

pub fn healthcheck(ctx: &mut Ctx, e: &Entry) -> Option<Out> {
    let h = &e.value;
    if !is_active(h) {
        if h.get("test").is_none() && h.get("disable").is_none() {
            ctx.lost(
                e.at,
                "healthcheck timing without `test` (for the image's own HEALTHCHECK)",
                "write the check as `test`; envctl does not run an image's HEALTHCHECK",
            );
        }
        return None;
    }
    let mut out: Vec<(String, Out)> = Vec::new();
    for opt in h.as_map().unwrap_or_default() {
        match opt.key.as_str() {
            "test" => {
                let cmd = match &opt.value.value {
                    Value::Scalar(s, _) => shell(s),
                    Value::Seq(items) => {
                        let words: Vec<String> = items
                            .iter()
                            .map(|i| i.as_str().unwrap_or("").to_string())
                            .collect();
                        match words.first().map(String::as_str) {
                            Some("CMD") => words[1..].iter().cloned().map(Out::Str).collect(),
                            Some("CMD-SHELL") => shell(&words[1..].join(" ")),
                            _ => {
                                ctx.lost(
                                    opt.at,
                                    "healthcheck test without CMD or CMD-SHELL",
                                    "start the list with \"CMD\" or \"CMD-SHELL\"",
                                );
                                return None;
                            }
                        }
                    }
                    _ => return None,
                };
                out.insert(0, ("cmd".into(), Out::List(cmd)));
            }
            "interval" | "timeout" | "start_period" => {
                if let Some(d) = duration(ctx, opt) {
                    out.push((opt.key.clone(), Out::str(d)));
                }
            }
            "retries" => {
                if let Some(r) = ctx.resolved(&opt.value) {
                    out.push(("retries".into(), Out::Plain(r)));
                }
            }
            "disable" => {}
            other => ctx.lost(
                opt.at,
                format!("healthcheck `{other}`"),
                "envctl checks at `interval` from the start",
            ),
        }
    }
    Some(Out::Map(out))
}

/// `CMD-SHELL` runs the text with the container's shell.
fn shell(text: &str) -> Vec<Out> {
    vec![Out::str("sh"), Out::str("-c"), Out::str(text)]
}

/// A Go duration (`1m30s`, `500ms`, `1.5s`) as envctl writes it.
fn duration(ctx: &mut Ctx, e: &Entry) -> Option<String> {
    let text = ctx.resolved(&e.value)?;
    if crate::definition::parse_duration(&text).is_ok() {
        return Some(text);
    }
    // Fractions and micro/nanoseconds: whole milliseconds are close enough for a probe.
    if let Some(ms) = go_duration_ms(&text) {
        let rounded = format!("{}ms", ms.round().max(1.0) as u64);
        if crate::definition::parse_duration(&rounded).is_ok() {
            return Some(rounded);
        }
    }
    ctx.lost(
        e.at,
        format!("duration `{text}`"),
        "write it like 500ms, 10s or 1m30s",
    );
    None
}

fn go_duration_ms(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 6e4,
            "h" => 3.6e6,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// `depends_on:` (a mapping after `compose::normalise`) with envctl's conditions.
pub fn depends_on(ctx: &mut Ctx, dependent: &str, e: &Entry) -> Option<Out> {
    let mut out: Vec<(String, Out)> = Vec::new();
    for dep in e.value.as_map().unwrap_or_default() {
        let target = ctx.name_of(&dep.key);
        let condition = dep
            .value
            .get("condition")
            .and_then(|c| ctx.resolved(c))
            .unwrap_or_else(|| "service_started".into());
        let known = ctx
            .project
            .root
            .get("services")
            .and_then(|s| s.get(&dep.key))
            .is_some();
        if ctx.left_out.contains(&dep.key) {
            ctx.lost(
                dep.at,
                format!("dependency on `{}`, which is left out", dep.key),
                "add that service with an image, then the dependency",
            );
            continue;
        }
        let theirs = ctx.profiles.get(&dep.key).cloned().unwrap_or_default();
        let mine = ctx.profiles.get(dependent).cloned().unwrap_or_default();
        // Without the dependency's profile the dependency would not exist in the definition.
        if !theirs.is_empty() && (mine.is_empty() || !mine.iter().all(|p| theirs.contains(p))) {
            ctx.lost(
                dep.at,
                format!("dependency on `{}`, which only starts with profile {}", dep.key, theirs.join(", ")),
                "envctl leaves the dependency out; start both with `--set profiles=...` and add it back if the order matters",
            );
            continue;
        }
        if !known {
            ctx.lost(
                dep.at,
                format!("dependency on `{}`, which is not a service here", dep.key),
                "add the service or remove the dependency",
            );
            continue;
        }
        let wanted = match condition.as_str() {
            "service_started" => "started",
            "service_healthy" if ctx.healthchecked.contains(&dep.key) => "healthy",
            "service_healthy" => {
                ctx.lost(
                    dep.at,
                    format!("`{}: service_healthy`, but `{}` has no healthcheck here (the image's own HEALTHCHECK is not used)", dep.key, dep.key),
                    format!("waits for `started`; add a healthcheck to `{}` and make it `healthy`", dep.key),
                );
                "started"
            }
            "service_completed_successfully" => "completed",
            other => {
                ctx.lost(
                    dep.at,
                    format!("condition `{other}`"),
                    "use started, healthy or completed",
                );
                "started"
            }
        };
        for opt in dep.value.as_map().unwrap_or_default() {
            match (opt.key.as_str(), ctx.resolved(&opt.value).as_deref()) {
                ("condition", _) | ("required", Some("true")) | ("restart", Some("false")) => {}
                ("restart", _) => ctx.lost(
                    opt.at,
                    format!("`restart: true` on the dependency on `{}`", dep.key),
                    "run `envctl up` again after changing a dependency; it recreates what changed",
                ),
                ("required", _) => ctx.lost(
                    opt.at,
                    format!("optional dependency on `{}`", dep.key),
                    "envctl dependencies are required; leave it out if the service may be missing",
                ),
                (other, _) => ctx.lost(
                    opt.at,
                    format!("dependency setting `{other}`"),
                    "envctl knows the condition only",
                ),
            }
        }
        out.push((target, Out::str(wanted)));
    }
    if out.is_empty() {
        return None;
    }
    if out.iter().all(|(_, c)| *c == Out::str("started")) {
        return Some(Out::List(
            out.into_iter().map(|(k, _)| Out::Str(k)).collect(),
        ));
    }
    Some(Out::Map(out))
}
