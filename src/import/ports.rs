//! `ports:` — a container port stays allocated by envctl; a pinned host port stays pinned.

use super::context::Ctx;
use super::emit::Out;
use super::yaml::{Entry, Node, Value};

/// One published port: raw parts (they may hold variable markers) and their resolved values.
struct Port {
    host_ip: String,
    host: Option<String>,
    container: String,
    protocol: String,
}

pub fn ports(ctx: &mut Ctx, e: &Entry) -> Vec<Out> {
    let mut out = Vec::new();
    for item in e.value.as_seq().unwrap_or_default() {
        let port = match &item.value {
            Value::Scalar(text, _) => short(text),
            Value::Map(_) => long(ctx, item),
            _ => None,
        };
        let Some(port) = port else {
            ctx.lost(
                item.at,
                format!("port `{}`", describe(ctx, item)),
                "write CONTAINER, HOST:CONTAINER or the long syntax with `target`",
            );
            continue;
        };
        if !port.host_ip.is_empty()
            && !matches!(
                ctx.project.vars.resolve(&port.host_ip).as_str(),
                "0.0.0.0" | ""
            )
        {
            ctx.lost(
                item.at,
                format!("host address `{}` of port `{}`", ctx.project.vars.resolve(&port.host_ip), describe(ctx, item)),
                "envctl publishes on every address of the host; firewall the port if it must stay local",
            );
        }
        match expand(ctx, &port) {
            Ok(list) => out.extend(list),
            Err(msg) => ctx.lost(
                item.at,
                format!("port `{}`: {msg}", describe(ctx, item)),
                "write single ports or ranges of equal length",
            ),
        }
    }
    out
}

fn describe(ctx: &Ctx, item: &Node) -> String {
    match &item.value {
        Value::Scalar(s, _) => ctx.project.vars.resolve(s),
        _ => item
            .get("target")
            .and_then(Node::as_str)
            .map_or_else(|| "?".into(), |t| ctx.project.vars.resolve(t)),
    }
}

/// `[HOST_IP:][HOST:]CONTAINER[/PROTOCOL]`; an IPv6 host address is in brackets.
fn short(text: &str) -> Option<Port> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p)) => (s, p.to_string()),
        None => (text, "tcp".to_string()),
    };
    let (host_ip, rest) = match spec.strip_prefix('[') {
        Some(r) => {
            let (ip, rest) = r.split_once("]:")?;
            (ip.to_string(), rest)
        }
        None => (String::new(), spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host, container) = match parts.as_slice() {
        [c] => (host_ip, None, *c),
        [h, c] => (host_ip, Some(*h), *c),
        [ip, h, c] => (ip.to_string(), Some(*h), *c),
        _ => return None,
    };
    Some(Port {
        host_ip,
        host: host.filter(|h| !h.is_empty()).map(str::to_string),
        container: container.to_string(),
        protocol,
    })
}

fn long(ctx: &mut Ctx, item: &Node) -> Option<Port> {
    let get = |k: &str| item.get(k).and_then(Node::as_str).map(str::to_string);
    for opt in item.as_map().unwrap_or_default() {
        match opt.key.as_str() {
            "target" | "published" | "protocol" | "host_ip" => {}
            "mode" if ctx.resolved(&opt.value).as_deref() == Some("ingress") => {}
            "mode" | "name" | "app_protocol" => ctx.changed(
                opt.at,
                format!("port `{}`", opt.key),
                "only a label for other tools; envctl publishes the port the same way",
            ),
            other => ctx.lost(
                opt.at,
                format!("port setting `{other}`"),
                "envctl knows target, published and protocol",
            ),
        }
    }
    Some(Port {
        host_ip: get("host_ip").unwrap_or_default(),
        host: get("published").filter(|h| !h.is_empty()),
        container: get("target")?,
        protocol: get("protocol").unwrap_or_else(|| "tcp".into()),
    })
}

fn range(text: &str) -> Result<(u32, u32), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{s}` is not a port number"))
    };
    match text.split_once('-') {
        Some((a, b)) => Ok((number(a)?, number(b)?)),
        None => {
            let n = number(text)?;
            Ok((n, n))
        }
    }
}

/// The envctl port entries: `80`, `"8080:80"`, `"53/udp"`; ranges are written out.
fn expand(ctx: &Ctx, port: &Port) -> Result<Vec<Out>, String> {
    let vars = &ctx.project.vars;
    let protocol = vars.resolve(&port.protocol);
    if !matches!(protocol.as_str(), "tcp" | "udp") {
        return Err(format!("protocol `{protocol}`"));
    }
    let suffix = if protocol == "udp" { "/udp" } else { "" };
    let (c0, c1) = range(&vars.resolve(&port.container))?;
    let host = match &port.host {
        Some(h) => Some(range(&vars.resolve(h))?),
        None => None,
    };
    let count = c1.checked_sub(c0).ok_or("an empty range")? + 1;
    if let Some((h0, h1)) = host {
        // A host range for one container port lets the engine choose: envctl allocates.
        if h1 != h0 && count == 1 {
            return Ok(vec![plain(c0, suffix)]);
        }
        if h1.checked_sub(h0).map(|d| d + 1) != Some(count) {
            return Err("host and container ranges differ in length".into());
        }
    }
    let single = count == 1;
    Ok((0..count)
        .map(|i| match (host, single) {
            // One port keeps what was written, so `${WEB_PORT:-8080}:80` stays a variable.
            (Some(_), true) => Out::str(format!(
                "{}:{}{suffix}",
                port.host.as_deref().unwrap_or(""),
                port.container
            )),
            (Some((h0, _)), false) => Out::str(format!("{}:{}{suffix}", h0 + i, c0 + i)),
            (None, true) if !suffix.is_empty() || super::interp::has_vars(&port.container) => {
                Out::str(format!("{}{suffix}", port.container))
            }
            (None, _) => plain(c0 + i, suffix),
        })
        .collect())
}

fn plain(port: u32, suffix: &str) -> Out {
    if suffix.is_empty() {
        Out::Plain(port.to_string())
    } else {
        Out::str(format!("{port}{suffix}"))
    }
}
