//! Service templates: the search path, their params, rendering and the deep merge.
//!
//! A template file has a plain-YAML header (`description`, `params`) and a Tera-rendered
//! `service:` body, which must be the last top-level key. The header is read first so params
//! are known before rendering; header lines are blanked (not removed) before rendering so line
//! numbers in errors stay those of the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use super::diagnostics::{did_you_mean, Diagnostic};
use super::format::{TemplateBody, TemplateHeader};
use super::locate::{self, Seg};
use super::params::{self, Param, ParamProblem};
use super::render::{self, RenderContext};
use super::schema;
use super::sourcemap::SourceMap;
use super::written;

/// The directories searched for `<name>.yaml`, in order.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("templates")];
    // A bad value was refused at startup (`settings::check_environment`).
    dirs.extend(crate::settings::template_path().unwrap_or_default());
    if let Some(config) = dirs::config_dir() {
        dirs.push(config.join("envctl").join("templates"));
    }
    dirs
}

/// Why a template could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("template name `{0}` is not allowed: use letters, digits, `-`, `_` and `/` between names, never `..` or a leading `/`")]
    InvalidName(String),
    #[error("template `{name}` not found; searched {}", .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound { name: String, tried: Vec<PathBuf> },
    #[error("template `{name}` is a symlink out of its library (to {}); it is not read", .target.display())]
    LeavesLibrary { name: String, target: PathBuf },
}

/// Template names are relative paths without `.`/`..`, so they cannot escape the search path.
pub fn check_name(name: &str) -> Result<(), LookupError> {
    let ok = !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(())
    } else {
        Err(LookupError::InvalidName(name.to_string()))
    }
}

/// Finds `<name>.yaml` on the search path.
pub fn find(name: &str, search: &[PathBuf]) -> Result<PathBuf, LookupError> {
    check_name(name)?;
    let tried: Vec<PathBuf> = search
        .iter()
        .map(|d| d.join(format!("{name}.yaml")))
        .collect();
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| LookupError::NotFound {
            name: name.to_string(),
            tried,
        })
}

/// A template as listed and shown to users.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    pub name: String,
    pub path: PathBuf,
    pub description: Option<String>,
    pub params: BTreeMap<String, Param>,
    /// For library templates: `LIB/NAME@<short commit>` (what the label records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Every template on the search path; a name found earlier shadows later ones.
pub fn list(search: &[PathBuf]) -> Vec<Result<TemplateInfo, Vec<Diagnostic>>> {
    list_where(search, |_, _| Ok(()))
}

/// Like `list`, reading only the files `admit(name, path)` accepts (its error is listed).
pub fn list_where(
    search: &[PathBuf],
    admit: impl Fn(&str, &Path) -> Result<(), Vec<Diagnostic>>,
) -> Vec<Result<TemplateInfo, Vec<Diagnostic>>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for dir in search {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml") && p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if seen.insert(name.clone()) {
                out.push(admit(&name, &path).and_then(|()| info(&name, &path)));
            }
        }
    }
    out
}

/// Reads one template's header.
pub fn info(name: &str, path: &Path) -> Result<TemplateInfo, Vec<Diagnostic>> {
    let source = read(path)?;
    let (header, _) = split(&source);
    let header = parse_header(path, &source, &header)?;
    Ok(TemplateInfo {
        name: name.to_string(),
        path: path.to_path_buf(),
        description: header.description,
        params: header
            .params
            .iter()
            .map(|(name, def)| (name.clone(), Param::from(def)))
            .collect(),
        source: None,
    })
}

fn read(path: &Path) -> Result<String, Vec<Diagnostic>> {
    super::budget::read_source(path)
        .map_err(|e| vec![Diagnostic::new(path, format!("cannot read template: {e}"))])
}

/// Splits at the top-level `service:` line: (header text, body with header lines blanked).
fn split(source: &str) -> (String, String) {
    let lines: Vec<&str> = source.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("service:"))
        .unwrap_or(lines.len());
    let header = lines[..at].join("\n");
    let body = std::iter::repeat_n("", at)
        .chain(lines[at..].iter().copied())
        .collect::<Vec<_>>()
        .join("\n");
    (header, body)
}

