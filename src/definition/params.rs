//! Template params: checking a template's declared params, the values a service gives them
//! (`with:`), and how params are shown to users (`Param`, free of YAML types).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use super::diagnostics::{did_you_mean, Diagnostic};
use super::format::{ParamDef, ParamType, TemplateHeader};
use super::locate::Seg;
use super::sourcemap::SourceMap;

/// Whether a param would shadow a context variable (a template also sees `service`).
fn reserved(name: &str) -> bool {
    super::render::CONTEXT_VARIABLES.contains(&name) || name == "service"
}

/// A template param as shown to users (`template show`, `template list --output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<ParamValue>,
    pub required: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ParamType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The allowed values of an `enum` param.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<ParamValue>>,
}

/// A param's default or one of its choices, as the template wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ParamValue(Value);

impl std::fmt::Display for ParamValue {
    /// As YAML: a scalar on one line, a list or mapping in block style.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_yaml::to_string(&self.0).unwrap_or_default();
        f.write_str(text.trim())
    }
}

impl From<&ParamDef> for Param {
    fn from(def: &ParamDef) -> Self {
        Self {
            default: def.default.clone().map(ParamValue),
            required: def.required,
            kind: def.kind,
            description: def.description.clone(),
            values: def
                .values
                .as_ref()
                .map(|v| v.iter().cloned().map(ParamValue).collect()),
        }
    }
}

impl Param {
    /// The declared type; `values` without a type makes an enum.
    pub fn kind(&self) -> Option<ParamType> {
        self.kind
            .or_else(|| self.values.as_ref().map(|_| ParamType::Enum))
    }

