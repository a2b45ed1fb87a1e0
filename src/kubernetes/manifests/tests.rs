//! The mapping, piece by piece, on small environments built in code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::manifests;
use crate::model::{
    BuildSpec, EnvValue, Environment, HostAccess, InstanceId, PortSpec, Protocol, RestartPolicy,
    Service, ServiceKind, ServiceName, VolumeMount, VolumeSource,
};

fn env(feature: Option<&str>, services: Vec<Service>) -> Environment {
    Environment {
        env: "shop".into(),
        feature: feature.map(str::to_string),
        instance: InstanceId::new("shop", feature).unwrap(),
        description: None,
        ttl: Some(Duration::from_secs(3600)),
        source: PathBuf::from("/defs/shop.yaml"),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        local: BTreeMap::new(),
        overlay: None,
        forkable: None,
    }
}

fn service(name: &str) -> Service {
    Service::from_image(ServiceName::new(name).unwrap(), "img:1")
}

fn port(container: u16) -> PortSpec {
    PortSpec {
        container,
        host: None,
        protocol: Protocol::Tcp,
    }
}

/// The one document of `kind` named `name`.
fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {docs:#?}"))
}

fn problems(env: &Environment) -> String {
    manifests(env).unwrap_err().to_string()
}

#[test]
fn namespace_is_per_instance_and_labelled_like_docker_objects() {
    for (feature, name, ttl) in [
        (None, "envctl-shop", Value::Null),
        (Some("pay"), "envctl-shop--pay", json!("3600")),
    ] {
        let docs = manifests(&env(feature, vec![service("db")])).unwrap();
        let ns = &docs[0];
        assert_eq!(ns["kind"], "Namespace");
        assert_eq!(ns["metadata"]["name"], name);
        let labels = &ns["metadata"]["labels"];
        assert_eq!(labels["io.envctl.env"], "shop");
        assert_eq!(
            labels["io.envctl.instance"],
            name.trim_start_matches("envctl-")
        );
        assert_eq!(labels["io.envctl.feature"], json!(feature));
        // Only a feature instance has a lease by default.
        assert_eq!(ns["metadata"]["annotations"]["io.envctl.ttl"], ttl);
        for doc in &docs[1..] {
            assert_eq!(doc["metadata"]["namespace"], name, "{doc}");
        }
    }
}

#[test]
fn documents_come_in_apply_order() {
    let mut db = service("db");
    db.ports = vec![port(3306)];
    db.volumes = vec![VolumeMount {
        source: VolumeSource::Named("data".into()),
        target: "/var/lib".into(),
        read_only: false,
    }];
    db.env
        .insert("PASSWORD".into(), EnvValue::FromEnv("DB_PASSWORD".into()));
    let mut app = service("app");
    app.depends_on
        .insert(db.name.clone(), crate::model::Condition::Healthy);
    let mut seed = service("seed");
    seed.kind = ServiceKind::Job;
    let docs = manifests(&env(None, vec![app, db, seed])).unwrap();
    let kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace/envctl-shop",
            "Secret/envctl-secrets",
            "PersistentVolumeClaim/data",
            "Service/app",
            "Service/db",
            "Service/db-nodeport",
            "Service/seed",
            // Dependency order: what nothing waits on first, by name; then its dependents.
            "Deployment/db",
            "Job/seed",
            "Deployment/app",
            "NetworkPolicy/envctl-isolation",
        ]
    );
    assert_eq!(
        find(&docs, "Deployment", "app")["metadata"]["annotations"]["io.envctl.depends-on"],
        "db=healthy"
    );
}