fn parse_header(
    path: &Path,
    source: &str,
    header: &str,
) -> Result<TemplateHeader, Vec<Diagnostic>> {
    let map = SourceMap::new(source, source);
    if header.trim().is_empty() {
        return Ok(TemplateHeader::default());
    }
    if let Some((i, line)) = header
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("{{") || l.contains("{%"))
    {
        return Err(vec![Diagnostic::new(path, "template header (description, params) is plain YAML; Tera is only rendered under `service:`")
            .at(map.source_location(i + 1, line.find('{').unwrap_or(0) + 1))]);
    }
    if let Some((line, col)) = super::values::too_deep_flow(header) {
        return Err(vec![Diagnostic::new(
            path,
            "template header: `[`/`{` nested too deep",
        )
        .at(map.source_location(line, col))]);
    }
    let parsed: TemplateHeader = serde_yaml::from_str(header).map_err(|e| {
        let loc = e
            .location()
            .and_then(|l| map.source_location(l.line(), l.column()));
        let message = strip_location(&e.to_string());
        let hint = unknown_field_hint(&message);
        vec![Diagnostic::new(path, format!("template header: {message}"))
            .at(loc)
            .maybe_hint(hint)]
    })?;
    let problems = params::check_header(path, &map, &parsed);
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

/// serde_yaml messages carry " at line L column C"; the first is printed as our location, so it
/// is dropped, later ones (where a flow or block started) become "(started on line L)".
pub fn strip_location(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    let mut first = true;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let line: String = after.chars().take_while(char::is_ascii_digit).collect();
        let tail = after[line.len()..].strip_prefix(" column ").unwrap_or("");
        let col_len = tail.chars().take_while(char::is_ascii_digit).count();
        if line.is_empty() || col_len == 0 {
            out.push_str(" at line ");
            rest = after;
            continue;
        }
        if !first {
            out.push_str(&format!(" (started on line {line})"));
        }
        first = false;
        rest = &tail[col_len..];
    }
    out.push_str(rest);
    // serde names our structs; users know these as mappings.
    let mut friendly = out;
    for internal in [
        "ServiceDef",
        "HealthcheckDef",
        "BuildDef",
        "ResourcesDef",
        "HttpProbeDef",
        "DubboProbeDef",
        "DefinitionFile",
        "LibraryDef",
        "TemplateHeader",
        "TemplateBody",
        "ParamDef",
    ] {
        friendly = friendly.replace(&format!("struct {internal}"), "a mapping");
    }
    friendly
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into a suggestion.
pub fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, rest) = rest.split_once('`')?;
    let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    did_you_mean(field, known)
}

/// The rendered service of one template, for one service, ready to merge.
pub struct Instantiated {
    pub path: PathBuf,
    pub service: Value,
    pub map: SourceMap,
}

/// The outcome of instantiating a template: problems either in the definition's `with:` or in
/// the template file itself.
pub enum InstantiateError {
    Params(Vec<ParamProblem>),
    Template(Vec<Diagnostic>),
}

