//! One definition document on its way in: the file read within its size limit, rendered,
//! parsed with unknown keys and shapes checked, and the problems found so far with where they
//! are. The loader (`load`), inheritance (`extends`) and the host-access check (`sandbox`)
//! all work on it; it imports none of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostics::{did_you_mean, Diagnostic, Location};
use super::format::DefinitionFile;
use super::locate::{display_path, Seg};
use super::render::{self, RenderContext};
use super::sourcemap::SourceMap;
use super::templates::{strip_location, unknown_field_hint};
use super::{schema, values, written};

/// Inputs that are not in the file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub feature: Option<String>,
    /// `--set key=value`, available to templates as `set.key`.
    pub set: BTreeMap<String, String>,
    /// The address outsiders use to reach published ports (`advertise_host` in templates).
    pub advertise_host: String,
    /// The Dubbo tag of an overlay (its feature; `dubbo_tag` in templates), `None` otherwise.
    pub dubbo_tag: Option<String>,
}

/// One base environment: its file, where its keys are, and its top-level mapping (unknown
/// keys already reported and dropped).
pub struct Layer {
    pub path: PathBuf,
    pub map: SourceMap,
    pub top: Value,
}

/// One definition file being loaded: its text, rendering and the problems found so far.
pub(super) struct Loader<'a> {
    pub path: &'a Path,
    pub map: SourceMap,
    pub problems: Vec<Diagnostic>,
    /// This file's own top-level mapping (before merging bases), once parsed.
    pub own: Value,
    /// The environments this one extends, nearest first.
    pub bases: Vec<Layer>,
}

impl<'a> Loader<'a> {
    /// The files of the environments this one extends.
    pub fn base_paths(&self) -> Vec<PathBuf> {
        self.bases.iter().map(|b| b.path.clone()).collect()
    }

    pub fn new(path: &'a Path, map: SourceMap) -> Self {
        Self {
            path,
            map,
            problems: Vec::new(),
            own: Value::Null,
            bases: Vec::new(),
        }
    }

    pub fn at(&mut self, path: &[Seg], message: impl Into<String>, hint: Option<String>) {
        let (file, location) = self.blame(path);
        self.problems.push(
            Diagnostic::new(&file, message)
                .at(location)
                .maybe_hint(hint),
        );
    }

    /// The file that wrote `path` (this one or a base) and where: the longest prefix of `path`
    /// found, this file first, so an overlay is blamed for what it overrides and a base for
    /// what it alone provides.
    pub fn blame(&self, path: &[Seg]) -> (PathBuf, Option<Location>) {
        if !self.bases.is_empty() {
            for n in (1..=path.len()).rev() {
                if has_path(&self.own, &path[..n]) {
                    break;
                }
                if let Some(layer) = self.bases.iter().find(|l| has_path(&l.top, &path[..n])) {
                    return (layer.path.clone(), layer.map.location_of(path));
                }
            }
        }
        (self.path.to_path_buf(), self.map.location_of(path))
    }
}

/// The environment name before rendering: a plain `name:` line, else the file stem.
fn env_name(path: &Path, source: &str) -> String {
    let plain = source.lines().find_map(|l| {
        let value = l.strip_prefix("name:")?.split(" #").next()?.trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty() && !value.contains("{{") && !value.contains("{%"))
            .then(|| value.to_string())
    });
    plain.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The Tera context for one file.
pub fn context(path: &Path, source: &str, opts: &LoadOptions) -> RenderContext {
    let env = env_name(path, source);
    let feature = opts.feature.clone().unwrap_or_default();
    let instance = crate::model::instance_name(&env, Some(&feature));
    RenderContext {
        env,
        feature,
        instance,
        set: opts.set.clone(),
        advertise_host: opts.advertise_host.clone(),
        dubbo_tag: opts.dubbo_tag.clone().unwrap_or_default(),
        // One budget for the file, its bases and every template it uses.
        deadline: Some(std::time::Instant::now() + super::budget::RENDER_TIME),
    }
}

pub fn read(path: &Path) -> Result<String, Vec<Diagnostic>> {
    super::budget::read_source(path).map_err(|e| {
        vec![Diagnostic::new(
            path,
            format!("cannot read the definition: {e}"),
        )]
    })
}

pub fn render_source(
    path: &Path,
    source: &str,
    ctx: &RenderContext,
) -> Result<String, Vec<Diagnostic>> {
    render::render(source, ctx, &BTreeMap::new(), None).map_err(|failure| {
        let map = SourceMap::new(source, source);
        vec![Diagnostic::new(path, format!("Tera: {}", failure.message))
            .at(failure
                .position
                .and_then(|(l, c)| map.source_location(l, c)))
            .maybe_hint(tera_hint(&failure.message))]
    })
}

