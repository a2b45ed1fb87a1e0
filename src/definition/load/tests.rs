//! Loading whole definitions: rendering, merging, extends, host access.

use super::*;
use crate::model::{Condition, EnvValue, Probe, ServiceName, VolumeSource};

/// A temp dir with `env.yaml` and templates under `tpl/`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(definition: &str, templates: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shop.yaml"), definition).unwrap();
        std::fs::create_dir(dir.path().join("tpl")).unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        for (name, text) in templates {
            std::fs::write(dir.path().join("tpl").join(format!("{name}.yaml")), text).unwrap();
        }
        Self { dir }
    }

    fn load(&self, opts: &LoadOptions) -> Result<Environment, Vec<Diagnostic>> {
        load(
            &self.dir.path().join("shop.yaml"),
            opts,
            &[self.dir.path().join("tpl")],
        )
    }

    fn errors(&self) -> String {
        match self.load(&LoadOptions::default()) {
            Ok(_) => panic!("expected problems"),
            Err(d) => super::super::diagnostics::render_all(&d),
        }
    }
}

#[test]
fn host_access_needs_an_opt_in_named_by_file_and_line() {
    let risky = "services:\n  tool:\n    image: envctl/busybox:1.35\n    privileged: true\n    network_mode: host\n    pid: host\n    volumes: [\"/etc:/host-etc:ro\", \"./conf:/conf\", \"../..:/o\"]\n  tpl:\n    template: sneaky\n";
    let sneaky = "service:\n  image: envctl/busybox:1.35\n  privileged: true\n";
    let f = Fixture::new(risky, &[("sneaky", sneaky)]);
    let errors = f.errors();
    for expected in [
        "shop.yaml:4:",
        "runs privileged",
        "shop.yaml:5:",
        "host's network",
        "shop.yaml:6:",
        "host's processes",
        "/etc from outside the definition's directory",
        "mounts / from outside",
        "allow: [outside-binds]",
    ] {
        assert!(errors.contains(expected), "no `{expected}` in:\n{errors}");
    }
    assert!(!errors.contains("/conf from outside"), "{errors}");
    // The template cannot grant itself privileges: the using definition is blamed.
    assert!(errors.contains("service `tpl` runs privileged"), "{errors}");

    let allowed = format!("allow: [privileged, host-network, host-pid, outside-binds]\n{risky}");
    let f = Fixture::new(&allowed, &[("sneaky", sneaky)]);
    let env = f.load(&LoadOptions::default()).expect("allowed");
    let tool = &env.services["tool"];
    assert!(tool.host_access.privileged && tool.host_access.network && tool.host_access.pid);
    assert!(env.services["tpl"].host_access.privileged);

    let f = Fixture::new(&format!("allow: [root]\n{risky}"), &[("sneaky", sneaky)]);
    let errors = f.errors();
    assert!(
        errors.contains("root") && errors.contains("outside-binds"),
        "{errors}"
    );
}

const PROVIDER: &str = r#"description: a provider
params:
  interface: { required: true, type: string, description: the interface }
  port: { default: 20880, type: int }
  advertise: { default: true, type: bool }
service:
  image: envctl/dubbo-python:3.0
  ports: [{{ port }}]
  env:
    IFACE: "{{ interface }}"
{% if advertise %}
    HOST: "{{ advertise_host }}"
    PORT: "{{ host_port(port=port) }}"
{% endif %}
  healthcheck: { dubbo: { interface: "{{ interface }}" }, retries: 5 }
"#;

