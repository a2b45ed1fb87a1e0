//! Issue 13 end to end: overlays and Dubbo tag routing together, on the real engine with the
//! shipped images. A base (ZooKeeper, a gateway, order -> payment) is up; overlay `pay-v2`
//! forks only payment with a changed answer, overlay `cart-x` forks payment too, at the same
//! time. Through the base's gateway: untagged requests reach the base,
//! a tag reaches its own overlay's payment, also through the base's order service (the tag
//! propagates); the two overlays never get each other's traffic; `down` of pay-v2 sends its
//! requests back to the base, and forcing its tag then fails clearly (503).

use crate::dubbo_tags_docker::{
    assert_routed, call, gateway_port, wait_for_answer, ORDER, PAYMENT,
};
use crate::support;

use std::time::Duration;

use support::{assert_ok, Instance};

// `advertise: false`: the tests' advertise host is loopback, which the image never
// registers; the container addresses are what the gateways dial. The overlays change
// payment by `--set answer=...`: their own rendering of the definition, not the base's.
const SHOP: &str = r#"
description: issue 13 scenario - a base shop and payment overlays routed by tag
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
    env: { ANSWER: "{{ set.answer | default(value='base') }}" }
    depends_on: { zookeeper: healthy }
  gateway:
    template: dubbo-consumer
    with: { interface: com.shop.OrderService }
    depends_on: { order: healthy, payment: healthy }
"#;

/// The tag the payment provider that served `reply` registered with.
fn payment_tag(interface: &str, reply: &serde_json::Value) -> String {
    let payment = if interface == PAYMENT {
        &reply["reply"]
    } else {
        &reply["reply"]["downstream"][0]["reply"]
    };
    payment["tag"].as_str().unwrap_or_default().to_string()
}

#[test]
fn overlays_get_their_tagged_traffic_and_the_base_everything_else() {
    support::ensure_images(&[
        ("envctl/zookeeper:3.8", "zookeeper"),
        (support::DUBBO_IMAGE, "dubbo-python"),
    ]);
    // The guard takes every instance of the environment down (--all-features), overlays too.
    let fx = Instance::new("ovr", SHOP)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300));
    let (pay_v2, cart_x) = (fx.instance("pay-v2"), fx.instance("cart-x"));
    assert_ok(&fx.run("up", &[]));
    let base_before = fx.containers(&fx.env);
    assert_eq!(base_before.len(), 4);
    let pay_v2_up = [
        "--feature",
        "pay-v2",
        "--only",
        "payment",
        "--set",
        "answer=v2",
    ];
    assert_ok(&fx.run("up", &pay_v2_up));
    let cart_x_up = [
        "--feature",
        "cart-x",
        "--only",
        "payment",
        "--set",
        "answer=cx",
    ];
    assert_ok(&fx.run("up", &cart_x_up));
    assert_eq!(
        fx.containers(&pay_v2).keys().collect::<Vec<_>>(),
        ["payment"]
    );
    assert_eq!(
        fx.containers(&cart_x).keys().collect::<Vec<_>>(),
        ["payment"]
    );
    let base_gateway = gateway_port(&fx);

    // Untagged through the base: the base's payment only, directly and through order.
    assert_routed(base_gateway, &[], "base", 3);
    // pay-v2: its overlay's changed payment, also one hop down behind the base's untagged
    // order service (which has no pay-v2 copy: the request falls back to it, keeping the tag).
    assert_routed(base_gateway, &[("dubbo-tag", "pay-v2")], "v2", 3);
    // cart-x: its own payment, never pay-v2's (and pay-v2 above never got cart-x's).
    assert_routed(base_gateway, &[("dubbo-tag", "cart-x")], "cx", 3);
    for (interface, tag) in [(PAYMENT, "pay-v2"), (ORDER, "cart-x")] {
        let (_, reply) = call(base_gateway, interface, &[("dubbo-tag", tag)]);
        assert_eq!(payment_tag(interface, &reply), tag, "{reply}");
    }

    // pay-v2 goes alone; its requests fall back to the base within a deadline (its provider
    // unregisters as its container stops), directly and through order; cart-x is untouched.
    assert_ok(&fx.run("down", &["--feature", "pay-v2"]));
    assert!(fx.containers(&pay_v2).is_empty());
    wait_for_answer(base_gateway, &[("dubbo-tag", "pay-v2")], "base", "its down");
    assert_routed(base_gateway, &[("dubbo-tag", "pay-v2")], "base", 2);
    assert_routed(base_gateway, &[("dubbo-tag", "cart-x")], "cx", 2);
    // Forced, the tag with no provider left fails clearly instead of falling back.
    let forced = [("dubbo-tag", "pay-v2"), ("dubbo-force-tag", "true")];
    let (status, reply) = call(base_gateway, PAYMENT, &forced);
    assert_eq!(status, 503, "{reply}");
    let error = reply["error"].as_str().unwrap_or_else(|| panic!("{reply}"));
    assert!(
        error.contains(PAYMENT) && error.contains("pay-v2") && error.contains("dubbo.force.tag"),
        "{error}"
    );
    // The base was never touched by either overlay.
    let base_after = fx.containers(&fx.env);
    for (service, c) in &base_before {
        assert_eq!(base_after[service].id, c.id, "{service}");
    }

    // The base goes with its remaining overlay only by --cascade.
    assert_ok(&fx.run("down", &["--cascade"]));
    assert!(fx.containers(&cart_x).is_empty());
    assert!(fx.containers(&fx.env).is_empty());
}
