//! What every service's translation shares (`Ctx`), and the small name rules the
//! translators all use. Each translator (`service`, `env`, `ports`, ...) imports this; this
//! imports none of them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::compose::Project;
use super::emit::Out;
use super::report::{Finding, Findings};
use super::yaml::{At, Node, Value};
use super::Options;

/// What every service's translation shares.
pub struct Ctx<'a> {
    pub project: &'a Project,
    /// The absolute directory the definition is written to.
    pub out_dir: PathBuf,
    pub options: &'a Options,
    pub findings: Findings,
    /// `allow:` entries and the paths that need them.
    pub allow: BTreeMap<String, Vec<String>>,
    /// Compose service name -> envctl service name.
    pub names: BTreeMap<String, String>,
    /// Compose services with a health check (those others may wait `healthy` for).
    pub healthchecked: BTreeSet<String>,
    /// Compose services others wait for with `service_completed_successfully`.
    pub jobs: BTreeSet<String>,
    /// Aliases that `links` give to a service (by Compose name).
    pub link_aliases: BTreeMap<String, Vec<String>>,
    /// Compose services' profiles (empty: always started).
    pub profiles: BTreeMap<String, Vec<String>>,
    /// Compose services that cannot be imported (no image, no local build).
    pub left_out: BTreeSet<String>,
    /// Variables whose default was written in place of the reference: `(at, text, value)`.
    pub fixed: RefCell<Vec<(At, String, String)>>,
}

impl Ctx<'_> {
    pub fn lost(&mut self, at: At, what: impl Into<String>, instead: impl Into<String>) {
        self.findings.push(Finding::lost(at, what, instead));
    }

    pub fn changed(&mut self, at: At, what: impl Into<String>, instead: impl Into<String>) {
        self.findings.push(Finding::changed(at, what, instead));
    }

    pub fn allow(&mut self, entry: &str, why: String) {
        let list = self.allow.entry(entry.to_string()).or_default();
        if !list.contains(&why) {
            list.push(why);
        }
    }

    /// The text of a scalar with variables replaced by their defaults, for values envctl
    /// must understand (a duration, a policy); each such use is reported (see `report_fixed`).
    pub fn resolved(&self, node: &Node) -> Option<String> {
        let text = node.as_str()?;
        let value = self.project.vars.resolve(text);
        if super::interp::has_vars(text) {
            let shown = self.project.vars.substitute(text, |n| format!("${{{n}}}"));
            self.fixed
                .borrow_mut()
                .push((node.at, shown, value.clone()));
        }
        Some(value)
    }

    /// One `changed` line per value whose variables were fixed to their defaults.
    pub fn report_fixed(&mut self) {
        for (at, text, value) in self.fixed.take() {
            self.changed(
                at,
                format!("`{text}` is fixed to `{value}`"),
                "envctl must read this value when importing; edit it in the definition",
            );
        }
    }

    pub fn name_of(&self, compose: &str) -> String {
        self.names
            .get(compose)
            .cloned()
            .unwrap_or_else(|| dns_name(compose))
    }
}

/// A Compose name made a DNS label: lower case, `_` and `.` as `-`.
pub fn dns_name(name: &str) -> String {
    let mapped: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let mut s: String = trimmed.chars().take(63).collect();
    if s.is_empty() {
        s = "service".into();
    }
    s
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A scalar as an output value: plain when Compose wrote a number or boolean.
pub fn out_scalar(node: &Node) -> Out {
    match &node.value {
        Value::Scalar(s, true) if s.parse::<f64>().is_ok() => Out::Plain(s.clone()),
        Value::Scalar(s, _) => Out::str(s.clone()),
        _ => Out::str(""),
    }
}

/// The repository of an image reference: `docker.io/library/redis:7@sha..` -> `redis`.
pub fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    let repo = match no_digest[last_slash..].rfind(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    };
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    repo.strip_prefix("library/").unwrap_or(repo).to_string()
}