#[test]
fn renders_merges_and_resolves() {
    let f = Fixture::new(
        r#"{% set tag = set.tag | default(value="latest") %}
description: shop for {{ feature }}
ttl: 2h
services:
  zk:
    image: "envctl/zookeeper:{{ tag }}"
    healthcheck: { zookeeper: 2181 }
{% for name in ["order", "pay"] %}
  {{ name }}:
    template: provider
    with: { interface: "com.shop.{{ name }}" }
    env: { IFACE: overridden, EXTRA: "1" }
    healthcheck: { retries: 9 }
    depends_on: { zk: healthy }
{% endfor %}
  web:
    image: envctl/nginx:1.22
    volumes: ["./conf:/etc/nginx:ro", "data:/var/www"]
    depends_on: [order, pay]
"#,
        &[("provider", PROVIDER)],
    );
    let opts = LoadOptions {
        feature: Some("f1".into()),
        set: BTreeMap::from([("tag".into(), "3.8".into())]),
        advertise_host: "10.1.2.3".into(),
        dubbo_tag: None,
    };
    let env = f.load(&opts).unwrap();
    assert_eq!(env.instance.as_str(), "shop--f1");
    assert_eq!(env.description.as_deref(), Some("shop for f1"));
    assert_eq!(env.ttl, Some(std::time::Duration::from_secs(7200)));
    let get = |n: &str| &env.services[n];
    assert_eq!(get("zk").image, "envctl/zookeeper:3.8");
    let order = get("order");
    assert_eq!(order.template.as_deref(), Some("provider"));
    assert_eq!(order.image, "envctl/dubbo-python:3.0");
    assert_eq!(order.env["IFACE"], EnvValue::Plain("overridden".into()));
    assert_eq!(order.env["EXTRA"], EnvValue::Plain("1".into()));
    assert_eq!(order.env["HOST"], EnvValue::Plain("10.1.2.3".into()));
    assert_eq!(
        order.env["PORT"],
        EnvValue::Plain("@@envctl:host_port:order:20880@@".into())
    );
    let hc = order.healthcheck.as_ref().unwrap();
    assert_eq!(hc.retries, 9, "own keys win in the deep merge");
    assert_eq!(
        hc.probe,
        Probe::Dubbo(crate::model::DubboProbe::interface("com.shop.order"))
    );
    assert_eq!(
        order.depends_on[&ServiceName::new("zk").unwrap()],
        Condition::Healthy
    );
    let web = get("web");
    let base = std::path::absolute(f.dir.path()).unwrap();
    assert_eq!(
        web.volumes[0].source,
        VolumeSource::Bind(base.canonicalize().unwrap().join("conf"))
    );
    assert_eq!(web.volumes[1].source, VolumeSource::Named("data".into()));
    let order_pos = env
        .dependency_order()
        .iter()
        .position(|n| n.as_str() == "order");
    let web_pos = env
        .dependency_order()
        .iter()
        .position(|n| n.as_str() == "web");
    assert!(order_pos < web_pos);
}

#[test]
fn a_false_bool_param_drops_the_block() {
    let f = Fixture::new(
        "services:\n  p:\n    template: provider\n    with: { interface: x, advertise: false }\n",
        &[("provider", PROVIDER)],
    );
    let env = f.load(&LoadOptions::default()).unwrap();
    assert!(!env.services["p"].env.contains_key("PORT"));
}

