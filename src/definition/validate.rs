//! Checks across services: dependencies exist, have no cycle and ask for conditions the
//! dependency can meet; no two services pin the same host port.

use std::collections::{BTreeMap, BTreeSet};

use super::locate::Seg;
use crate::model::{Condition, Protocol, Service, ServiceKind, ServiceName};

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

/// Every cross-service problem.
pub fn check(services: &BTreeMap<ServiceName, Service>) -> Vec<CrossProblem> {
    let mut problems = Vec::new();
    dependencies(services, &mut problems);
    if let Some(cycle) = find_cycle(services) {
        let names: Vec<&str> = cycle.iter().map(|n| n.as_str()).collect();
        problems.push(CrossProblem {
            path: dep_path(&cycle[0], &cycle[1]),
            message: format!("dependency cycle: {}", names.join(" -> ")),
            hint: Some("remove one of these `depends_on` entries".into()),
        });
    }
    pinned_ports(services, &mut problems);
    problems
}

fn dependencies(services: &BTreeMap<ServiceName, Service>, problems: &mut Vec<CrossProblem>) {
    for (name, service) in services {
        for (dep, condition) in &service.depends_on {
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
        assert!(check(&services)[0].message.contains("a -> b -> c -> a"));
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
        let problems = check(&services);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `cache`?"));

        let db = ServiceName::new("db").unwrap();
        services.get_mut(&db).unwrap().healthcheck = Some(HealthCheck::new(Probe::Tcp { port: 1 }));
        services
            .get_mut(&ServiceName::new("init").unwrap())
            .unwrap()
            .kind = ServiceKind::Job;
        assert_eq!(check(&services).len(), 1);
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
        let problems = check(&BTreeMap::from([(a, sa), (b, sb)]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0]
            .message
            .contains("8080/tcp is pinned by both `a` and `b`"));
    }
}
