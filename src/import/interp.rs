//! Compose's `${VAR}` interpolation, kept as variables instead of being substituted.
//!
//! Compose fills `${VAR:-default}` from the host's environment (and the project's `.env`) when
//! it runs; an envctl definition cannot read the host, so each variable becomes a `--set`
//! value with the same default (`{% set VAR = set.VAR | default(value="...") %}`), or, when an
//! `environment` value is exactly one variable, a `from_env` secret (see `service`). Scalars
//! keep a reference as `MARK_OPEN NAME MARK_CLOSE` so later steps can both compute the default
//! value (to understand a port or a duration) and write the Tera expression.

use std::collections::BTreeMap;

use super::report::{Finding, Findings};
use super::yaml::{At, Node, Value};

pub const MARK_OPEN: char = '\u{E000}';
pub const MARK_CLOSE: char = '\u{E001}';

#[derive(Debug, Clone)]
pub struct Var {
    /// The value used when `--set` does not give one: `.env`'s, else the reference's default.
    pub default: Option<String>,
    /// Written `${VAR:?message}`: Compose refuses to run without it.
    pub required: bool,
    /// Where it was first referenced.
    pub at: At,
}

/// The variables the Compose files reference, and the project's `.env` values.
#[derive(Debug, Default)]
pub struct Vars {
    pub vars: BTreeMap<String, Var>,
    pub dotenv: BTreeMap<String, String>,
}

/// Reads a `.env`-style file: `KEY=VALUE` lines, `#` comments, optional `export ` and quotes.
pub fn parse_env_file(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        let value = unquote(value);
        out.push((key.to_string(), value, i + 1));
    }
    out
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    // An unquoted value ends at ` #` (an inline comment).
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Vars {
    /// Replaces every reference in the scalars of `node` (not in keys) with a marker.
    pub fn mark_tree(&mut self, node: &mut Node, findings: &mut Findings) {
        match &mut node.value {
            Value::Scalar(text, plain) => {
                if text.contains('$') {
                    *text = self.mark(text, node.at, findings);
                    *plain = false;
                }
            }
            Value::Seq(items) => items.iter_mut().for_each(|n| self.mark_tree(n, findings)),
            Value::Map(entries) => {
                for e in entries {
                    // Extension fields are only templates for anchors: already copied.
                    if !e.key.starts_with("x-") {
                        self.mark_tree(&mut e.value, findings);
                    }
                }
            }
            Value::Null => {}
        }
    }

    fn mark(&mut self, text: &str, at: At, findings: &mut Findings) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(stripped) = after.strip_prefix('$') {
                out.push('$');
                rest = stripped;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = closing_brace(body) else {
                    out.push_str(&rest[i..]);
                    rest = "";
                    break;
                };
                self.reference(&body[..end], at, findings, &mut out);
                rest = &body[end + 1..];
            } else {
                let len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
                if len == 0 {
                    out.push('$');
                } else {
                    self.reference(&after[..len], at, findings, &mut out);
                }
                rest = &after[len..];
            }
        }
        out.push_str(rest);
        out
    }

    /// One `${...}` body: `NAME`, `NAME:-default`, `NAME-default`, `NAME:?err`, `NAME:+alt`.
    fn reference(&mut self, body: &str, at: At, findings: &mut Findings, out: &mut String) {
        let len = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
        let (name, op) = body.split_at(len);
        let (default, required, alternative) =
            if let Some(d) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
                // A default may itself hold references; Compose resolves them, we take theirs.
                let marked = self.mark(d, at, findings);
                (Some(self.resolve(&marked)), false, None)
            } else if op.starts_with(":?") || op.starts_with('?') {
                (None, true, None)
            } else if let Some(alt) = op.strip_prefix(":+").or_else(|| op.strip_prefix('+')) {
                (None, false, Some(alt.to_string()))
            } else {
                (None, false, None)
            };
        if let Some(alt) = alternative {
            findings.push(Finding::lost(
                at,
                format!("`${{{body}}}` (use `{alt}` when {name} is set)"),
                format!("envctl has no conditional value; write the value you need, or `{{% if set.{name} %}}{alt}{{% endif %}}`"),
            ));
            return;
        }
        let dotenv = self.dotenv.get(name).cloned();
        let entry = self.vars.entry(name.to_string()).or_insert(Var {
            default: None,
            required: false,
            at,
        });
        entry.required |= required;
        let wanted = dotenv.or(default);
        match (&entry.default, wanted) {
            (None, Some(d)) => entry.default = Some(d),
            (Some(old), Some(new)) if *old != new => findings.push(Finding::changed(
                at,
                format!("`${{{body}}}` has another default than at line {}", entry.at.line),
                format!("one `--set {name}=...` default is kept (`{old}`); pass --set {name}=... to choose"),
            )),
            _ => {}
        }
        out.push(MARK_OPEN);
        out.push_str(name);
        out.push(MARK_CLOSE);
    }

    /// The text with every reference replaced by its default (empty when it has none).
    pub fn resolve(&self, text: &str) -> String {
        self.substitute(text, |name| {
            self.vars
                .get(name)
                .and_then(|v| v.default.clone())
                .unwrap_or_default()
        })
    }

    pub fn substitute(&self, text: &str, mut f: impl FnMut(&str) -> String) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(MARK_OPEN) {
            out.push_str(&rest[..i]);
            let after = &rest[i + MARK_OPEN.len_utf8()..];
            let end = after.find(MARK_CLOSE).unwrap_or(after.len());
            out.push_str(&f(&after[..end]));
            rest = after.get(end + MARK_CLOSE.len_utf8()..).unwrap_or("");
        }
        out.push_str(rest);
        out
    }
}

