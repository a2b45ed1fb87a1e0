//! From a parsed (and template-merged) service to `model::Service`. Every problem is
//! collected with its path inside the service, so the caller can point at the line.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

use super::format::{self, HealthcheckDef, ServiceDef};
use super::locate::Seg;
use super::units::{parse_duration, parse_memory};
use super::values::{
    parse_env_value, parse_port, parse_volume, relative_to, scalar_text, split_words,
};
use crate::model::{
    check_dns_label, BuildSpec, Condition, DubboProbe, DubboProvider, HealthCheck, Probe,
    PullPolicy, Resources, RestartPolicy, Service, ServiceKind, ServiceName,
};

pub use super::problem::Problem;

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: &[&str], message: impl Into<String>) {
        self.push_hint(path, message, None::<String>);
    }

    fn push_hint(
        &mut self,
        path: &[&str],
        message: impl Into<String>,
        hint: Option<impl Into<String>>,
    ) {
        self.push_at(path.iter().map(|k| Seg::key(k)).collect(), message, hint);
    }

    fn push_at(
        &mut self,
        path: Vec<Seg>,
        message: impl Into<String>,
        hint: Option<impl Into<String>>,
    ) {
        self.0.push(Problem {
            path,
            message: message.into(),
            hint: hint.map(Into::into),
        });
    }
}

/// Resolves one service. `env` names the environment (for the tag of built images).
pub fn service(
    name: &ServiceName,
    def: &ServiceDef,
    template: Option<&str>,
    env: &str,
    base: &Path,
) -> (Service, Vec<Problem>) {
    let mut problems = Problems::default();
    let mut service = Service::from_image(name.clone(), "");
    service.template = template.map(str::to_string);
    service.kind = match def.kind {
        Some(format::Kind::Job) => ServiceKind::Job,
        _ => ServiceKind::Service,
    };
    service.pull = match def.pull {
        Some(format::Pull::Always) => PullPolicy::Always,
        Some(format::Pull::Never) => PullPolicy::Never,
        _ => PullPolicy::Missing,
    };
    service.restart = match def.restart {
        Some(format::Restart::Always) => RestartPolicy::Always,
        Some(format::Restart::OnFailure) => RestartPolicy::OnFailure,
        Some(format::Restart::UnlessStopped) => RestartPolicy::UnlessStopped,
        _ => RestartPolicy::No,
    };
    if let Some(build) = &def.build {
        service.build = Some(BuildSpec {
            context: relative_to(base, &build.context),
            dockerfile: build
                .dockerfile
                .clone()
                .unwrap_or_else(|| "Dockerfile".into()),
            args: build
                .args
                .iter()
                .flatten()
                .filter_map(|(k, v)| match scalar_text(v) {
                    Some(text) => Some((k.clone(), text)),
                    None => {
                        problems.push(
                            &["build", "args", k],
                            format!("build arg `{k}` must be a string, number or boolean"),
                        );
                        None
                    }
                })
                .collect(),
        });
    }
    service.image = match (&def.image, &def.build) {
        (Some(image), _) if !image.trim().is_empty() => image.clone(),
        (Some(_), _) => {
            problems.push(&["image"], "`image` is empty");
            String::new()
        }
        (None, Some(_)) => format!("envctl-build/{env}-{name}:latest"),
        (None, None) => {
            problems.push_hint(
                &[],
                format!("service `{name}` has no `image`, `build` or image-providing `template`"),
                Some("add `image: NAME:TAG`, `build: { context: DIR }` or `template: NAME`"),
            );
            String::new()
        }
    };
    for (i, port) in def.ports.iter().flatten().enumerate() {
        match parse_port(port) {
            Ok(spec) => service.ports.push(spec),
            Err(msg) => problems.push_at(
                vec![Seg::key("ports"), Seg::Index(i)],
                msg.to_string(),
                Some("write a container port (6379), `HOST:CONTAINER` (\"8080:80\") or add `/udp`"),
            ),
        }
    }
    for (key, value) in def.env.iter().flatten() {
        if key.is_empty() || key.contains('=') {
            problems.push(
                &["env", key],
                format!("`{key}` is not a valid environment variable name"),
            );
            continue;
        }
        match parse_env_value(value, base) {
            Ok(v) => {
                service.env.insert(key.clone(), v);
            }
            Err(msg) => problems.push_hint(
                &["env", key],
                format!("env `{key}`: {msg}"),
                Some("write a scalar, `{ from_env: NAME }` or `{ from_file: PATH }`"),
            ),
        }
    }
    if let Some(deps) = &def.depends_on {
        service.depends_on = depends_on(deps, &mut problems);
    }
    if let Some(hc) = &def.healthcheck {
        service.healthcheck = healthcheck(hc, &mut problems);
    }
    for (i, volume) in def.volumes.iter().flatten().enumerate() {
        match parse_volume(volume, base) {
            Ok(mount) => service.volumes.push(mount),
            Err(msg) => problems.push_at(
                vec![Seg::key("volumes"), Seg::Index(i)],
                msg.to_string(),
                Some("write `NAME:/path`, `./dir:/path` or add `:ro`"),
            ),
        }
    }
    if let Some(res) = &def.resources {
        service.resources = resources(res, &mut problems);
    }
    service.command = def
        .command
        .as_ref()
        .and_then(|v| words(v, "command", &mut problems));
    service.entrypoint = def
        .entrypoint
        .as_ref()
        .and_then(|v| words(v, "entrypoint", &mut problems));
    for alias in def.aliases.iter().flatten() {
        match check_dns_label("alias", alias) {
            Ok(()) => service.aliases.push(alias.clone()),
            Err(err) => problems.push(&["aliases"], err.to_string()),
        }
    }
    let (init, seed_problems) = super::init::resolve(def, base);
    service.init = init;
    problems.0.extend(seed_problems);
    service.host_access = crate::model::HostAccess {
        privileged: def.privileged.unwrap_or(false),
        network: def.network_mode.is_some(),
        pid: def.pid.is_some(),
    };
    (service, problems.0)
}

