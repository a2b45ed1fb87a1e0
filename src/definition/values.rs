//! Single values with several spellings: scalars, ports, env values, volumes, command
//! strings, and paths relative to the definition file.

use std::path::{Component, Path, PathBuf};

use serde_yaml::Value;

use crate::model::{
    check_dns_label, EnvValue, NameError, PortSpec, Protocol, VolumeMount, VolumeSource,
};

/// Why a port, env value or volume was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a port must be a number or a string")]
    PortNotScalar,
    #[error("unknown protocol `{protocol}` in port `{text}`; use tcp or udp")]
    UnknownProtocol { protocol: String, text: String },
    #[error("port {0} is out of range (1-65535)")]
    PortOutOfRange(u32),
    #[error("`{0}` is not a port")]
    NotAPort(String),
    #[error("a value must be a scalar or a `from_env`/`from_file` mapping")]
    EnvNotScalarOrMapping,
    #[error("use exactly one of `from_env` or `from_file`")]
    EnvSources,
    #[error("`from_env`/`from_file` takes a non-empty string")]
    EnvSourceEmpty,
    #[error("unknown key `{0}`; use `from_env` or `from_file`")]
    EnvSourceUnknown(String),
    #[error("volume `{0}` must be `SOURCE:TARGET` or `SOURCE:TARGET:ro`")]
    VolumeShape(String),
    #[error("volume `{text}`: unknown mode `{mode}`; use ro or rw")]
    VolumeMode { text: String, mode: String },
    #[error("volume `{text}`: the target `{target}` must be an absolute path")]
    VolumeTarget { text: String, target: String },
    #[error("volume `{text}`: {error}")]
    VolumeName { text: String, error: NameError },
}

/// Text of a YAML scalar (strings, numbers, booleans), or `None` for anything else.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Where relative paths are resolved: the directory of the definition file, made absolute.
pub fn base_dir(definition: &Path) -> PathBuf {
    let dir = definition.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    normalize(&absolute)
}

/// Removes `.` and resolves `..` lexically (without touching the file system).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub fn relative_to(base: &Path, path: &str) -> PathBuf {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|h| h.join(rest)),
        None => None,
    };
    let p = expanded.unwrap_or_else(|| PathBuf::from(path));
    if p.is_absolute() {
        normalize(&p)
    } else {
        normalize(&base.join(p))
    }
}

/// `6379`, `"6379"`, `"8080:80"`, `"53/udp"`, `"5353:53/udp"`.
pub fn parse_port(value: &Value) -> Result<PortSpec, ValueError> {
    let text = scalar_text(value).ok_or(ValueError::PortNotScalar)?;
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Protocol::Tcp),
        Some((spec, "udp")) => (spec, Protocol::Udp),
        Some((_, other)) => {
            return Err(ValueError::UnknownProtocol {
                protocol: other.to_string(),
                text: text.clone(),
            })
        }
        None => (text.as_str(), Protocol::Tcp),
    };
    let number = |s: &str| -> Result<u16, ValueError> {
        match s.trim().parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
            Ok(p) => Err(ValueError::PortOutOfRange(p)),
            Err(_) => Err(ValueError::NotAPort(text.clone())),
        }
    };
    let (host, container) = match spec.split_once(':') {
        Some((host, container)) => (Some(number(host)?), number(container)?),
        None => (None, number(spec)?),
    };
    Ok(PortSpec {
        container,
        host,
        protocol,
    })
}

pub fn parse_env_value(value: &Value, base: &Path) -> Result<EnvValue, ValueError> {
    if let Some(text) = scalar_text(value) {
        return Ok(EnvValue::Plain(text));
    }
    let map = value
        .as_mapping()
        .ok_or(ValueError::EnvNotScalarOrMapping)?;
    if map.len() != 1 {
        return Err(ValueError::EnvSources);
    }
    let (key, inner) = map.iter().next().expect("one entry");
    let inner = inner
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(ValueError::EnvSourceEmpty)?;
    match key.as_str() {
        Some("from_env") => Ok(EnvValue::FromEnv(inner.to_string())),
        Some("from_file") => Ok(EnvValue::FromFile(relative_to(base, inner))),
        other => Err(ValueError::EnvSourceUnknown(
            other.unwrap_or("?").to_string(),
        )),
    }
}

/// `data:/var/lib/x`, `./conf:/etc/x:ro`, `/abs:/x:rw`.
pub fn parse_volume(text: &str, base: &Path) -> Result<VolumeMount, ValueError> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [s, t] => (*s, *t, None),
        [s, t, m] => (*s, *t, Some(*m)),
        _ => return Err(ValueError::VolumeShape(text.to_string())),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(ValueError::VolumeMode {
                text: text.to_string(),
                mode: other.to_string(),
            })
        }
    };
    if !target.starts_with('/') {
        return Err(ValueError::VolumeTarget {
            text: text.to_string(),
            target: target.to_string(),
        });
    }
    let source = if source.starts_with('.') || source.starts_with('/') || source.starts_with('~') {
        VolumeSource::Bind(relative_to(base, source))
    } else {
        check_dns_label("volume", source).map_err(|error| ValueError::VolumeName {
            text: text.to_string(),
            error,
        })?;
        VolumeSource::Named(source.to_string())
    };
    Ok(VolumeMount {
        source,
        target: target.to_string(),
        read_only,
    })
}

/// Splits on whitespace, keeping single- and double-quoted parts together.
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = |s: &str| parse_port(&Value::String(s.into()));
        assert_eq!(
            p("80").unwrap(),
            PortSpec {
                container: 80,
                host: None,
                protocol: Protocol::Tcp
            }
        );
        assert_eq!(
            p("5353:53/udp").unwrap(),
            PortSpec {
                container: 53,
                host: Some(5353),
                protocol: Protocol::Udp
            }
        );
        for bad in ["0", "65536", "a", "1:2:3", "80/sctp", ""] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(split_words("a 'b c' \"d\"").unwrap(), ["a", "b c", "d"]);
        assert_eq!(split_words("x ''").unwrap(), ["x", ""]);
        assert!(split_words("'open").is_none());
    }

    #[test]
    fn paths_resolve_against_the_base() {
        assert_eq!(
            relative_to(Path::new("/d/e"), "../x/./y"),
            PathBuf::from("/d/x/y")
        );
        assert_eq!(relative_to(Path::new("/d"), "/abs"), PathBuf::from("/abs"));
    }
}

/// How deep `[`/`{` flow collections may nest before the YAML is refused unparsed. The YAML
/// parser refuses nesting deeper than 128 anyway, but its scanner first spends time
/// quadratic in the depth (minutes for a 100 kB line of `[`); found by fuzzing.
pub const MAX_FLOW_DEPTH: usize = 100;

/// The 1-based line and column where flow nesting first exceeds `MAX_FLOW_DEPTH`, if it does.
/// Quotes and comments are skipped roughly; a false alarm needs 100 unclosed brackets in text.
pub fn too_deep_flow(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for (col, c) in line.chars().enumerate() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((i + 1, col + 1));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_found_quickly() {
        let deep = format!("services: {}", "[".repeat(100_000));
        let started = std::time::Instant::now();
        assert_eq!(too_deep_flow(&deep), Some((1, 11 + MAX_FLOW_DEPTH)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(too_deep_flow("a: [[1], {b: [2]}]\nc: \"[[[[\"\n"), None);
    }
}
