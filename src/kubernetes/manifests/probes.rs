//! Health checks → readinessProbes. `tcp`, `http` and `cmd` have direct equivalents.
//! `zookeeper` and `dubbo` checks speak protocols the kubelet does not: envctl runs those
//! itself (as it does on Docker, from outside the container), so the manifest carries only
//! the floor every such service meets, a tcpSocket probe on its port.

use serde_json::{json, Value};

use crate::model::{HealthCheck, Probe, Service};

/// The readinessProbe of `service`, if it has a health check with something to probe.
pub fn readiness(service: &Service) -> Option<Value> {
    let check = service.healthcheck.as_ref()?;
    let mut probe = handler(service, &check.probe)?;
    timing(&mut probe, check);
    Some(probe)
}

fn handler(service: &Service, probe: &Probe) -> Option<Value> {
    Some(match probe {
        Probe::Cmd(argv) => json!({ "exec": { "command": argv } }),
        Probe::Tcp { port } | Probe::Zookeeper { port } => tcp(*port),
        Probe::Http { port, path } => json!({ "httpGet": { "path": path, "port": port } }),
        // A provider listens on its (first) port before it registers.
        Probe::Dubbo(_) => tcp(service.ports.first()?.container),
    })
}

fn tcp(port: u16) -> Value {
    json!({ "tcpSocket": { "port": port } })
}

/// Docker's interval/timeout/retries/start period, in whole seconds (rounded up; the kubelet
/// counts in seconds and refuses 0 for period and timeout).
fn timing(probe: &mut Value, check: &HealthCheck) {
    let secs = |d: std::time::Duration| d.as_millis().div_ceil(1000).max(1) as u64;
    probe["periodSeconds"] = json!(secs(check.interval));
    probe["timeoutSeconds"] = json!(secs(check.timeout));
    probe["failureThreshold"] = json!(check.retries.max(1));
    if !check.start_period.is_zero() {
        probe["initialDelaySeconds"] = json!(check.start_period.as_millis().div_ceil(1000) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DubboProbe, PortSpec, Protocol, ServiceName};
    use std::time::Duration;

    fn with(probe: Probe, ports: &[u16]) -> Service {
        let mut s = Service::from_image(ServiceName::new("s").unwrap(), "i");
        s.healthcheck = Some(HealthCheck::new(probe));
        s.ports = ports
            .iter()
            .map(|&container| PortSpec {
                container,
                host: None,
                protocol: Protocol::Tcp,
            })
            .collect();
        s
    }

    #[test]
    fn each_probe_has_its_handler() {
        let cases = [
            (
                Probe::Tcp { port: 6379 },
                &[][..],
                json!({ "tcpSocket": { "port": 6379 } }),
            ),
            (
                Probe::Http {
                    port: 80,
                    path: "/h".into(),
                },
                &[],
                json!({ "httpGet": { "path": "/h", "port": 80 } }),
            ),
            (
                Probe::Cmd(vec!["pg_isready".into()]),
                &[],
                json!({ "exec": { "command": ["pg_isready"] } }),
            ),
            (
                Probe::Zookeeper { port: 2181 },
                &[],
                json!({ "tcpSocket": { "port": 2181 } }),
            ),
            (
                Probe::Dubbo(DubboProbe::interface("a.B")),
                &[20880, 22222],
                json!({ "tcpSocket": { "port": 20880 } }),
            ),
        ];
        for (probe, ports, want) in cases {
            let got = readiness(&with(probe.clone(), ports)).unwrap();
            for (key, value) in want.as_object().unwrap() {
                assert_eq!(&got[key], value, "{probe:?}");
            }
        }
    }

    #[test]
    fn dubbo_without_a_port_has_no_probe() {
        assert_eq!(
            readiness(&with(Probe::Dubbo(DubboProbe::interface("a.B")), &[])),
            None
        );
    }

    #[test]
    fn timing_is_rounded_up_to_seconds() {
        let mut s = with(Probe::Tcp { port: 1 }, &[]);
        let check = s.healthcheck.as_mut().unwrap();
        check.interval = Duration::from_millis(500);
        check.timeout = Duration::from_millis(1500);
        check.retries = 90;
        check.start_period = Duration::from_secs(10);
        let got = readiness(&s).unwrap();
        assert_eq!(got["periodSeconds"], 1);
        assert_eq!(got["timeoutSeconds"], 2);
        assert_eq!(got["failureThreshold"], 90);
        assert_eq!(got["initialDelaySeconds"], 10);
    }
}