fn condition(text: &str) -> Option<Condition> {
    match text {
        "started" => Some(Condition::Started),
        "healthy" => Some(Condition::Healthy),
        "completed" => Some(Condition::Completed),
        _ => None,
    }
}

fn dep_name(name: &str, path: &[&str], problems: &mut Problems) -> Option<ServiceName> {
    match ServiceName::new(name) {
        Ok(n) => Some(n),
        Err(err) => {
            problems.push(path, err.to_string());
            None
        }
    }
}

fn depends_on(value: &Value, problems: &mut Problems) -> BTreeMap<ServiceName, Condition> {
    let mut out = BTreeMap::new();
    match value {
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(name) => {
                        if let Some(n) = dep_name(name, &["depends_on"], problems) {
                            out.insert(n, Condition::Started);
                        }
                    }
                    None => problems.push_at(
                        vec![Seg::key("depends_on"), Seg::Index(i)],
                        "`depends_on` list items must be service names",
                        None::<String>,
                    ),
                }
            }
        }
        Value::Mapping(map) => {
            for (key, cond) in map {
                let Some(name) = key.as_str() else {
                    problems.push(&["depends_on"], "`depends_on` keys must be service names");
                    continue;
                };
                let path = ["depends_on", name];
                let Some(service) = dep_name(name, &path, problems) else {
                    continue;
                };
                match cond.as_str().and_then(condition) {
                    Some(c) => {
                        out.insert(service, c);
                    }
                    None => problems.push_hint(
                        &path,
                        format!("unknown condition for `{name}`"),
                        Some("use healthy, started or completed"),
                    ),
                }
            }
        }
        _ => problems.push_hint(
            &["depends_on"],
            "`depends_on` must be a list of services or a mapping of service to condition",
            Some("write `[a, b]` or `{ a: healthy }`"),
        ),
    }
    out
}

fn duration(
    value: Option<&Value>,
    key: &str,
    default: std::time::Duration,
    problems: &mut Problems,
) -> std::time::Duration {
    let Some(value) = value else { return default };
    let text = scalar_text(value).unwrap_or_default();
    match parse_duration(&text) {
        Ok(d) => d,
        Err(msg) => {
            problems.push(&["healthcheck", key], format!("healthcheck `{key}`: {msg}"));
            default
        }
    }
}

