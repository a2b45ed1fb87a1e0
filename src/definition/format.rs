//! The file format structs (v1). Unknown keys are rejected twice: by `schema` (every unknown
//! key, with a suggestion and a line) and by serde's `deny_unknown_fields` as a backstop.
//! Fields whose YAML has several shapes (ports, env values, durations) stay `Value` here and
//! are checked in `resolve`, which can say exactly what is wrong.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// An environment definition file (`environments/<name>.yaml`), after Tera rendering.
///
/// Parsed only to check shapes with exact positions; values are read from the YAML tree. The
/// JSON Schema printed by `envctl schema` is generated from these structs.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionFile {
    /// The environment's name; defaults to the file stem. Written plainly, without Tera.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Default lifetime of feature instances, e.g. `3d`, `12h`.
    #[schemars(with = "Option<String>")]
    pub ttl: Option<Value>,
    /// A base environment (path relative to this file) whose services this file overlays.
    pub extends: Option<String>,
    /// Template libraries, addressed as `LIBRARY/NAME` in `template:`.
    pub libraries: Option<BTreeMap<String, LibraryDef>>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceDef>,
    /// Opt-ins to host access: `privileged`, `host-network`, `host-pid`, `outside-binds`,
    /// `outside-build`, `outside-secrets` (bind mounts, build contexts and `from_file` files
    /// outside the definition's directory). Without them such keys are errors. Only the
    /// loaded file's own `allow:` counts, not a base's.
    pub allow: Option<Vec<Allow>>,
    /// The services a feature may run as an overlay on the base instance (`up --feature F
    /// --only ...`; `--overlay` alone runs all of them).
    pub overlay: Option<OverlayDef>,
}

/// `overlay:` of a definition.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayDef {
    /// Services of this definition; `--only` may name only these.
    pub services: Vec<String>,
}

/// One opt-in of `allow:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Allow {
    Privileged,
    HostNetwork,
    HostPid,
    OutsideBinds,
    OutsideBuild,
    OutsideSecrets,
}

/// A template library: a local directory (`path`) or a git repository (`git` + `ref`).
#[allow(dead_code)]
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LibraryDef {
    /// A local directory, relative to the file that declares the library.
    pub path: Option<String>,
    /// A git repository URL (https://, ssh, file://).
    pub git: Option<String>,
    /// A tag, branch or commit of `git`; resolved once and pinned in `envctl.lock`.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The directory of the templates inside the library (default: `templates` when it
    /// exists, else the root).
    pub dir: Option<String>,
}

/// One service. With `template`, the template's service is deep-merged under these keys.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Applied before this struct is read; kept so the whole-file parse accepts them.
    #[allow(dead_code)]
    pub template: Option<String>,
    #[allow(dead_code)]
    #[serde(rename = "with")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub with_params: Option<Mapping>,
    pub kind: Option<Kind>,
    pub image: Option<String>,
    pub pull: Option<Pull>,
    pub build: Option<BuildDef>,
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub ports: Option<Vec<Value>>,
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub env: Option<BTreeMap<String, Value>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub depends_on: Option<Value>,
    pub healthcheck: Option<HealthcheckDef>,
    pub volumes: Option<Vec<String>>,
    pub resources: Option<ResourcesDef>,
    pub restart: Option<Restart>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub command: Option<Value>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub entrypoint: Option<Value>,
    pub aliases: Option<Vec<String>>,
    /// Runs the container privileged; needs `allow: [privileged]`.
    pub privileged: Option<bool>,
    /// `host`: the host's network instead of the instance network; needs `allow: [host-network]`.
    pub network_mode: Option<HostMode>,
    /// `host`: the host's process namespace; needs `allow: [host-pid]`.
    pub pid: Option<HostMode>,
    /// Seeding steps, run in order once per volume lifetime after the service is first
    /// ready (again with `up --reseed SERVICE`).
    pub init: Option<Vec<InitStepDef>>,
    /// A shell command inside the container that runs the SQL on its standard input; `sql:`
    /// steps need it (the `mysql` template sets it).
    pub sql_client: Option<String>,
}

/// One `init:` step: exactly one of `sql`, `exec`, `copy`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitStepDef {
    /// An SQL file (relative to the definition) run with the service's `sql_client`.
    pub sql: Option<String>,
    /// A command run in the container: a list of words or one string split like a shell.
    #[schemars(with = "Option<serde_json::Value>")]
    pub exec: Option<Value>,
    /// A file or directory of the definition copied into the container.
    pub copy: Option<CopyDef>,
}

/// `copy: { from: ./seed/conf, to: /etc/app }`: `to` is the directory that receives it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyDef {
    pub from: String,
    pub to: String,
}

/// The only non-default value of `network_mode` and `pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostMode {
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Service,
    Job,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pull {
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildDef {
    pub context: String,
    pub dockerfile: Option<String>,
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub args: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckDef {
    #[schemars(with = "Option<serde_json::Value>")]
    pub cmd: Option<Value>,
    pub tcp: Option<u16>,
    pub http: Option<HttpProbeDef>,
    pub zookeeper: Option<u16>,
    pub dubbo: Option<DubboProbeDef>,
    #[schemars(with = "Option<String>")]
    pub interval: Option<Value>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Value>,
    pub retries: Option<u32>,
    #[schemars(with = "Option<String>")]
    pub start_period: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeDef {
    pub port: u16,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DubboProbeDef {
    pub interface: Option<String>,
    pub application: Option<String>,
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesDef {
    #[schemars(with = "Option<serde_json::Value>")]
    pub memory: Option<Value>,
    pub cpus: Option<f64>,
}

/// The header of a service template: everything before the top-level `service:` key.
/// It is plain YAML (not rendered), so the params are known before rendering the body.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateHeader {
    pub description: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDef>,
}

/// One template param: its type, default, whether it is required, and what it is for.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ParamType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The allowed values of an `enum` param.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub values: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Number,
    Bool,
    List,
    Map,
    /// One of the param's `values`.
    Enum,
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
            ParamType::Enum => "enum",
        }
    }

    /// Whether `value` has this type; `values` are the choices of an enum.
    pub fn accepts(self, value: &Value, values: Option<&[Value]>) -> bool {
        match self {
            ParamType::Enum => values.is_some_and(|v| v.contains(value)),
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
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    #[schemars(with = "Option<String>")]
    pub description: Option<Value>,
    #[schemars(with = "Option<BTreeMap<String, ParamDef>>")]
    pub params: Option<Value>,
    pub service: ServiceDef,
}