fn tera_hint(message: &str) -> Option<String> {
    if message.contains("not defined") || message.contains("not found in") {
        Some("define it with `{% set NAME = set.NAME | default(value=\"...\") %}` or pass `--set NAME=VALUE`".into())
    } else if message.contains("Unexpected end of input") {
        Some("a Tera tag is not closed: check `{{ }}` and `{% %}`, and that every `{% for %}`/`{% if %}` has its `{% endfor %}`/`{% endif %}`".into())
    } else {
        None
    }
}

/// YAML parse, unknown keys (reported, then dropped) and shapes. Returns the top mapping and
/// the service whose shape error was reported (it is skipped later); `None` when nothing
/// further can be checked.
pub fn parse(
    loader: &mut Loader,
    rendered: &str,
    set: &BTreeMap<String, String>,
) -> Option<(Mapping, Option<String>)> {
    if let Some((line, col)) = values::too_deep_flow(rendered) {
        let loc = loader.map.location(line, col);
        loader.problems.push(
            Diagnostic::new(
                loader.path,
                format!(
                    "YAML: `[`/`{{` nested more than {} deep",
                    values::MAX_FLOW_DEPTH
                ),
            )
            .at(loc),
        );
        return None;
    }
    let document: Value = match serde_yaml::from_str(rendered) {
        Ok(mut v) => {
            render::restore_set_values(&mut v, set);
            for p in written::keep_in_definition(&mut v, rendered) {
                loader.at(&p.path, p.message, Some(p.hint));
            }
            v
        }
        Err(e) => {
            let loc = e
                .location()
                .and_then(|l| loader.map.location(l.line(), l.column()));
            loader.problems.push(
                Diagnostic::new(
                    loader.path,
                    format!("YAML: {}", strip_location(&e.to_string())),
                )
                .at(loc),
            );
            return None;
        }
    };
    let Some(top) = document.as_mapping() else {
        loader.problems.push(
            Diagnostic::new(
                loader.path,
                "a definition must be a mapping with `services:`",
            )
            .hint("start with `services:` and one key per service"),
        );
        return None;
    };
    let mut top = top.clone();

    // Unknown keys: all of them, then drop them so the rest can still be checked.
    let unknown = schema::unknown_keys(&document, &schema::DEFINITION);
    for u in &unknown {
        let mut key_path = u.path.clone();
        key_path.push(Seg::key(&u.key));
        let place = if u.path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{}`", display_path(&u.path))
        };
        let hint = did_you_mean(&u.key, u.known.iter().copied())
            .or_else(|| Some(format!("known keys: {}", u.known.join(", "))));
        loader.at(&key_path, format!("unknown key `{}` {place}", u.key), hint);
        remove_path(&mut top, &key_path);
    }
    // Shapes: the whole text first, for an exact position, when there were no unknown keys.
    let mut shape_error_service: Option<String> = None;
    if unknown.is_empty() {
        if let Err(e) = serde_yaml::from_str::<DefinitionFile>(rendered) {
            let message = strip_location(&e.to_string());
            shape_error_service = message
                .strip_prefix("services.")
                .and_then(|r| r.split(['.', ':', '[']).next())
                .map(str::to_string);
            let loc = e
                .location()
                .and_then(|l| loader.map.location(l.line(), l.column()));
            let hint = unknown_field_hint(&message).or_else(|| shape_hint(&message));
            loader.problems.push(
                Diagnostic::new(loader.path, message)
                    .at(loc)
                    .maybe_hint(hint),
            );
            // A shape error outside one service leaves nothing reliable to check.
            shape_error_service.as_ref()?;
        }
    }

    Some((top, shape_error_service))
}

pub fn shape_hint(message: &str) -> Option<String> {
    if message.contains("unknown variant") {
        let rest = message.split("unknown variant `").nth(1)?;
        let (got, rest) = rest.split_once('`')?;
        let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        did_you_mean(got, known)
    } else {
        None
    }
}

/// Whether `path` exists in `value` (keys and indices).
pub fn has_path(value: &Value, path: &[Seg]) -> bool {
    let mut current = value;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => current.as_mapping().and_then(|m| m.get(k.as_str())),
            Seg::Index(i) => current.as_sequence().and_then(|s| s.get(*i)),
        };
        match next {
            Some(v) => current = v,
            None => return false,
        }
    }
    true
}

/// Removes the key at `path` (used to drop unknown keys after reporting them).
pub fn remove_path(top: &mut Mapping, path: &[Seg]) {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return;
    };
    let mut current = top;
    for seg in parents {
        let Seg::Key(k) = seg else { return };
        match current.get_mut(k.as_str()).and_then(Value::as_mapping_mut) {
            Some(m) => current = m,
            None => return,
        }
    }
    current.remove(last.as_str());
}