/// `dubbo: { interface | application, registry? }`: exactly one provider, a parseable address.
fn dubbo_probe(def: &format::DubboProbeDef, problems: &mut Problems) -> Option<DubboProbe> {
    let here = |key| ["healthcheck", "dubbo", key];
    let provider = match (&def.interface, &def.application) {
        (Some(name), None) if !name.trim().is_empty() => DubboProvider::Interface(name.clone()),
        (None, Some(name)) if !name.trim().is_empty() => DubboProvider::Application(name.clone()),
        (Some(_), None) => {
            problems.push(&here("interface"), "dubbo interface is empty");
            return None;
        }
        (None, Some(_)) => {
            problems.push(&here("application"), "dubbo application is empty");
            return None;
        }
        _ => {
            problems.push_hint(
                &["healthcheck", "dubbo"],
                "dubbo health check needs exactly one of `interface` and `application`",
                Some("interface: a provider of it in any form; application: a Dubbo 3 instance"),
            );
            return None;
        }
    };
    if let Some(address) = &def.registry {
        if let Err(err) = crate::dubbo::address::parse(address) {
            problems.push(&here("registry"), err.to_string());
            return None;
        }
    }
    Some(DubboProbe {
        provider,
        registry: def.registry.clone(),
    })
}

fn healthcheck(def: &HealthcheckDef, problems: &mut Problems) -> Option<HealthCheck> {
    let mut probes: Vec<(&str, Probe)> = Vec::new();
    if let Some(cmd) = &def.cmd {
        if let Some(argv) = words(cmd, "cmd", problems) {
            probes.push(("cmd", Probe::Cmd(argv)));
        }
    }
    if let Some(port) = def.tcp {
        probes.push(("tcp", Probe::Tcp { port }));
    }
    if let Some(http) = &def.http {
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') {
            problems.push(
                &["healthcheck", "http", "path"],
                format!("http path `{path}` must start with `/`"),
            );
        }
        probes.push((
            "http",
            Probe::Http {
                port: http.port,
                path,
            },
        ));
    }
    if let Some(port) = def.zookeeper {
        probes.push(("zookeeper", Probe::Zookeeper { port }));
    }
    // A dubbo probe with problems is reported as such, not as a missing probe.
    let mut invalid_dubbo = false;
    if let Some(dubbo) = &def.dubbo {
        match dubbo_probe(dubbo, problems) {
            Some(probe) => probes.push(("dubbo", Probe::Dubbo(probe))),
            None => invalid_dubbo = true,
        }
    }
    for (name, probe) in &probes {
        let port = match probe {
            Probe::Tcp { port } | Probe::Http { port, .. } | Probe::Zookeeper { port } => {
                Some(*port)
            }
            _ => None,
        };
        if port == Some(0) {
            problems.push(&["healthcheck", name], "probe port 0 is not a port");
        }
    }
    let probe = match probes.len() {
        1 => probes.pop().map(|(_, p)| p)?,
        0 if invalid_dubbo => return None,
        0 => {
            problems.push_hint(
                &["healthcheck"],
                "healthcheck has no probe",
                Some("add exactly one of cmd, tcp, http, zookeeper or dubbo"),
            );
            return None;
        }
        _ => {
            let names: Vec<_> = probes.iter().map(|(n, _)| *n).collect();
            problems.push_hint(
                &["healthcheck"],
                format!(
                    "healthcheck has {} probes ({}); exactly one is allowed",
                    names.len(),
                    names.join(", ")
                ),
                Some("keep one probe"),
            );
            return None;
        }
    };
    let mut check = HealthCheck::new(probe);
    check.interval = duration(def.interval.as_ref(), "interval", check.interval, problems);
    check.timeout = duration(def.timeout.as_ref(), "timeout", check.timeout, problems);
    check.start_period = duration(
        def.start_period.as_ref(),
        "start_period",
        check.start_period,
        problems,
    );
    if check.interval.is_zero() {
        problems.push(
            &["healthcheck", "interval"],
            "healthcheck `interval` must be more than zero",
        );
    }
    if check.timeout.is_zero() {
        problems.push(
            &["healthcheck", "timeout"],
            "healthcheck `timeout` must be more than zero",
        );
    }
    if let Some(retries) = def.retries {
        check.retries = retries;
    }
    Some(check)
}

fn resources(def: &format::ResourcesDef, problems: &mut Problems) -> Resources {
    let mut out = Resources::default();
    if let Some(memory) = &def.memory {
        match parse_memory(&scalar_text(memory).unwrap_or_default()) {
            Ok(bytes) => out.memory_bytes = Some(bytes),
            Err(msg) => problems.push(&["resources", "memory"], msg.to_string()),
        }
    }
    if let Some(cpus) = def.cpus {
        if cpus > 0.0 && cpus.is_finite() {
            out.cpus = Some(cpus);
        } else {
            problems.push(
                &["resources", "cpus"],
                format!("cpus must be more than zero, got {cpus}"),
            );
        }
    }
    out
}

