use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;
use crate::model::{InstanceId, PortSpec, Protocol, Service, ServiceName};

fn key(service: &str, port: u16) -> (String, u16) {
    (service.to_string(), port)
}

fn wanted() -> Vec<(String, u16)> {
    vec![key("db", 3306), key("web", 80), key("web", 443)]
}

fn none() -> NodePorts {
    NodePorts::new()
}

#[test]
fn allocation_is_stable_across_calls_and_in_range() {
    let a = allocate("shop", &wanted(), &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    let b = allocate("shop", &wanted(), &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    assert!(a.values().all(|p| DEFAULT_RANGE.contains(p)), "{a:?}");
    let distinct: BTreeSet<u16> = a.values().copied().collect();
    assert_eq!(distinct.len(), 3, "{a:?}");
    // The order ports are asked in does not matter.
    let mut reversed = wanted();
    reversed.reverse();
    let c = allocate("shop", &reversed, &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    assert_eq!(a, c);
}

#[test]
fn two_instances_get_different_ports() {
    let a = allocate("shop", &wanted(), &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    let b = allocate(
        "shop--pay",
        &wanted(),
        &none(),
        &BTreeSet::new(),
        DEFAULT_RANGE,
    )
    .unwrap();
    assert_ne!(a, b);
    assert_ne!(a[&key("db", 3306)], b[&key("db", 3306)]);
}

#[test]
fn current_allocations_are_kept_even_when_the_cluster_lists_them_as_taken() {
    let fresh = allocate("shop", &wanted(), &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    // A port the hash would not choose, and that the cluster reports in use (by this very
    // instance's Service).
    let current = if fresh[&key("db", 3306)] == 30007 {
        30008
    } else {
        30007
    };
    let keep = BTreeMap::from([(key("db", 3306), current)]);
    let taken = BTreeSet::from([current]);
    let got = allocate("shop", &wanted(), &keep, &taken, DEFAULT_RANGE).unwrap();
    assert_eq!(got[&key("db", 3306)], current);
    assert_eq!(got[&key("web", 80)], fresh[&key("web", 80)]);
    // A kept entry of a port no longer wanted is not handed out.
    let keep = BTreeMap::from([(key("gone", 1), 30007)]);
    let got = allocate("shop", &wanted(), &keep, &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    assert!(!got.contains_key(&key("gone", 1)));
}

#[test]
fn a_new_port_never_takes_one_another_key_keeps() {
    let fresh = allocate(
        "shop",
        &[key("web", 80)],
        &none(),
        &BTreeSet::new(),
        DEFAULT_RANGE,
    )
    .unwrap();
    let first_choice = fresh[&key("web", 80)];
    // `db` keeps web's first choice; web probes on past it.
    let keep = BTreeMap::from([(key("db", 3306), first_choice)]);
    let got = allocate("shop", &wanted(), &keep, &BTreeSet::new(), DEFAULT_RANGE).unwrap();
    assert_eq!(got[&key("db", 3306)], first_choice);
    assert_ne!(got[&key("web", 80)], first_choice);
}

#[test]
fn collisions_are_probed_linearly_and_wrap_around() {
    let range = 30000..=30009;
    let first = allocate(
        "shop",
        &[key("db", 3306)],
        &none(),
        &BTreeSet::new(),
        range.clone(),
    )
    .unwrap()[&key("db", 3306)];
    let next = |p: u16| if p == 30009 { 30000 } else { p + 1 };
    let taken = BTreeSet::from([first, next(first)]);
    let got = allocate("shop", &[key("db", 3306)], &none(), &taken, range.clone()).unwrap();
    assert_eq!(got[&key("db", 3306)], next(next(first)));
    // Everything but one port taken: that one, wherever the hash starts.
    let taken: BTreeSet<u16> = range.clone().filter(|&p| p != 30004).collect();
    let got = allocate("shop", &[key("db", 3306)], &none(), &taken, range).unwrap();
    assert_eq!(got[&key("db", 3306)], 30004);
}

#[test]
fn an_exhausted_range_is_an_error_naming_service_port_and_range() {
    let range = 30000..=30001;
    let err = allocate("shop", &wanted(), &none(), &BTreeSet::new(), range.clone()).unwrap_err();
    assert!(matches!(err, NodePortError::Exhausted { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("no free node port left in 30000-30001"),
        "{text}"
    );
    assert!(text.contains("service `web`"), "{text}");
    let taken = BTreeSet::from([30000, 30001]);
    let err = allocate("shop", &[key("db", 3306)], &none(), &taken, range).unwrap_err();
    assert!(
        err.to_string().contains("service `db`") && err.to_string().contains("3306"),
        "{err}"
    );
}

#[test]
fn ranges_parse_or_are_refused_naming_the_variable() {
    assert_eq!(parse_range("30000-30100"), Ok(30000..=30100));
    assert_eq!(parse_range(" 7 - 7 "), Ok(7..=7));
    for bad in ["", " ", "30000", "2-1", "0-5", "a-b", "1-70000"] {
        let err = parse_range(bad).unwrap_err();
        assert!(err.to_string().contains(RANGE_VAR), "{bad}: {err}");
    }
}

fn service(name: &str, ports: &[(u16, Option<u16>)]) -> Service {
    let mut s = Service::from_image(ServiceName::new(name).unwrap(), "img:1");
    s.ports = ports
        .iter()
        .map(|&(container, host)| PortSpec {
            container,
            host,
            protocol: Protocol::Tcp,
        })
        .collect();
    s
}

fn env(services: Vec<Service>) -> Environment {
    Environment {
        env: "shop".into(),
        feature: None,
        instance: InstanceId::new("shop", None).unwrap(),
        description: None,
        ttl: None,
        source: PathBuf::from("/defs/shop.yaml"),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        local: BTreeMap::new(),
        overlay: None,
        forkable: None,
    }
}

#[test]
fn pinned_ports_are_node_ports_inside_the_range_and_never_probed_into() {
    let e = env(vec![
        service("web", &[(80, Some(30080)), (443, None)]),
        service("db", &[(3306, None)]),
    ]);
    let range = 30075..=30085;
    let got = allocate_for_env(&e, &none(), &BTreeSet::new(), range.clone()).unwrap();
    assert_eq!(got[&key("web", 80)], 30080);
    assert_eq!(got.len(), 3);
    let others: BTreeSet<u16> = [got[&key("web", 443)], got[&key("db", 3306)]].into();
    assert!(!others.contains(&30080) && others.len() == 2, "{got:?}");

    let outside = env(vec![service("web", &[(80, Some(8080))])]);
    let err = allocate_for_env(&outside, &none(), &BTreeSet::new(), DEFAULT_RANGE).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service `web`: pinned host port 8080 (for container port 80) is outside the cluster's node-port range 30000-32767; on Kubernetes a pinned port is a node port: pin one inside the range, or drop the pin (`ports: [80]`) for an allocated one"
    );

    // Taken by another Service: refused; held by this instance already: kept.
    let taken = BTreeSet::from([30080]);
    let err = allocate_for_env(&e, &none(), &taken, range.clone()).unwrap_err();
    assert!(
        matches!(err, NodePortError::PinnedTaken { host: 30080, .. }),
        "{err}"
    );
    let keep = BTreeMap::from([(key("web", 80), 30080)]);
    let got = allocate_for_env(&e, &keep, &taken, range.clone()).unwrap();
    assert_eq!(got[&key("web", 80)], 30080);

    let twice = env(vec![
        service("a", &[(80, Some(30080))]),
        service("b", &[(80, Some(30080))]),
    ]);
    let err = allocate_for_env(&twice, &none(), &BTreeSet::new(), range).unwrap_err();
    assert!(
        matches!(err, NodePortError::PinnedTwice { host: 30080, .. }),
        "{err}"
    );
}

#[test]
fn current_allocations_and_ports_in_use_are_read_from_services() {
    let services = vec![
        serde_json::json!({
            "metadata": { "name": "web-nodeport", "labels": { "io.envctl.service": "web" } },
            "spec": { "type": "NodePort", "ports": [
                { "port": 80, "nodePort": 30080 },
                { "port": 443, "nodePort": 30443 },
            ]},
        }),
        // A headless Service of the same service: no node ports.
        serde_json::json!({
            "metadata": { "name": "web", "labels": { "io.envctl.service": "web" } },
            "spec": { "clusterIP": "None", "ports": [{ "port": 80 }] },
        }),
        // Someone else's: not ours to keep, but taken.
        serde_json::json!({
            "metadata": { "name": "ingress" },
            "spec": { "type": "LoadBalancer", "ports": [{ "port": 443, "nodePort": 31443 }] },
        }),
    ];
    assert_eq!(
        current(&services[..2]),
        BTreeMap::from([(key("web", 80), 30080), (key("web", 443), 30443)])
    );
    assert_eq!(current(&services[2..]), none());
    assert_eq!(in_use(&services), BTreeSet::from([30080, 30443, 31443]));
}