#[test]
fn secrets_are_references_and_placeholders_never_values() {
    let mut db = service("db");
    db.env.insert("PLAIN".into(), EnvValue::Plain("x".into()));
    db.env
        .insert("TOKEN".into(), EnvValue::FromEnv("HOST_TOKEN".into()));
    db.env.insert(
        "KEY".into(),
        EnvValue::FromFile(PathBuf::from("/secrets/key")),
    );
    let docs = manifests(&env(None, vec![db])).unwrap();
    let secret = find(&docs, "Secret", "envctl-secrets");
    assert_eq!(
        secret["stringData"],
        json!({
            "db.KEY": "<secret: from_file /secrets/key, filled at up>",
            "db.TOKEN": "<secret: from_env HOST_TOKEN, filled at up>",
        })
    );
    let container = &find(&docs, "Deployment", "db")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        json!([
            { "name": "KEY", "valueFrom": { "secretKeyRef": { "name": "envctl-secrets", "key": "db.KEY" } } },
            { "name": "PLAIN", "value": "x" },
            { "name": "TOKEN", "valueFrom": { "secretKeyRef": { "name": "envctl-secrets", "key": "db.TOKEN" } } },
        ])
    );
    // No secret, no Secret.
    let docs = manifests(&env(None, vec![service("db")])).unwrap();
    assert!(docs.iter().all(|d| d["kind"] != "Secret"));
}

#[test]
fn restart_is_mapped_or_refused_naming_the_service() {
    use RestartPolicy::*;
    let cases: [(ServiceKind, RestartPolicy, Result<&str, &str>); 8] = [
        (ServiceKind::Service, No, Ok("Deployment")),
        (ServiceKind::Service, Always, Ok("Deployment")),
        (ServiceKind::Service, UnlessStopped, Ok("Deployment")),
        (
            ServiceKind::Service,
            OnFailure,
            Err("`restart: on-failure`"),
        ),
        (ServiceKind::Job, No, Ok("Never")),
        (ServiceKind::Job, OnFailure, Ok("OnFailure")),
        (ServiceKind::Job, Always, Err("`restart: always`")),
        (
            ServiceKind::Job,
            UnlessStopped,
            Err("`restart: unless-stopped`"),
        ),
    ];
    for (kind, restart, want) in cases {
        let mut s = service("worker");
        s.kind = kind;
        s.restart = restart;
        let env = env(None, vec![s]);
        match want {
            Ok(what) => {
                let docs = manifests(&env).unwrap();
                let doc = docs
                    .iter()
                    .find(|d| d["metadata"]["name"] == "worker" && d["kind"] != "Service")
                    .unwrap();
                let got = if doc["kind"] == "Job" {
                    doc["spec"]["template"]["spec"]["restartPolicy"].clone()
                } else {
                    doc["kind"].clone()
                };
                assert_eq!(got, what, "{kind:?} {restart:?}");
            }
            Err(what) => {
                let text = problems(&env);
                assert!(
                    text.contains("service `worker`") && text.contains(what),
                    "{text}"
                );
            }
        }
    }
}

#[test]
fn names_and_aliases_become_headless_services_and_clashes_are_refused() {
    let mut web = service("web");
    web.aliases = vec!["www".into()];
    web.ports = vec![port(80)];
    let docs = manifests(&env(None, vec![web.clone()])).unwrap();
    for name in ["web", "www"] {
        let svc = find(&docs, "Service", name);
        assert_eq!(svc["spec"]["clusterIP"], "None");
        assert_eq!(svc["spec"]["selector"]["io.envctl.service"], "web");
        assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    }
    let node = find(&docs, "Service", "web-nodeport");
    assert_eq!(node["spec"]["type"], "NodePort");
    assert_eq!(node["spec"]["ports"][0]["port"], 80);
    assert!(node["spec"]["ports"][0].get("nodePort").is_none());
    let policy = find(&docs, "NetworkPolicy", "envctl-isolation");
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{ "from": [{ "podSelector": {} }] }, { "ports": [{ "port": 80, "protocol": "TCP" }] }])
    );

    // An alias that is another service's name, and a service whose name Kubernetes refuses.
    let text = problems(&env(None, vec![web, service("www"), service("1st")]));
    assert!(
        text.contains("service `www`: Service name `www` is already used by service `web`")
            || text.contains("service `web`: Service name `www` is already used by service `www`"),
        "{text}"
    );
    assert!(
        text.contains("service `1st`: Service name `1st` must start with a letter"),
        "{text}"
    );
}