/// A command as a list of strings, or a string split like a shell would (quotes respected).
fn words(value: &Value, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let path: &[&str] = if key == "cmd" {
        &["healthcheck", "cmd"]
    } else {
        &[key]
    };
    let argv = match value {
        Value::Sequence(items) => {
            let texts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            match texts {
                Some(t) => t,
                None => {
                    problems.push(path, format!("`{key}` items must be strings"));
                    return None;
                }
            }
        }
        Value::String(s) => match split_words(s) {
            Some(w) => w,
            None => {
                problems.push(path, format!("`{key}` has an unclosed quote"));
                return None;
            }
        },
        _ => {
            problems.push(
                path,
                format!("`{key}` must be a list of strings or a string"),
            );
            return None;
        }
    };
    if argv.is_empty() {
        problems.push(path, format!("`{key}` is empty"));
        return None;
    }
    Some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnvValue, Protocol, VolumeSource};
    use std::path::PathBuf;

    fn def(yaml: &str) -> ServiceDef {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn resolve(yaml: &str) -> (Service, Vec<Problem>) {
        service(
            &ServiceName::new("web").unwrap(),
            &def(yaml),
            None,
            "shop",
            Path::new("/defs"),
        )
    }

    #[test]
    fn resolves_a_full_service() {
        let (s, problems) = resolve(
            r#"
image: nginx:1
ports: [80, "8080:81", "53/udp"]
env: { A: 1, B: { from_env: HOME_X }, C: { from_file: ./secret } }
depends_on: { db: healthy, job: completed }
healthcheck: { http: { port: 80, path: /ok }, interval: 500ms, retries: 3 }
volumes: ["data:/var/x", "./conf:/etc/x:ro"]
resources: { memory: 256m, cpus: 0.5 }
restart: unless-stopped
command: "sh -c 'echo hi there'"
aliases: [www]
"#,
        );
        assert_eq!(problems, []);
        assert_eq!(s.ports.len(), 3);
        assert_eq!(s.ports[1].host, Some(8080));
        assert_eq!(s.ports[2].protocol, Protocol::Udp);
        assert_eq!(s.env["A"], EnvValue::Plain("1".into()));
        assert_eq!(s.env["B"], EnvValue::FromEnv("HOME_X".into()));
        assert_eq!(
            s.env["C"],
            EnvValue::FromFile(PathBuf::from("/defs/secret"))
        );
        assert_eq!(s.depends_on.len(), 2);
        let hc = s.healthcheck.unwrap();
        assert_eq!(
            hc.probe,
            Probe::Http {
                port: 80,
                path: "/ok".into()
            }
        );
        assert_eq!(hc.interval, std::time::Duration::from_millis(500));
        assert_eq!(hc.retries, 3);
        assert_eq!(
            s.volumes[1].source,
            VolumeSource::Bind(PathBuf::from("/defs/conf"))
        );
        assert!(s.volumes[1].read_only);
        assert_eq!(s.resources.memory_bytes, Some(256 << 20));
        assert_eq!(s.restart, RestartPolicy::UnlessStopped);
        assert_eq!(s.command.unwrap(), ["sh", "-c", "echo hi there"]);
    }

    #[test]
    fn depends_on_list_means_started() {
        let (s, problems) = resolve("image: x\ndepends_on: [a, b]\n");
        assert_eq!(problems, []);
        assert!(s.depends_on.values().all(|c| *c == Condition::Started));
    }

    #[test]
    fn collects_every_problem() {
        let (_, problems) = resolve(
            "image: x\nports: [0, \"a:b\", 70000]\nhealthcheck: { tcp: 1, zookeeper: 2, interval: 1x }\nresources: { memory: lots }\nvolumes: [\"data\"]\ndepends_on: { a: ready }\n",
        );
        let text: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(problems.len(), 7, "{text:#?}");
    }

    #[test]
    fn build_without_image_gets_a_local_tag_and_absolute_context() {
        let (s, problems) = resolve("build: { context: ./app }\n");
        assert_eq!(problems, []);
        assert_eq!(s.image, "envctl-build/shop-web:latest");
        assert_eq!(s.build.unwrap().context, PathBuf::from("/defs/app"));
    }

    #[test]
    fn missing_image_is_a_problem() {
        let (_, problems) = resolve("ports: [1]\n");
        assert!(problems[0].message.contains("no `image`"));
    }
}