#[test]
fn collects_problems_from_every_service_in_one_run() {
    let f = Fixture::new(
            "services:\n  a:\n    image: x\n    imagee: y\n  b:\n    template: provider\n  c:\n    image: x\n    depends_on: [zz]\n  d:\n    image: x\n    resources: { memory: 1q }\n",
            &[("provider", PROVIDER)],
        );
    let text = f.errors();
    for needle in [
        "unknown key `imagee`",
        "shop.yaml:4:5",
        "template `provider` needs param `interface`",
        "shop.yaml:6:5",
        "depends on `zz`",
        "shop.yaml:9:",
        "`1q` is not a memory size",
        "shop.yaml:12:",
        "4 problems found",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
}

#[test]
fn errors_in_a_loop_point_at_the_loop_body() {
    let f = Fixture::new(
            "services:\n{% for n in [1, 2] %}\n  s{{ n }}:\n    image: x\n    ports: [{{ n * 70000 }}]\n{% endfor %}\n",
            &[],
        );
    let text = f.errors();
    assert!(text.contains("port 140000 is out of range"), "{text}");
    assert!(text.contains("shop.yaml:5:"), "{text}");
    assert!(text.contains("rendered as: ports: [140000]"), "{text}");
}

#[test]
fn template_header_cannot_use_tera() {
    let f = Fixture::new(
        "services:\n  a:\n    template: t\n",
        &[("t", "description: \"{{ env }}\"\nservice:\n  image: x\n")],
    );
    let text = f.errors();
    assert!(text.contains("header"), "{text}");
    assert!(text.contains("t.yaml:1:"), "{text}");
}

#[test]
fn name_must_match_what_was_rendered() {
    let f = Fixture::new("name: other\nservices:\n  a:\n    image: x\n", &[]);
    let env = f.load(&LoadOptions::default()).unwrap();
    assert_eq!(env.env, "other");
    assert_eq!(env.instance.as_str(), "other");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn extends_overlays_services_of_the_base() {
    let dir = tempfile::tempdir().unwrap();
    write(
            dir.path(),
            "infra.yaml",
            "name: infra\ndescription: team infra\nttl: 1d\nservices:\n  zk:\n    image: envctl/zookeeper:3.8\n    env: { A: \"1\", B: \"{{ env }}\" }\n  cache:\n    image: envctl/redis:7\n",
        );
    let child = write(
            dir.path(),
            "shop.yaml",
            "extends: infra.yaml\nservices:\n  zk:\n    env: { A: \"2\" }\n  web:\n    image: envctl/nginx:1.22\n",
        );
    let env = load(&child, &LoadOptions::default(), &[]).unwrap();
    assert_eq!(env.env, "shop", "the name is never inherited");
    assert_eq!(env.description.as_deref(), Some("team infra"));
    assert_eq!(env.ttl, Some(std::time::Duration::from_secs(86400)));
    let names: Vec<_> = env.services.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["cache", "web", "zk"]);
    let zk = &env.services["zk"];
    assert_eq!(zk.image, "envctl/zookeeper:3.8");
    assert_eq!(zk.env["A"], EnvValue::Plain("2".into()));
    assert_eq!(
        zk.env["B"],
        EnvValue::Plain("shop".into()),
        "bases render with the extending environment's context"
    );
}

#[test]
fn extends_cycles_name_every_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.yaml",
        "extends: b.yaml\nservices:\n  x:\n    image: x\n",
    );
    write(dir.path(), "b.yaml", "extends: c.yaml\nservices: {}\n");
    write(dir.path(), "c.yaml", "extends: b.yaml\nservices: {}\n");
    let err = load(&dir.path().join("a.yaml"), &LoadOptions::default(), &[])
        .err()
        .unwrap();
    let text = super::super::diagnostics::render_all(&err);
    assert!(text.contains("`extends` cycle:"), "{text}");
    assert!(text.contains("b.yaml -> "), "{text}");
    assert!(text.contains("c.yaml -> "), "{text}");
    assert!(text.contains("c.yaml:1:1"), "{text}");
}

#[test]
fn problems_in_a_base_name_the_base_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "infra.yaml",
        "services:\n  zk:\n    image: x\n    ports: [99999]\n  db:\n    imag: y\n",
    );
    let child = write(
        dir.path(),
        "shop.yaml",
        "extends: ./infra.yaml\nservices:\n  web:\n    image: x\n    depends_on: [zk, nope]\n",
    );
    let text = super::super::diagnostics::render_all(
        &load(&child, &LoadOptions::default(), &[]).err().unwrap(),
    );
    assert!(text.contains("infra.yaml:4:"), "{text}");
    assert!(text.contains("port 99999 is out of range"), "{text}");
    assert!(text.contains("infra.yaml:6:5"), "{text}");
    assert!(text.contains("unknown key `imag`"), "{text}");
    assert!(text.contains("shop.yaml:5:"), "{text}");
    let missing = write(
        dir.path(),
        "m.yaml",
        "extends: nothere.yaml\nservices: {}\n",
    );
    let text = super::super::diagnostics::render_all(
        &load(&missing, &LoadOptions::default(), &[]).err().unwrap(),
    );
    assert!(
        text.contains("base environment `nothere.yaml` not found"),
        "{text}"
    );
    assert!(text.contains("m.yaml:1:1"), "{text}");
}