#[test]
fn container_carries_image_command_resources_and_host_access() {
    let mut s = service("tool");
    s.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    s.command = Some(vec!["run".into()]);
    s.resources.memory_bytes = Some(256 << 20);
    s.resources.cpus = Some(0.5);
    s.host_access = HostAccess {
        privileged: true,
        network: true,
        pid: true,
    };
    s.build = Some(BuildSpec {
        context: PathBuf::from("/defs/tool"),
        dockerfile: "Dockerfile".into(),
        args: BTreeMap::new(),
    });
    s.volumes = vec![VolumeMount {
        source: VolumeSource::Bind(PathBuf::from("/defs/conf")),
        target: "/conf".into(),
        read_only: true,
    }];
    let docs = manifests(&env(None, vec![s])).unwrap();
    let deployment = find(&docs, "Deployment", "tool");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "img:1");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["command"], json!(["/bin/sh", "-c"]));
    assert_eq!(c["args"], json!(["run"]));
    let amounts = json!({ "memory": "256Mi", "cpu": "500m" });
    assert_eq!(
        c["resources"],
        json!({ "requests": amounts, "limits": amounts })
    );
    assert_eq!(c["securityContext"], json!({ "privileged": true }));
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["hostPID"], true);
    assert_eq!(
        c["volumeMounts"],
        json!([{ "name": "bind-0", "mountPath": "/conf", "readOnly": true }])
    );
    assert_eq!(
        pod["volumes"],
        json!([{ "name": "bind-0", "hostPath": { "path": "/defs/conf" } }])
    );
    assert!(
        deployment["metadata"]["annotations"]["io.envctl.local-image"]
            .as_str()
            .unwrap()
            .contains("registry")
    );
    // Without `allow:`-gated access, nothing of it appears.
    let docs = manifests(&env(None, vec![service("plain")])).unwrap();
    let pod = &find(&docs, "Deployment", "plain")["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], Value::Null);
    assert_eq!(pod["hostPID"], Value::Null);
    assert_eq!(pod["containers"][0]["securityContext"], Value::Null);
}

#[test]
fn named_volumes_become_one_claim_each() {
    let mount = |name: &str| VolumeMount {
        source: VolumeSource::Named(name.into()),
        target: format!("/{name}"),
        read_only: false,
    };
    let mut a = service("a");
    a.volumes = vec![mount("shared"), mount("own")];
    let mut b = service("b");
    b.volumes = vec![mount("shared")];
    let docs = manifests(&env(None, vec![a, b])).unwrap();
    let claims: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "PersistentVolumeClaim")
        .collect();
    assert_eq!(claims.len(), 2);
    assert_eq!(
        find(&docs, "PersistentVolumeClaim", "shared")["spec"]["resources"]["requests"]["storage"],
        "1Gi"
    );
    let pod = &find(&docs, "Deployment", "a")["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0],
        json!({ "name": "shared", "persistentVolumeClaim": { "claimName": "shared" } })
    );
}

#[test]
fn an_instance_too_long_for_a_namespace_name_is_refused() {
    let mut long = env(Some("feature"), vec![service("db")]);
    let name = "e".repeat(50);
    long.env = name.clone();
    long.instance = InstanceId::new(&name, Some("feature")).unwrap();
    let text = problems(&long);
    assert!(
        text.contains(&format!(
            "namespace name `envctl-{name}--feature` is 66 characters; Kubernetes allows 63"
        )),
        "{text}"
    );
}

mod with_inputs {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::{env, find, port, service};
    use crate::kubernetes::manifests::{manifests, manifests_with, Advertise, MappingInputs};
    use crate::kubernetes::node_ports::DEFAULT_RANGE;
    use crate::model::{host_port_token, EnvValue, PortSpec, Protocol, Service};

