//! Checks across services: dependencies exist, have no cycle and ask for conditions the
//! dependency can meet; no two services pin the same host port.

use std::collections::{BTreeMap, BTreeSet};

use super::locate::Seg;
use crate::model::host_port_token;
use crate::model::{Condition, EnvValue, Protocol, Service, ServiceKind, ServiceName};

/// A problem found across services; `path` is from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossProblem {
    pub path: Vec<Seg>,
    pub message: String,
    pub hint: Option<String>,
}

fn dep_path(service: &ServiceName, dep: &ServiceName) -> Vec<Seg> {
    vec![
        Seg::key("services"),
        Seg::key(service.as_str()),
        Seg::key("depends_on"),
        Seg::key(dep.as_str()),
    ]
}

/// Every cross-service problem. `unresolved` services exist but had problems of their own;
/// depending on them is not reported again.
pub fn check(
    services: &BTreeMap<ServiceName, Service>,
    unresolved: &BTreeSet<ServiceName>,
) -> Vec<CrossProblem> {
    let mut problems = Vec::new();
    dependencies(services, unresolved, &mut problems);
    if let Some(cycle) = find_cycle(services) {
        let names: Vec<&str> = cycle.iter().map(|n| n.as_str()).collect();
        problems.push(CrossProblem {
            path: dep_path(&cycle[0], &cycle[1]),
            message: format!("dependency cycle: {}", names.join(" -> ")),
            hint: Some("remove one of these `depends_on` entries".into()),
        });
    }
    pinned_ports(services, &mut problems);
    names_on_the_network(services, &mut problems);
    host_port_references(services, unresolved, &mut problems);
    problems
}

/// `host_port(service=x, port=N)` must name a service that publishes container port N.
fn host_port_references(
    services: &BTreeMap<ServiceName, Service>,
    unresolved: &BTreeSet<ServiceName>,
    problems: &mut Vec<CrossProblem>,
) {
    for (name, service) in services {
        let env = service.env.iter().filter_map(|(key, value)| match value {
            EnvValue::Plain(text) => Some((vec![Seg::key("env"), Seg::key(key)], text)),
            _ => None,
        });
        let args = [
            ("command", &service.command),
            ("entrypoint", &service.entrypoint),
        ]
        .into_iter()
        .flat_map(|(key, argv)| {
            argv.iter()
                .flatten()
                .enumerate()
                .map(move |(i, arg)| (vec![Seg::key(key), Seg::Index(i)], arg))
        });
        for (rel, text) in env.chain(args) {
            for token in host_port_token::parse_all(text) {
                let (target, port) = (token.service.as_str(), token.port);
                let mut path = vec![Seg::key("services"), Seg::key(name.as_str())];
                path.extend(rel.iter().cloned());
                let known = services.iter().find(|(n, _)| n.as_str() == target);
                let message = match known {
                    None if unresolved.iter().any(|n| n.as_str() == target) => continue,
                    None => format!("host_port refers to service `{target}`, which is not defined"),
                    Some((_, s)) if s.ports.iter().any(|p| p.container == port) => continue,
                    Some(_) => format!(
                        "host_port refers to port {port} of `{target}`, which does not publish it"
                    ),
                };
                problems.push(CrossProblem {
                    path,
                    message,
                    hint: Some(format!("add {port} to the `ports` of `{target}`")),
                });
            }
        }
    }
}

