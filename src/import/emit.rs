//! Writes the imported definition as YAML a person keeps editing: short lists in flow style,
//! mappings in block style, a comment above each service saying where it came from.
//!
//! The file is a Tera template (envctl renders every definition), so text from Compose that
//! looks like Tera (`{{.Names}}` in a command) is wrapped in `{% raw %}`, and variable markers
//! (see `interp`) become `{{ NAME }}`.

use std::collections::BTreeMap;

use super::interp::{MARK_CLOSE, MARK_OPEN};

#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Text (may hold variable markers); quoted when YAML needs it.
    Str(String),
    /// A number or boolean, written as it is.
    Plain(String),
    List(Vec<Out>),
    Map(Vec<(String, Out)>),
}

impl Out {
    pub fn str(s: impl Into<String>) -> Self {
        Out::Str(s.into())
    }
}

#[derive(Debug, Default)]
pub struct ServiceOut {
    pub name: String,
    pub comments: Vec<String>,
    pub keys: Vec<(String, Out)>,
    /// Compose profiles: the service is written inside `{% if ... in profiles %}`.
    pub profiles: Vec<String>,
}

#[derive(Debug, Default)]
pub struct DefinitionOut {
    pub header: Vec<String>,
    /// `(tera name, --set key, default)` of each variable.
    pub sets: Vec<(String, String, String)>,
    pub name: String,
    pub description: String,
    /// Each `allow:` entry and the paths that need it.
    pub allow: BTreeMap<String, Vec<String>>,
    pub services: Vec<ServiceOut>,
    /// Compose variable name -> Tera variable name.
    pub tera_names: BTreeMap<String, String>,
    /// The profiles started when `--set profiles` is not given (`.env`'s COMPOSE_PROFILES).
    pub default_profiles: String,
}

fn comment(text: &str) -> String {
    // Tera renders comments too: braces from Compose names must not open a tag.
    text.replace(['{', '}'], "")
}

impl DefinitionOut {
    pub fn write(&self) -> String {
        let mut w = String::new();
        for line in &self.header {
            w.push_str(&format!("# {}\n", comment(line)));
        }
        for (tera, key, default) in &self.sets {
            w.push_str(&format!(
                "{{% set {tera} = set.{key} | default(value=\"{}\") %}}\n",
                tera_string(&yaml_escape(default))
            ));
        }
        if self.services.iter().any(|s| !s.profiles.is_empty()) {
            w.push_str(&format!(
                "{{% set profiles = set.profiles | default(value=\"{}\") | split(pat=\",\") %}}\n",
                tera_string(&self.default_profiles)
            ));
        }
        w.push_str(&format!("name: {}\n", self.name));
        w.push_str(&format!(
            "description: {}\n",
            self.scalar(&self.description)
        ));
        if !self.allow.is_empty() {
            w.push_str("allow:\n");
            for (entry, why) in &self.allow {
                w.push_str(&format!("  - {entry}  # {}\n", comment(&why.join(", "))));
            }
        }
        w.push_str("services:\n");
        for s in &self.services {
            let condition = (!s.profiles.is_empty()).then(|| {
                s.profiles
                    .iter()
                    .map(|p| format!("\"{}\" in profiles", tera_string(p)))
                    .collect::<Vec<_>>()
                    .join(" or ")
            });
            if let Some(c) = &condition {
                w.push_str(&format!("{{% if {c} %}}\n"));
            }
            for line in &s.comments {
                w.push_str(&format!("  # {}\n", comment(line)));
            }
            w.push_str(&format!("  {}:\n", key(&s.name)));
            for (k, v) in &s.keys {
                self.entry(&mut w, 4, k, v);
            }
            if condition.is_some() {
                w.push_str("{% endif %}\n");
            }
        }
        w
    }

