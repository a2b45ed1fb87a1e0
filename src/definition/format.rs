//! The file format structs (v1). Unknown keys are rejected twice: by `schema` (every unknown
//! key, with a suggestion and a line) and by serde's `deny_unknown_fields` as a backstop.
//! Fields whose YAML has several shapes (ports, env values, durations) stay `Value` here and
//! are checked in `resolve`, which can say exactly what is wrong.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// Parsed only to check shapes with exact positions; values are read from the YAML tree.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub ttl: Option<Value>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceDef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Applied before this struct is read; kept so the whole-file parse accepts them.
    #[allow(dead_code)]
    pub template: Option<String>,
    #[allow(dead_code)]
    #[serde(rename = "with")]
    pub with_params: Option<Mapping>,
    pub kind: Option<Kind>,
    pub image: Option<String>,
    pub pull: Option<Pull>,
    pub build: Option<BuildDef>,
    pub ports: Option<Vec<Value>>,
    pub env: Option<BTreeMap<String, Value>>,
    pub depends_on: Option<Value>,
    pub healthcheck: Option<HealthcheckDef>,
    pub volumes: Option<Vec<String>>,
    pub resources: Option<ResourcesDef>,
    pub restart: Option<Restart>,
    pub command: Option<Value>,
    pub entrypoint: Option<Value>,
    pub aliases: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Service,
    Job,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pull {
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDef {
    pub context: String,
    pub dockerfile: Option<String>,
    pub args: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckDef {
    pub cmd: Option<Value>,
    pub tcp: Option<u16>,
    pub http: Option<HttpProbeDef>,
    pub zookeeper: Option<u16>,
    pub dubbo: Option<DubboProbeDef>,
    pub interval: Option<Value>,
    pub timeout: Option<Value>,
    pub retries: Option<u32>,
    pub start_period: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeDef {
    pub port: u16,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DubboProbeDef {
    pub interface: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesDef {
    pub memory: Option<Value>,
    pub cpus: Option<f64>,
}

/// The header of a service template: everything before the top-level `service:` key.
/// It is plain YAML (not rendered), so the params are known before rendering the body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateHeader {
    pub description: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDef>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ParamType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Number,
    Bool,
    List,
    Map,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Number => "number",
            ParamType::Bool => "bool",
            ParamType::List => "list",
            ParamType::Map => "map",
        }
    }

    pub fn accepts(self, value: &Value) -> bool {
        match self {
            ParamType::String => value.is_string(),
            ParamType::Int => value.is_i64() || value.is_u64(),
            ParamType::Number => value.is_number(),
            ParamType::Bool => value.is_bool(),
            ParamType::List => value.is_sequence(),
            ParamType::Map => value.is_mapping(),
        }
    }
}

/// The rendered body of a service template, parsed only to check shapes with exact positions.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    pub description: Option<Value>,
    pub params: Option<Value>,
    pub service: ServiceDef,
}
