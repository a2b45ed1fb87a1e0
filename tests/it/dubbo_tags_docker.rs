//! Dubbo tag routing in envctl/dubbo-python, on the real engine, without overlays: one
//! instance runs ZooKeeper, a gateway, an untagged order service that calls payment, and
//! three payment providers side by side (untagged "base", tag pay-v2, tag cart-x). Through the
//! gateway's published port we check Java Dubbo's rules (TagStateRouter): untagged requests
//! reach only the base, a tag reaches its own provider (also one hop down, through the base
//! order service: the tag propagates), never another tag's, falls back to the base when its
//! provider is missing, and fails clearly when forced; stopping the tagged provider sends its
//! traffic back to the base.

use crate::support;

use std::time::{Duration, Instant};

use support::{protocols, Instance};

pub(crate) const ORDER: &str = "com.shop.OrderService";
pub(crate) const PAYMENT: &str = "com.shop.PaymentService";

fn ensure_images() {
    support::ensure_images(&[
        ("envctl/zookeeper:3.8", "zookeeper"),
        (support::DUBBO_IMAGE, "dubbo-python"),
    ]);
}

// `advertise: false`: the tests' advertise host is loopback, which the image never
// registers; the container addresses are what the gateway (and the readiness check) dial.
const SHOP: &str = r#"
description: payment providers with and without tags behind an untagged order service
services:
  zookeeper:
    template: zookeeper
  order:
    template: dubbo-provider
    with: { interface: com.shop.OrderService, advertise: false, downstream: [com.shop.PaymentService] }
    depends_on: { zookeeper: healthy }
  payment:
    template: dubbo-provider
    with: { interface: com.shop.PaymentService, advertise: false }
    env: { ANSWER: base }
    depends_on: { zookeeper: healthy }
  payment-v2:
    template: dubbo-provider
    with: { interface: com.shop.PaymentService, advertise: false, tag: pay-v2 }
    env: { ANSWER: pay-v2 }
    depends_on: { zookeeper: healthy }
  payment-cx:
    template: dubbo-provider
    with: { interface: com.shop.PaymentService, advertise: false, tag: cart-x }
    env: { ANSWER: cart-x }
    depends_on: { zookeeper: healthy }
  gateway:
    template: dubbo-consumer
    with: { interface: com.shop.OrderService }
    depends_on: { order: healthy, payment: healthy, payment-v2: healthy, payment-cx: healthy }
"#;

/// The gateway's published port.
pub(crate) fn gateway_port(fixture: &Instance) -> u16 {
    fixture.host_port("gateway", 8080)
}

