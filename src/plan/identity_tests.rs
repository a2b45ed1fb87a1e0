//! Planning refuses what another instance owns: volumes by name and labels, objects with our
//! instance label but another env/feature; and uses the volumes of older versions it owns.

use super::*;
use crate::engine::Labels;

fn labels_of(instance: &str, env: &str, feature: &str) -> Labels {
    Labels::from([
        (labels::INSTANCE.to_string(), instance.to_string()),
        (labels::ENV.to_string(), env.to_string()),
        (labels::FEATURE.to_string(), feature.to_string()),
    ])
}

fn volume_source(plan: &Plan, service: &str) -> String {
    plan.actions
        .iter()
        .find_map(|a| match a {
            Action::CreateContainer { service: s, spec } if s.as_str() == service => {
                Some(spec.mounts[0].source.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn a_volume_with_our_name_but_other_labels_is_refused_not_reused() {
    let engine = FakeEngine::new();
    engine.add_image("db:1");
    engine.add_image("api:1");
    // Someone else's volume (another instance's, then one without labels) under our name.
    for labels in [labels_of("other", "other", ""), Labels::new()] {
        engine.remove_volume("shop_data").await.ok();
        engine.create_volume("shop_data", &labels).await.unwrap();
        let errors = plan_on(&engine, &shop()).await.unwrap_err().to_string();
        assert!(errors.contains("volume `shop_data`"), "{errors}");
        assert!(errors.contains("not to instance `shop`"), "{errors}");
    }
    engine.remove_volume("shop_data").await.unwrap();
    engine
        .create_volume("shop_data", &labels_of("shop", "shop", ""))
        .await
        .unwrap();
    let plan = plan_on(&engine, &shop()).await.unwrap();
    assert!(!kinds(&plan).iter().any(|k| k.starts_with("create-volume")));
    assert_eq!(volume_source(&plan, "db"), "shop_data");
}

#[tokio::test]
async fn a_volume_of_an_older_version_is_used_only_by_its_owner() {
    let engine = FakeEngine::new();
    engine.add_image("db:1");
    engine.add_image("api:1");
    // `shop-data`: the old name of `shop` + `data`, made by instance `shop`.
    engine
        .create_volume("shop-data", &labels_of("shop", "shop", ""))
        .await
        .unwrap();
    let plan = plan_on(&engine, &shop()).await.unwrap();
    assert!(!kinds(&plan).iter().any(|k| k.starts_with("create-volume")));
    assert_eq!(volume_source(&plan, "db"), "shop-data");
    // Instance `shop--f1` never takes it, nor would another owner's old volume be taken.
    let mut feature = shop();
    feature.feature = Some("f1".into());
    feature.instance = InstanceId::new("shop", Some("f1")).unwrap();
    let plan = plan_on(&engine, &feature).await.unwrap();
    assert_eq!(volume_source(&plan, "db"), "shop--f1_data");
}

#[tokio::test]
async fn our_instance_label_with_another_env_is_not_ours() {
    let engine = FakeEngine::new();
    engine.add_image("db:1");
    engine.add_image("api:1");
    // An environment file `shop--f1` made these with an older envctl.
    let legacy = labels_of("shop--f1", "shop--f1", "");
    engine
        .create_network("envctl-shop--f1", &legacy)
        .await
        .unwrap();
    let mut feature = shop();
    feature.feature = Some("f1".into());
    feature.instance = InstanceId::new("shop", Some("f1")).unwrap();
    let errors = plan_on(&engine, &feature).await.unwrap_err().to_string();
    assert!(errors.contains("network `envctl-shop--f1`"), "{errors}");
}