/// Checks `with` against the params, renders the body and returns its `service` value.
pub fn instantiate(
    template: &str,
    path: &Path,
    service: &str,
    with: &Mapping,
    ctx: &RenderContext,
) -> Result<Instantiated, InstantiateError> {
    let source = read(path).map_err(InstantiateError::Template)?;
    let (header_text, body) = split(&source);
    let header = parse_header(path, &source, &header_text).map_err(InstantiateError::Template)?;
    let values = params::param_values(template, &header, with).map_err(InstantiateError::Params)?;
    let rendered = render::render(&body, ctx, &values, Some(service)).map_err(|f| {
        let map = SourceMap::new(&source, &source);
        InstantiateError::Template(vec![Diagnostic::new(
            path,
            format!(
                "template `{template}` (for service `{service}`): {}",
                f.message
            ),
        )
        .at(f.position.and_then(|(l, c)| map.source_location(l, c)))])
    })?;
    let map = SourceMap::new(&source, &rendered);
    let fail = |message: String, loc, hint| {
        InstantiateError::Template(vec![Diagnostic::new(path, message)
            .at(loc)
            .maybe_hint(hint)])
    };
    if let Some((line, col)) = super::values::too_deep_flow(&rendered) {
        return Err(fail(
            format!("template `{template}`: `[`/`{{` nested too deep"),
            map.location(line, col),
            None,
        ));
    }
    let mut value: Value = serde_yaml::from_str(&rendered).map_err(|e| {
        let loc = e
            .location()
            .and_then(|l| map.location(l.line(), l.column()));
        fail(
            format!("template `{template}`: {}", strip_location(&e.to_string())),
            loc,
            None,
        )
    })?;
    render::restore_set_values(&mut value, &ctx.set);
    if let Some(body) = value.get_mut("service") {
        let unwritten = written::keep_in_service(body, &[Seg::key("service")], &rendered);
        if !unwritten.is_empty() {
            return Err(InstantiateError::Template(
                unwritten
                    .into_iter()
                    .map(|u| {
                        Diagnostic::new(path, format!("template `{template}`: {}", u.message))
                            .at(map.location_of(&u.path))
                            .hint(u.hint)
                    })
                    .collect(),
            ));
        }
    }
    let unknown = schema::unknown_keys(&value, &schema::TEMPLATE_BODY);
    if !unknown.is_empty() {
        return Err(InstantiateError::Template(
            unknown
                .into_iter()
                .map(|u| {
                    let mut key_path = u.path.clone();
                    key_path.push(Seg::key(&u.key));
                    Diagnostic::new(
                        path,
                        format!(
                            "template `{template}`: unknown key `{}` in `{}`",
                            u.key,
                            display_or_top(&u.path)
                        ),
                    )
                    .at(map.location_of(&key_path))
                    .maybe_hint(did_you_mean(&u.key, u.known.iter().copied()))
                })
                .collect(),
        ));
    }
    if let Err(e) = serde_yaml::from_str::<TemplateBody>(&rendered) {
        let loc = e
            .location()
            .and_then(|l| map.location(l.line(), l.column()));
        let message = strip_location(&e.to_string());
        let hint = unknown_field_hint(&message);
        return Err(fail(format!("template `{template}`: {message}"), loc, hint));
    }
    let service_value = value
        .as_mapping()
        .and_then(|m| m.get("service"))
        .cloned()
        .unwrap_or(Value::Mapping(Mapping::new()));
    Ok(Instantiated {
        path: path.to_path_buf(),
        service: service_value,
        map,
    })
}

fn display_or_top(path: &[Seg]) -> String {
    if path.is_empty() {
        "the top level".into()
    } else {
        locate::display_path(path)
    }
}

/// Deep merge: mappings merge key by key, `over` wins; anything else is replaced by `over`.
pub fn deep_merge(under: &Value, over: &Value) -> Value {
    match (under, over) {
        (Value::Mapping(u), Value::Mapping(o)) => {
            let mut merged = u.clone();
            for (key, value) in o {
                let next = match u.get(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), next);
            }
            Value::Mapping(merged)
        }
        (_, over) => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn merge_keeps_own_keys_and_merges_maps() {
        let template = yaml("image: redis:7\nenv: { A: 1, B: 2 }\nports: [6379]\nhealthcheck: { tcp: 6379, retries: 5 }\n");
        let own = yaml("env: { B: 3 }\nports: [1]\nhealthcheck: { retries: 9 }\n");
        let merged = deep_merge(&template, &own);
        let expected = yaml("image: redis:7\nenv: { A: 1, B: 3 }\nports: [1]\nhealthcheck: { tcp: 6379, retries: 9 }\n");
        assert_eq!(merged, expected);
    }

    #[test]
    fn yaml_locations_are_dropped_from_messages() {
        assert_eq!(
            strip_location("did not find ']' at line 6 column 6, while parsing a flow sequence at line 5 column 12"),
            "did not find ']', while parsing a flow sequence (started on line 5)"
        );
        assert_eq!(
            strip_location("unknown field `x` at line 2 column 3"),
            "unknown field `x`"
        );
    }

    #[test]
    fn names_cannot_escape_the_search_path() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "", "a//b", "./a", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["redis", "team/redis", "dubbo-provider", "a_b.c"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn split_blanks_the_header_but_keeps_line_numbers() {
        let (header, body) = split("description: x\nparams: {}\nservice:\n  image: a\n");
        assert_eq!(header, "description: x\nparams: {}");
        assert_eq!(body, "\n\nservice:\n  image: a");
    }

    #[test]
    fn header_checks_enum_values_and_defaults() {
        let source = "params:\n  a: { type: enum }\n  b: { type: int, values: [1] }\n  c: { type: enum, values: [x], default: y }\n  d: { required: true, default: 1 }\nservice:\n  image: x\n";
        let (header_text, _) = split(source);
        let problems = parse_header(Path::new("t.yaml"), source, &header_text)
            .err()
            .unwrap();
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "param `a`: type enum needs `values`",
                "param `b`: `values` only applies to type enum, not int",
                "param `c`: default is not one of `x`",
                "param `d` is required and has a default; choose one",
            ]
        );
    }
}