    fn entry(&self, w: &mut String, indent: usize, k: &str, v: &Out) {
        let pad = " ".repeat(indent);
        match v {
            Out::Map(entries) if entries.is_empty() => {
                w.push_str(&format!("{pad}{}: {{}}\n", key(k)))
            }
            Out::Map(entries) => {
                w.push_str(&format!("{pad}{}:\n", key(k)));
                for (k2, v2) in entries {
                    self.entry(w, indent + 2, k2, v2);
                }
            }
            Out::List(items) => {
                let flow = self.flow(v);
                if flow.len() + indent + k.len() <= 100 || items.iter().any(|i| !is_scalar(i)) {
                    w.push_str(&format!("{pad}{}: {flow}\n", key(k)));
                } else {
                    w.push_str(&format!("{pad}{}:\n", key(k)));
                    for item in items {
                        w.push_str(&format!("{pad}  - {}\n", self.flow(item)));
                    }
                }
            }
            scalar => w.push_str(&format!("{pad}{}: {}\n", key(k), self.flow(scalar))),
        }
    }

    /// A value in flow style.
    fn flow(&self, v: &Out) -> String {
        match v {
            Out::Str(s) => self.scalar(s),
            Out::Plain(s) => s.clone(),
            Out::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| self.flow(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Out::Map(entries) => format!(
                "{{ {} }}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", key(k), self.flow(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A string scalar: plain when YAML reads it back as the same string, else double-quoted.
    pub fn scalar(&self, s: &str) -> String {
        if is_plain_safe(s) {
            return s.to_string();
        }
        let mut out = String::from("\"");
        let mut rest = s;
        while !rest.is_empty() {
            match rest.find(MARK_OPEN) {
                Some(0) => {
                    let after = &rest[MARK_OPEN.len_utf8()..];
                    let end = after.find(MARK_CLOSE).unwrap_or(after.len());
                    let name = &after[..end];
                    let tera = self.tera_names.get(name).map_or(name, String::as_str);
                    out.push_str(&format!("{{{{ {tera} }}}}"));
                    rest = after.get(end + MARK_CLOSE.len_utf8()..).unwrap_or("");
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    out.push_str(&literal(&yaml_escape(&rest[..end])));
                    rest = &rest[end..];
                }
            }
        }
        out.push('"');
        out
    }
}

fn is_scalar(v: &Out) -> bool {
    matches!(v, Out::Str(_) | Out::Plain(_))
}

/// Literal text inside the template: Tera delimiters are wrapped in `{% raw %}`.
fn literal(text: &str) -> String {
    if ["{{", "{%", "{#", "}}", "%}", "#}"]
        .iter()
        .any(|d| text.contains(d))
    {
        format!("{{% raw %}}{text}{{% endraw %}}")
    } else {
        text.to_string()
    }
}

/// Escapes for the inside of a YAML double-quoted string.
pub fn yaml_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escapes for the inside of a Tera double-quoted string literal.
fn tera_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A mapping key, quoted when it is not a plain word.
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !looks_typed(k)
    {
        k.to_string()
    } else {
        format!("\"{}\"", literal(&yaml_escape(k)))
    }
}

/// Words YAML would read as something other than a string.
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.')
        || s.contains('_') && s.replace('_', "").parse::<f64>().is_ok()
}

fn is_plain_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '+' | '=')
        })
        && !s.starts_with(['-', '@', '.', '='])
        && !looks_typed(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        let d = DefinitionOut::default();
        assert_eq!(d.scalar("redis"), "redis");
        assert_eq!(d.scalar("8080"), "\"8080\"");
        assert_eq!(d.scalar("no"), "\"no\"");
        assert_eq!(d.scalar("a: b"), "\"a: b\"");
        assert_eq!(d.scalar("say \"hi\""), "\"say \\\"hi\\\"\"");
        let marked = format!("redis:{MARK_OPEN}TAG{MARK_CLOSE}");
        assert_eq!(d.scalar(&marked), "\"redis:{{ TAG }}\"");
        assert_eq!(d.scalar("{{.Name}}"), "\"{% raw %}{{.Name}}{% endraw %}\"");
    }

    #[test]
    fn long_lists_go_block_style() {
        let mut d = DefinitionOut {
            name: "x".into(),
            description: "d".into(),
            ..Default::default()
        };
        d.services.push(ServiceOut {
            name: "s".into(),
            keys: vec![
                ("ports".into(), Out::List(vec![Out::Plain("80".into())])),
                ("command".into(), Out::List(vec![Out::str("x".repeat(120))])),
            ],
            ..Default::default()
        });
        let text = d.write();
        assert!(text.contains("    ports: [80]\n"), "{text}");
        assert!(text.contains("    command:\n      - xxx"), "{text}");
    }
}