/// The variable a text consists of, when it is exactly one reference.
pub fn whole_var(text: &str) -> Option<&str> {
    let inner = text.strip_prefix(MARK_OPEN)?.strip_suffix(MARK_CLOSE)?;
    (!inner.contains(MARK_OPEN)).then_some(inner)
}

pub fn has_vars(text: &str) -> bool {
    text.contains(MARK_OPEN)
}

/// The variables a text references, in order.
pub fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(MARK_OPEN) {
        let after = &rest[i + MARK_OPEN.len_utf8()..];
        let end = after.find(MARK_CLOSE).unwrap_or(after.len());
        out.push(after[..end].to_string());
        rest = after.get(end + MARK_CLOSE.len_utf8()..).unwrap_or("");
    }
    out
}

/// The index of the `}` closing a `${`, allowing nested `${...}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str) -> (Vars, String, Findings) {
        let mut vars = Vars::default();
        let mut f = Findings::default();
        let out = vars.mark(text, At::default(), &mut f);
        (vars, out, f)
    }

    #[test]
    fn defaults_and_required_are_recorded() {
        let (vars, out, _) = marked("${IMAGE:-redis}:${TAG:?set a tag} $$HOME $PLAIN");
        assert_eq!(vars.resolve(&out), "redis: $HOME ");
        assert!(vars.vars["TAG"].required);
        assert_eq!(vars.vars["IMAGE"].default.as_deref(), Some("redis"));
        assert_eq!(names(&out), ["IMAGE", "TAG", "PLAIN"]);
    }

    #[test]
    fn whole_references_are_recognised() {
        let (_, out, _) = marked("${DB_PASSWORD}");
        assert_eq!(whole_var(&out), Some("DB_PASSWORD"));
        let (_, out, _) = marked("x${A}");
        assert_eq!(whole_var(&out), None);
    }

    #[test]
    fn nested_defaults_resolve() {
        let (vars, out, _) = marked("${A:-${B:-x}y}");
        assert_eq!(vars.resolve(&out), "xy");
    }

    #[test]
    fn env_files_parse_like_compose() {
        let parsed = parse_env_file("# c\nexport A=1\nB=\"two words\"\nC=x # note\nD\n");
        let pairs: Vec<(&str, &str)> = parsed
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "")]
        );
    }
}