#[test]
fn directory_libraries_declared_in_a_base_are_relative_to_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let base_dir = dir.path().join("team");
    std::fs::create_dir_all(base_dir.join("lib/templates")).unwrap();
    std::fs::write(
        base_dir.join("lib/templates/kv.yaml"),
        "params:\n  mode: { values: [a, b], default: a }\nservice:\n  image: \"kv:{{ mode }}\"\n",
    )
    .unwrap();
    write(
        &base_dir,
        "infra.yaml",
        "libraries:\n  team: { path: lib }\nservices:\n  kv:\n    template: team/kv\n",
    );
    let child = write(
            dir.path(),
            "shop.yaml",
            "extends: team/infra.yaml\nservices:\n  kv:\n    with: { mode: b }\n  other:\n    template: team/kv\n    with: { mode: c }\n",
        );
    let err = load(&child, &LoadOptions::default(), &[]).err().unwrap();
    let text = super::super::diagnostics::render_all(&err);
    assert!(
        text.contains("param `mode` must be one of `a`, `b`, got c"),
        "{text}"
    );
    assert!(text.contains("shop.yaml:7:"), "{text}");
    std::fs::write(
        &child,
        "extends: team/infra.yaml\nservices:\n  kv:\n    with: { mode: b }\n",
    )
    .unwrap();
    let env = load(&child, &LoadOptions::default(), &[]).unwrap();
    let kv = &env.services["kv"];
    assert_eq!(kv.image, "kv:b");
    assert_eq!(kv.template.as_deref(), Some("team/kv"));
    assert!(
        !dir.path().join("envctl.lock").exists(),
        "directory libraries need no lock"
    );
}

#[test]
fn overlay_lists_services_a_feature_may_fork_and_refuses_what_is_not_there() {
    let good = "overlay: { services: [pay] }\nservices:\n  pay: { image: x }\n  zk: { image: y }\n";
    let env = Fixture::new(good, &[])
        .load(&LoadOptions::default())
        .unwrap();
    assert_eq!(env.forkable, Some(vec![ServiceName::new("pay").unwrap()]));

    let typo = "overlay:\n  services: [pay, payy]\n  extra: 1\nservices:\n  pay: { image: x }\n";
    let errors = Fixture::new(typo, &[]).errors();
    for expected in [
        "shop.yaml:2:",
        "`payy` is not a service of this definition",
        "services are: pay",
        "shop.yaml:3:",
        "extra",
    ] {
        assert!(errors.contains(expected), "no `{expected}` in:\n{errors}");
    }
    let errors = Fixture::new("overlay: {}\nservices:\n  pay: { image: x }\n", &[]).errors();
    assert!(
        errors.contains("overlay: missing field `services`"),
        "{errors}"
    );
}

#[test]
fn templates_see_the_overlay_tag() {
    let def = "services:\n  pay:\n    image: x\n    env: { TAG: \"[{{ dubbo_tag }}]\" }\n";
    let f = Fixture::new(def, &[]);
    let plain = f.load(&LoadOptions::default()).unwrap();
    assert_eq!(
        plain.services["pay"].env["TAG"],
        EnvValue::Plain("[]".into())
    );
    let opts = LoadOptions {
        feature: Some("v2".into()),
        dubbo_tag: Some("v2".into()),
        ..LoadOptions::default()
    };
    let tagged = f.load(&opts).unwrap();
    assert_eq!(
        tagged.services["pay"].env["TAG"],
        EnvValue::Plain("[v2]".into())
    );
}