    /// A Dubbo provider as the dubbo-provider template renders it, and a consumer that dials
    /// the provider's published port from outside.
    fn provider_and_client() -> Vec<Service> {
        let mut provider = service("order");
        provider.ports = vec![port(20880)];
        for (key, value) in [
            ("DUBBO_IP_TO_REGISTRY", "192.0.2.10".to_string()),
            (
                "DUBBO_PORT_TO_REGISTRY",
                host_port_token::format("order", 20880),
            ),
        ] {
            provider.env.insert(key.into(), EnvValue::Plain(value));
        }
        let mut client = service("client");
        client.env.insert(
            "ORDER_URL".into(),
            EnvValue::Plain(format!(
                "tri://x:{}/",
                host_port_token::format("order", 20880)
            )),
        );
        vec![provider, client]
    }

    fn up_inputs(ports: &[((&str, u16), u16)]) -> MappingInputs {
        let ports = ports
            .iter()
            .map(|&((s, p), n)| ((s.to_string(), p), n))
            .collect();
        MappingInputs::up(ports, DEFAULT_RANGE)
    }

    fn container<'a>(docs: &'a [Value], name: &str) -> &'a Value {
        &find(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    }

    fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no env {name} in {container}"))
    }

    #[test]
    fn render_inputs_are_what_manifests_gives() {
        let e = env(Some("pay"), provider_and_client());
        assert_eq!(
            manifests(&e).unwrap(),
            manifests_with(&e, &MappingInputs::render()).unwrap()
        );
        let docs = manifests(&e).unwrap();
        let order = container(&docs, "order");
        assert_eq!(
            env_var(order, "DUBBO_IP_TO_REGISTRY")["value"],
            "192.0.2.10"
        );
        assert_eq!(
            env_var(order, "DUBBO_PORT_TO_REGISTRY")["value"],
            "<host port of order:20880, allocated at up>"
        );
    }

    #[test]
    fn node_ports_fill_the_nodeport_service_and_host_port_tokens() {
        let e = env(None, provider_and_client());
        let docs = manifests_with(&e, &up_inputs(&[(("order", 20880), 31234)])).unwrap();
        let node = find(&docs, "Service", "order-nodeport");
        assert_eq!(node["spec"]["ports"][0]["nodePort"], 31234);
        assert_eq!(node["spec"]["ports"][0]["port"], 20880);
        let order = container(&docs, "order");
        assert_eq!(env_var(order, "DUBBO_PORT_TO_REGISTRY")["value"], "31234");
        assert_eq!(
            env_var(container(&docs, "client"), "ORDER_URL")["value"],
            "tri://x:31234/"
        );
    }

    #[test]
    fn providers_register_the_node_address_or_the_given_host() {
        let e = env(None, provider_and_client());
        let mut inputs = up_inputs(&[(("order", 20880), 31234)]);
        let docs = manifests_with(&e, &inputs).unwrap();
        assert_eq!(
            env_var(container(&docs, "order"), "DUBBO_IP_TO_REGISTRY"),
            &json!({
                "name": "DUBBO_IP_TO_REGISTRY",
                "valueFrom": { "fieldRef": { "fieldPath": "status.hostIP" } },
            })
        );
        inputs.advertise = Advertise::Literal("nodes.example.com".into());
        let docs = manifests_with(&e, &inputs).unwrap();
        assert_eq!(
            env_var(container(&docs, "order"), "DUBBO_IP_TO_REGISTRY"),
            &json!({ "name": "DUBBO_IP_TO_REGISTRY", "value": "nodes.example.com" })
        );
        // A service without the key is left alone.
        assert!(container(&docs, "client")["env"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != "DUBBO_IP_TO_REGISTRY"));
    }

    #[test]
    fn pinned_host_ports_become_node_ports_inside_the_range_or_are_refused() {
        let mut web = service("web");
        web.ports = vec![PortSpec {
            container: 80,
            host: Some(30080),
            protocol: Protocol::Tcp,
        }];
        let docs = manifests_with(&env(None, vec![web.clone()]), &up_inputs(&[])).unwrap();
        assert_eq!(
            find(&docs, "Service", "web-nodeport")["spec"]["ports"][0]["nodePort"],
            30080
        );
        // Render does not carry it over: the cluster picks.
        let docs = manifests(&env(None, vec![web.clone()])).unwrap();
        assert!(find(&docs, "Service", "web-nodeport")["spec"]["ports"][0]
            .get("nodePort")
            .is_none());

        web.ports[0].host = Some(8080);
        let mut db = service("db");
        db.ports = vec![port(3306)];
        let err = manifests_with(&env(None, vec![web, db]), &up_inputs(&[]))
            .unwrap_err()
            .to_string();
        // Every problem at once: the pin outside the range, and a port nobody allocated.
        assert!(
            err.contains("service `web`: pinned host port 8080 (for container port 80) is outside the cluster's node-port range 30000-32767"),
            "{err}"
        );
        assert!(
            err.contains("service `db`: no node port was allocated for container port 3306"),
            "{err}"
        );
    }

    #[test]
    fn a_host_port_token_without_a_node_port_is_refused_at_up() {
        let mut client = service("client");
        client.env.insert(
            "URL".into(),
            EnvValue::Plain(host_port_token::format("db", 3306)),
        );
        let err = manifests_with(&env(None, vec![client]), &up_inputs(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service `client`: env `URL`: host_port refers to port 3306 of `db`"),
            "{err}"
        );
    }

    #[test]
    fn secret_values_go_into_the_secret_only() {
        let mut db = service("db");
        db.env
            .insert("PASSWORD".into(), EnvValue::FromEnv("DB_PW".into()));
        db.env
            .insert("TOKEN".into(), EnvValue::FromFile("/run/token".into()));
        let e = env(None, vec![db]);
        let mut inputs = MappingInputs::render();
        inputs.secrets = Some(BTreeMap::from([
            ("db.PASSWORD".to_string(), "s3cret-pw".to_string()),
            ("db.TOKEN".to_string(), "tok".to_string()),
        ]));
        let docs = manifests_with(&e, &inputs).unwrap();
        assert_eq!(
            find(&docs, "Secret", "envctl-secrets")["stringData"],
            json!({ "db.PASSWORD": "s3cret-pw", "db.TOKEN": "tok" })
        );
        let deployment = find(&docs, "Deployment", "db").to_string();
        assert!(!deployment.contains("s3cret-pw"), "{deployment}");
        assert!(deployment.contains("secretKeyRef"), "{deployment}");

        inputs.secrets = Some(BTreeMap::from([(
            "db.PASSWORD".to_string(),
            "s3cret-pw".to_string(),
        )]));
        let err = manifests_with(&e, &inputs).unwrap_err().to_string();
        assert!(
            err.contains("service `db`: env `TOKEN`: no value given for Secret key `db.TOKEN` (from_file /run/token)"),
            "{err}"
        );
        assert!(!err.contains("s3cret-pw"), "{err}");
    }

    #[test]
    fn local_images_are_named_as_pushed_to_the_registry() {
        let mut cache = service("cache");
        cache.image = "envctl/redis:7".into();
        let pulled = service("db");
        let e = env(None, vec![cache, pulled]);
        let docs = manifests(&e).unwrap();
        let deployment = find(&docs, "Deployment", "cache");
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["image"],
            "envctl/redis:7"
        );
        assert!(
            deployment["metadata"]["annotations"]["io.envctl.local-image"]
                .as_str()
                .unwrap()
                .contains("ENVCTL_REGISTRY")
        );

        let mut inputs = MappingInputs::render();
        inputs.registry = Some("127.0.0.1:5000".into());
        let docs = manifests_with(&e, &inputs).unwrap();
        let cache = container(&docs, "cache");
        assert_eq!(cache["image"], "127.0.0.1:5000/envctl/redis:7");
        assert_eq!(cache["imagePullPolicy"], "Always");
        assert_eq!(
            find(&docs, "Deployment", "cache")["metadata"]["annotations"]["io.envctl.local-image"],
            "built on this machine, pushed to 127.0.0.1:5000 by up"
        );
        // An image from a registry is left as it is.
        let db = container(&docs, "db");
        assert_eq!(db["image"], "img:1");
        assert_eq!(db["imagePullPolicy"], "IfNotPresent");
        assert!(find(&docs, "Deployment", "db")["metadata"]
            .get("annotations")
            .is_none());
    }
}