    /// "one of `a`, `b`" for an enum param, "of type int" otherwise, "any" without a type.
    pub fn describe_type(&self) -> String {
        match self.kind() {
            Some(ParamType::Enum) => format!(
                "one of {}",
                self.values
                    .iter()
                    .flatten()
                    .map(|v| format!("`{}`", inline_yaml(&v.0)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(other) => format!("of type {}", other.as_str()),
            None => "any".into(),
        }
    }
}

/// Where a problem with the `with:` params lies, in the definition file.
pub struct ParamProblem {
    pub path: Vec<Seg>,
    pub message: String,
    pub hint: Option<String>,
}

/// The problems of a template's declared params: reserved names, enum values, defaults.
pub fn check_header(path: &Path, map: &SourceMap, parsed: &TemplateHeader) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (name, param) in &parsed.params {
        let at = || map.location_of(&[Seg::key("params"), Seg::key(name)]);
        if reserved(name) {
            problems.push(
                Diagnostic::new(
                    path,
                    format!("param `{name}` shadows the context variable of the same name"),
                )
                .at(at())
                .hint("rename the param"),
            );
        }
        let kind = param_kind(param);
        match (kind, &param.values) {
            (Some(ParamType::Enum), None) => problems.push(
                Diagnostic::new(path, format!("param `{name}`: type enum needs `values`"))
                    .at(at())
                    .hint("add `values: [a, b]`"),
            ),
            (Some(ParamType::Enum), Some(values)) if values.is_empty() => problems
                .push(Diagnostic::new(path, format!("param `{name}`: `values` is empty")).at(at())),
            (Some(other), Some(_)) if other != ParamType::Enum => problems.push(
                Diagnostic::new(
                    path,
                    format!(
                        "param `{name}`: `values` only applies to type enum, not {}",
                        other.as_str()
                    ),
                )
                .at(at()),
            ),
            _ => {}
        }
        if param.required && param.default.is_some() {
            problems.push(
                Diagnostic::new(
                    path,
                    format!("param `{name}` is required and has a default; choose one"),
                )
                .at(at()),
            );
        }
        if let (Some(kind), Some(default)) = (kind, &param.default) {
            if !kind.accepts(default, param.values.as_deref()) {
                problems.push(
                    Diagnostic::new(
                        path,
                        format!(
                            "param `{name}`: default is not {}",
                            describe_type(kind, param)
                        ),
                    )
                    .at(at()),
                );
            }
        }
    }
    problems
}

/// The params' values: defaults overridden by `with`, checked for unknown, missing and
/// mistyped params.
pub fn param_values(
    template: &str,
    header: &TemplateHeader,
    with: &Mapping,
) -> Result<BTreeMap<String, serde_json::Value>, Vec<ParamProblem>> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    for (key, value) in with {
        let Some(key) = key.as_str() else {
            problems.push(ParamProblem {
                path: vec![Seg::key("with")],
                message: format!("template `{template}`: param names must be strings"),
                hint: None,
            });
            continue;
        };
        let at = vec![Seg::key("with"), Seg::key(key)];
        match header.params.get(key) {
            None => problems.push(ParamProblem {
                path: at,
                message: format!("template `{template}` has no param `{key}`"),
                hint: did_you_mean(key, header.params.keys().map(String::as_str)).or_else(|| {
                    Some(format!(
                        "its params are: {}",
                        header.params.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                }),
            }),
            Some(def) => match param_kind(def) {
                Some(kind) if !kind.accepts(value, def.values.as_deref()) => {
                    problems.push(ParamProblem {
                        path: at,
                        message: format!(
                            "template `{template}`: param `{key}` must be {}, got {}",
                            describe_type(kind, def),
                            inline_yaml(value)
                        ),
                        hint: def.description.clone().map(|d| format!("`{key}`: {d}")),
                    })
                }
                _ => {
                    values.insert(key.to_string(), to_json(value));
                }
            },
        }
    }
    for (name, def) in &header.params {
        if values.contains_key(name) || with.contains_key(name.as_str()) {
            continue;
        }
        match &def.default {
            Some(default) => {
                values.insert(name.clone(), to_json(default));
            }
            None if def.required => problems.push(ParamProblem {
                path: vec![Seg::key("template")],
                message: format!("template `{template}` needs param `{name}`"),
                hint: Some(format!(
                    "add `with: {{ {name}: ... }}`{}",
                    def.description
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )),
            }),
            // Optional without default: defined as none so `{% if name %}` works.
            None => {
                values.insert(name.clone(), serde_json::Value::Null);
            }
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// The declared type; `values` without a type makes an enum.
pub fn param_kind(def: &ParamDef) -> Option<ParamType> {
    def.kind
        .or_else(|| def.values.as_ref().map(|_| ParamType::Enum))
}

/// "of type int", or "one of `a`, `b`" for an enum.
pub fn describe_type(kind: ParamType, def: &ParamDef) -> String {
    match kind {
        ParamType::Enum => format!(
            "one of {}",
            def.values
                .iter()
                .flatten()
                .map(|v| format!("`{}`", inline_yaml(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("of type {}", other.as_str()),
    }
}

/// A YAML value on one line, for messages.
pub fn inline_yaml(value: &Value) -> String {
    serde_json::to_string(&to_json(value)).map_or_else(
        |_| "?".into(),
        |s| match value {
            Value::String(text) => text.clone(),
            _ => s,
        },
    )
}

fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> TemplateHeader {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn params_defaults_required_unknown_and_types() {
        let h = header(
            "params:\n  port: { default: 1, type: int }\n  iface: { required: true }\n  opt: {}\n",
        );
        let with: Mapping = serde_yaml::from_str("iface: a.B\n").unwrap();
        let values = param_values("t", &h, &with).ok().unwrap();
        assert_eq!(values["port"], serde_json::json!(1));
        assert_eq!(values["iface"], serde_json::json!("a.B"));
        assert_eq!(values["opt"], serde_json::Value::Null);

        let with: Mapping = serde_yaml::from_str("prot: 2\nport: x\n").unwrap();
        let problems = param_values("t", &h, &with).err().unwrap();
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "template `t` has no param `prot`",
                "template `t`: param `port` must be of type int, got x",
                "template `t` needs param `iface`"
            ]
        );
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `port`?"));
    }

    #[test]
    fn enum_params_accept_only_their_values() {
        let h = header(
            "params:\n  mode: { type: enum, values: [standalone, cluster], default: standalone }\n  size: { values: [1, 3] }\n",
        );
        let with: Mapping = serde_yaml::from_str("mode: cluster\nsize: 3\n").unwrap();
        let values = param_values("t", &h, &with).ok().unwrap();
        assert_eq!(values["mode"], serde_json::json!("cluster"));
        let with: Mapping = serde_yaml::from_str("mode: clustr\nsize: 2\n").unwrap();
        let problems = param_values("t", &h, &with).err().unwrap();
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "template `t`: param `mode` must be one of `standalone`, `cluster`, got clustr",
                "template `t`: param `size` must be one of `1`, `3`, got 2",
            ]
        );
    }
}