/// Service names and aliases share the instance network's DNS: each must be unique.
fn names_on_the_network(
    services: &BTreeMap<ServiceName, Service>,
    problems: &mut Vec<CrossProblem>,
) {
    let mut owner: BTreeMap<&str, &ServiceName> =
        services.keys().map(|n| (n.as_str(), n)).collect();
    for (name, service) in services {
        for alias in &service.aliases {
            let path = vec![
                Seg::key("services"),
                Seg::key(name.as_str()),
                Seg::key("aliases"),
            ];
            match owner.get(alias.as_str()) {
                Some(other) => problems.push(CrossProblem {
                    path,
                    message: if *other == name {
                        format!("alias `{alias}` of `{name}` repeats a name it already has")
                    } else {
                        format!("alias `{alias}` of `{name}` is already the name or an alias of `{other}`")
                    },
                    hint: Some("names on the instance network must be unique".into()),
                }),
                None => {
                    owner.insert(alias.as_str(), name);
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, port) in service.ports.iter().enumerate() {
            if !seen.insert((port.container, port.protocol)) {
                problems.push(CrossProblem {
                    path: vec![
                        Seg::key("services"),
                        Seg::key(name.as_str()),
                        Seg::key("ports"),
                        Seg::Index(i),
                    ],
                    message: format!(
                        "service `{name}` lists container port {}/{} twice",
                        port.container,
                        port.protocol.as_str()
                    ),
                    hint: None,
                });
            }
        }
    }
}

fn dependencies(
    services: &BTreeMap<ServiceName, Service>,
    unresolved: &BTreeSet<ServiceName>,
    problems: &mut Vec<CrossProblem>,
) {
    for (name, service) in services {
        for (dep, condition) in &service.depends_on {
            if unresolved.contains(dep) {
                continue;
            }
            let path = dep_path(name, dep);
            let Some(target) = services.get(dep) else {
                let hint = super::diagnostics::did_you_mean(
                    dep.as_str(),
                    services.keys().map(ServiceName::as_str),
                );
                problems.push(CrossProblem {
                    path,
                    message: format!("service `{name}` depends on `{dep}`, which is not defined"),
                    hint: hint.or_else(|| {
                        Some(format!(
                            "services are: {}",
                            services
                                .keys()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                });
                continue;
            };
            if dep == name {
                problems.push(CrossProblem {
                    path,
                    message: format!("service `{name}` depends on itself"),
                    hint: None,
                });
                continue;
            }
            match condition {
                Condition::Completed if target.kind != ServiceKind::Job => problems.push(CrossProblem {
                    path,
                    message: format!("service `{name}` waits for `{dep}` to complete, but `{dep}` is not a job"),
                    hint: Some(format!("add `kind: job` to `{dep}` or wait for `healthy`/`started`")),
                }),
                Condition::Healthy if target.healthcheck.is_none() => problems.push(CrossProblem {
                    path,
                    message: format!("service `{name}` waits for `{dep}` to be healthy, but `{dep}` has no healthcheck"),
                    hint: Some(format!("add a `healthcheck` to `{dep}` or wait for `started`")),
                }),
                _ => {}
            }
        }
    }
}

/// The first cycle found, as `a -> b -> ... -> a`, in deterministic order.
pub fn find_cycle(services: &BTreeMap<ServiceName, Service>) -> Option<Vec<ServiceName>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &ServiceName,
        services: &BTreeMap<ServiceName, Service>,
        marks: &mut BTreeMap<ServiceName, Mark>,
        stack: &mut Vec<ServiceName>,
    ) -> Option<Vec<ServiceName>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == name)?;
                let mut cycle = stack[start..].to_vec();
                cycle.push(name.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name.clone(), Mark::Visiting);
        stack.push(name.clone());
        if let Some(service) = services.get(name) {
            for dep in service.depends_on.keys() {
                if dep != name && services.contains_key(dep) {
                    if let Some(cycle) = visit(dep, services, marks, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(name.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in services.keys() {
        if let Some(cycle) = visit(name, services, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

fn pinned_ports(services: &BTreeMap<ServiceName, Service>, problems: &mut Vec<CrossProblem>) {
    let mut owners: BTreeMap<(u16, Protocol), (ServiceName, usize)> = BTreeMap::new();
    for (name, service) in services {
        let mut own = BTreeSet::new();
        for (i, port) in service.ports.iter().enumerate() {
            let Some(host) = port.host else { continue };
            let key = (host, port.protocol);
            let path = vec![
                Seg::key("services"),
                Seg::key(name.as_str()),
                Seg::key("ports"),
                Seg::Index(i),
            ];
            if !own.insert(key) {
                problems.push(CrossProblem {
                    path,
                    message: format!("service `{name}` pins host port {host} twice"),
                    hint: None,
                });
                continue;
            }
            match owners.get(&key) {
                Some((other, _)) => problems.push(CrossProblem {
                    path,
                    message: format!(
                        "host port {host}/{} is pinned by both `{other}` and `{name}`",
                        port.protocol.as_str()
                    ),
                    hint: Some(format!(
                        "pin another port, or drop the `{host}:` prefix and let envctl allocate one"
                    )),
                }),
                None => {
                    owners.insert(key, (name.clone(), i));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthCheck, PortSpec, Probe};

    fn svc(name: &str, deps: &[(&str, Condition)]) -> (ServiceName, Service) {
        let n = ServiceName::new(name).unwrap();
        let mut s = Service::from_image(n.clone(), "img");
        for (d, c) in deps {
            s.depends_on.insert(ServiceName::new(d).unwrap(), *c);
        }
        (n, s)
    }

    #[test]
    fn finds_the_cycle_in_order() {
        let services = BTreeMap::from([
            svc("a", &[("b", Condition::Started)]),
            svc("b", &[("c", Condition::Started)]),
            svc("c", &[("a", Condition::Started)]),
            svc("d", &[]),
        ]);
        let cycle = find_cycle(&services).unwrap();
        let names: Vec<_> = cycle.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "a"]);
        assert!(check(&services, &BTreeSet::new())[0]
            .message
            .contains("a -> b -> c -> a"));
    }

    #[test]
    fn reports_missing_deps_and_impossible_conditions() {
        let mut services = BTreeMap::from([
            svc(
                "web",
                &[
                    ("db", Condition::Healthy),
                    ("cach", Condition::Started),
                    ("init", Condition::Completed),
                ],
            ),
            svc("db", &[]),
            svc("cache", &[]),
            svc("init", &[]),
        ]);
        let problems = check(&services, &BTreeSet::new());
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `cache`?"));

        let db = ServiceName::new("db").unwrap();
        services.get_mut(&db).unwrap().healthcheck = Some(HealthCheck::new(Probe::Tcp { port: 1 }));
        services
            .get_mut(&ServiceName::new("init").unwrap())
            .unwrap()
            .kind = ServiceKind::Job;
        assert_eq!(check(&services, &BTreeSet::new()).len(), 1);
    }

    #[test]
    fn aliases_and_container_ports_are_unique() {
        let (a, mut sa) = svc("a", &[]);
        let (b, mut sb) = svc("b", &[]);
        sa.aliases = vec!["www".into(), "b".into()];
        sb.aliases = vec!["www".into()];
        let port = PortSpec {
            container: 80,
            host: None,
            protocol: Protocol::Tcp,
        };
        sb.ports = vec![port, port];
        let problems = check(&BTreeMap::from([(a, sa), (b, sb)]), &BTreeSet::new());
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "alias `b` of `a` is already the name or an alias of `b`",
                "alias `www` of `b` is already the name or an alias of `a`",
                "service `b` lists container port 80/tcp twice",
            ]
        );
    }

    #[test]
    fn host_port_references_must_be_published() {
        let (a, mut sa) = svc("a", &[]);
        let (b, mut sb) = svc("b", &[]);
        sb.ports.push(PortSpec {
            container: 80,
            host: None,
            protocol: Protocol::Tcp,
        });
        let token = host_port_token::format;
        sa.env.insert("OK".into(), EnvValue::Plain(token("b", 80)));
        sa.env
            .insert("NO_PORT".into(), EnvValue::Plain(token("b", 81)));
        sa.command = Some(vec!["x".into(), format!("--p={}", token("zz", 1))]);
        let problems = check(&BTreeMap::from([(a, sa), (b, sb)]), &BTreeSet::new());
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "host_port refers to port 81 of `b`, which does not publish it",
                "host_port refers to service `zz`, which is not defined",
            ]
        );
    }

    #[test]
    fn pinned_host_ports_clash() {
        let (a, mut sa) = svc("a", &[]);
        let (b, mut sb) = svc("b", &[]);
        let pin = PortSpec {
            container: 80,
            host: Some(8080),
            protocol: Protocol::Tcp,
        };
        sa.ports.push(pin);
        sb.ports.push(PortSpec {
            container: 81,
            ..pin
        });
        sb.ports.push(PortSpec {
            container: 82,
            host: None,
            protocol: Protocol::Tcp,
        });
        let problems = check(&BTreeMap::from([(a, sa), (b, sb)]), &BTreeSet::new());
        assert_eq!(problems.len(), 1);
        assert!(problems[0]
            .message
            .contains("8080/tcp is pinned by both `a` and `b`"));
    }
}