/// GET /call/<interface>/greet through the gateway with `headers`: status and JSON body.
pub(crate) fn call(
    port: u16,
    interface: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let path = format!("/call/{interface}/greet?data=tags");
    let (status, body) = protocols::http_get_with_headers("127.0.0.1", port, &path, headers)
        .unwrap_or_else(|e| panic!("GET {path} {headers:?}: {e}\n{}", gateway_logs(port)));
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

/// The last lines of the gateway's log (the container publishing `port`), for a failure.
fn gateway_logs(port: u16) -> String {
    let publish = format!("publish={port}");
    let id = support::docker_stdout(&["ps", "-q", "--filter", &publish]).unwrap_or_default();
    let out = support::docker_cli(&["logs", "--tail", "40", id.trim()]);
    format!(
        "gateway log:\n{}{}",
        support::text(&out.stdout),
        support::text(&out.stderr)
    )
}

/// The ANSWER of the payment provider that served a call, made directly or through order.
#[track_caller]
pub(crate) fn payment_answer(interface: &str, reply: &serde_json::Value) -> String {
    let payment = if interface == ORDER {
        let hops = reply["reply"]["downstream"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply}"));
        assert_eq!(hops.len(), 1, "{reply}");
        assert_eq!(hops[0]["interface"], PAYMENT, "{reply}");
        // The order service is untagged: every request reaches the base one.
        assert_eq!(reply["reply"]["tag"], "", "{reply}");
        &hops[0]["reply"]
    } else {
        &reply["reply"]
    };
    assert_eq!(payment["interface"], PAYMENT, "{reply}");
    payment["answer"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"))
        .to_string()
}

/// Asserts that requests with `headers` reach the payment provider answering `expected`,
/// directly and through the order service, `times` times each.
#[track_caller]
pub(crate) fn assert_routed(port: u16, headers: &[(&str, &str)], expected: &str, times: usize) {
    for interface in [PAYMENT, ORDER] {
        for _ in 0..times {
            let (status, reply) = call(port, interface, headers);
            assert_eq!(status, 200, "{headers:?} to {interface}: {reply}");
            assert_eq!(
                payment_answer(interface, &reply),
                expected,
                "{headers:?} to {interface}: {reply}"
            );
        }
    }
}

#[test]
fn requests_reach_the_provider_of_their_tag_through_every_hop() {
    ensure_images();
    let fixture = Instance::new("dtag", SHOP)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300));
    fixture.envctl_ok(&["up", &fixture.env]);
    let port = gateway_port(&fixture);

    // Untagged: the base only, never a tagged provider.
    assert_routed(port, &[], "base", 3);
    // A tag reaches its own provider, also behind the untagged order service (the tag is
    // passed on as the triple header `dubbo.tag`), and the hop shows the tag it came with.
    assert_routed(port, &[("dubbo-tag", "pay-v2")], "pay-v2", 3);
    let (_, through_order) = call(port, ORDER, &[("dubbo-tag", "pay-v2")]);
    assert_eq!(
        through_order["reply"]["request_tag"], "pay-v2",
        "{through_order}"
    );
    let payment = &through_order["reply"]["downstream"][0]["reply"];
    assert_eq!(payment["tag"], "pay-v2", "{through_order}");
    assert_eq!(payment["request_tag"], "pay-v2", "{through_order}");
    // cart-x traffic never reaches pay-v2, nor pay-v2 traffic cart-x.
    assert_routed(port, &[("dubbo-tag", "cart-x")], "cart-x", 3);
    // A tag nobody registered falls back to the base...
    assert_routed(port, &[("dubbo-tag", "no-such-tag")], "base", 1);
    // ...unless forced: then the gateway says which interface and tag found no provider.
    let forced = [("dubbo-tag", "no-such-tag"), ("dubbo-force-tag", "true")];
    let (status, reply) = call(port, PAYMENT, &forced);
    assert_eq!(status, 503, "{reply}");
    let error = reply["error"].as_str().unwrap_or_else(|| panic!("{reply}"));
    assert!(
        error.contains(PAYMENT)
            && error.contains("no-such-tag")
            && error.contains("dubbo.force.tag"),
        "{error}"
    );
    // Forced with a tag that has a provider is just routed.
    let (status, reply) = call(
        port,
        PAYMENT,
        &[("dubbo-tag", "cart-x"), ("dubbo-force-tag", "true")],
    );
    assert_eq!(
        (status, payment_answer(PAYMENT, &reply)),
        (200, "cart-x".into()),
        "{reply}"
    );

    // The pay-v2 provider goes away (it unregisters on SIGTERM): its requests fall back to
    // the base, within a deadline, directly and through order; cart-x is untouched.
    let containers = fixture.containers(&fixture.env);
    let v2 = &containers["payment-v2"].name;
    support::docker_cli_ok(&["stop", v2]);
    wait_for_answer(
        port,
        &[("dubbo-tag", "pay-v2")],
        "base",
        &format!("stopping {v2}"),
    );
    assert_routed(port, &[("dubbo-tag", "pay-v2")], "base", 1);
    assert_routed(port, &[("dubbo-tag", "cart-x")], "cart-x", 1);
}

#[test]
fn tag_parameters_the_image_cannot_honour_are_refused_before_anything_is_made() {
    let cases = [
        (
            "with: { interface: org.envctl.T, tag: pay-v2, registration: library }",
            "cannot register dubbo.tag",
        ),
        (
            "with: { interface: org.envctl.T, downstream: [\"a.B,c.D\"] }",
            "each entry is one interface name",
        ),
    ];
    for (with, expected) in cases {
        // Refused definitions: nothing can exist under them for the guard to take down.
        let fixture = Instance::without_definition("dtagbad").with_shared_templates();
        fixture.define_refused(
            &fixture.env,
            &format!("services:\n  p:\n    template: dubbo-provider\n    {with}\n"),
        );
        let out = fixture.envctl(&["render", &fixture.env]);
        let stderr = support::text(&out.stderr);
        assert!(!out.status.success(), "{with}: rendered");
        assert!(stderr.contains(expected), "{with}: {stderr}");
    }
}

/// Polls (30 s at most) until payment, called through the gateway with `headers`, gives
/// `answer`: a provider that went away leaves the registry within a deadline, not at once.
#[track_caller]
pub(crate) fn wait_for_answer(port: u16, headers: &[(&str, &str)], answer: &str, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, reply) = call(port, PAYMENT, headers);
        if status == 200 && payment_answer(PAYMENT, &reply) == answer {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{headers:?} still not answered by {answer} 30 s after {after}: {status} {reply}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
