//! Planning an overlay: it joins its base's network (never creates one), refuses a base that
//! is not up, labels what it makes with base and tag, and takes no network-wide names.

use std::collections::BTreeMap;

use super::tests::{env_of, kinds, plan_on, realize, svc};
use super::*;
use crate::engine::fake::FakeEngine;
use crate::engine::Engine;
use crate::model::ServiceName;

fn shop(feature: Option<&str>) -> Environment {
    let mut payment = svc("payment", "pay:1");
    payment.depends_on = BTreeMap::from([
        (ServiceName::new("zookeeper").unwrap(), Condition::Healthy),
        (ServiceName::new("payment-db").unwrap(), Condition::Started),
    ]);
    payment.aliases = vec!["pay".into()];
    let mut db = svc("payment-db", "db:1");
    db.aliases = vec!["pdb".into()];
    env_of(
        "shop",
        feature,
        vec![
            svc("zookeeper", "zk:1"),
            db,
            payment,
            svc("order", "order:1"),
        ],
    )
}

fn overlay() -> Environment {
    let mut env = shop(Some("pay-v2"));
    let registry = crate::dubbo::registry::may_be_registry;
    env.into_overlay(None, &["payment".into()], &registry)
        .unwrap();
    env
}

#[tokio::test]
async fn an_overlay_needs_its_base_up_and_never_makes_a_network() {
    let engine = FakeEngine::new();
    let err = plan_on(&engine, &overlay()).await.unwrap_err().to_string();
    assert!(
        err.contains("base instance `shop`, which is not up") && err.contains("envctl up shop"),
        "{err}"
    );

    let base = plan_on(&engine, &shop(None)).await.unwrap();
    realize(&engine, &base).await;
    let plan = plan_on(&engine, &overlay()).await.unwrap();
    assert_eq!(
        kinds(&plan),
        ["create payment-db", "create payment"],
        "only the forked service and its private dependency; no network"
    );
    assert_eq!(plan.network, "envctl-shop");
    realize(&engine, &plan).await;
    assert!(plan_on(&engine, &overlay()).await.unwrap().is_empty());
    // The base is untouched by its overlay: its plan stays empty.
    assert!(plan_on(&engine, &shop(None)).await.unwrap().is_empty());
}

#[tokio::test]
async fn overlay_containers_carry_base_and_tag_and_take_no_shared_names() {
    let engine = FakeEngine::new();
    realize(&engine, &plan_on(&engine, &shop(None)).await.unwrap()).await;
    let plan = plan_on(&engine, &overlay()).await.unwrap();
    let spec = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::CreateContainer { service, spec } if service.as_str() == "payment" => {
                Some(spec)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(spec.name, "shop--pay-v2-payment");
    assert_eq!(spec.network, "envctl-shop");
    assert!(spec.aliases.is_empty(), "{:?}", spec.aliases);
    assert_eq!(
        spec.links,
        [
            "shop--pay-v2-payment-db:payment-db",
            "shop--pay-v2-payment-db:pdb"
        ]
    );
    assert_eq!(spec.labels[labels::BASE], "shop");
    assert_eq!(spec.labels[labels::TAG], "pay-v2");
    assert!(spec.env.contains(&"DUBBO_PROVIDER_TAG=pay-v2".to_string()));
    assert!(spec.env.contains(&"DUBBO_CONSUMER_TAG=pay-v2".to_string()));
}

#[tokio::test]
async fn a_full_copy_is_not_turned_into_an_overlay_in_place() {
    let engine = FakeEngine::new();
    realize(&engine, &plan_on(&engine, &shop(None)).await.unwrap()).await;
    realize(
        &engine,
        &plan_on(&engine, &shop(Some("pay-v2"))).await.unwrap(),
    )
    .await;
    let err = plan_on(&engine, &overlay()).await.unwrap_err().to_string();
    assert!(
        err.contains("`shop--pay-v2` exists as a full copy")
            && err.contains("envctl down shop --feature pay-v2"),
        "{err}"
    );
}

#[tokio::test]
async fn an_overlay_brought_up_as_a_full_copy_converges_into_one() {
    let engine = FakeEngine::new();
    realize(&engine, &plan_on(&engine, &shop(None)).await.unwrap()).await;
    realize(&engine, &plan_on(&engine, &overlay()).await.unwrap()).await;
    let full = shop(Some("pay-v2"));
    let plan = plan_on(&engine, &full).await.unwrap();
    assert!(
        kinds(&plan).contains(&"create-network envctl-shop--pay-v2".to_string()),
        "{:?}",
        kinds(&plan)
    );
    realize(&engine, &plan).await;
    assert!(plan_on(&engine, &full).await.unwrap().is_empty());
    let payment = engine
        .list_containers(&crate::engine::LabelFilter::instance("shop--pay-v2"))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.labels.get(labels::SERVICE).map(String::as_str) == Some("payment"))
        .unwrap();
    assert!(!payment.labels.contains_key(labels::BASE));
}

#[tokio::test]
async fn a_network_of_someone_else_is_refused_for_an_overlay_too() {
    let engine = FakeEngine::new();
    let stranger = crate::engine::Labels::new();
    engine
        .create_network("envctl-shop", &stranger)
        .await
        .unwrap();
    let err = plan_on(&engine, &overlay()).await.unwrap_err().to_string();
    assert!(
        err.contains(
            "network `envctl-shop` exists but was not created by envctl for instance `shop`"
        ),
        "{err}"
    );
}
