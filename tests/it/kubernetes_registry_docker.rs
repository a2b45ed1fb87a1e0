//! `kubernetes::registry::publish_images`: images built on this machine reach a registry a
//! cluster pulls from, under the very name the manifests give them. Pushed through the real
//! local engine into Debian's docker-registry on a loopback port (the engine pushes to
//! 127.0.0.0/8 without TLS), then pulled back to prove the registry holds the same image.

use envctl::engine::docker::DockerEngine;
use envctl::engine::Engine;
use envctl::kubernetes::images;
use envctl::kubernetes::registry::{publish_images, PublishError};
use envctl::model::{Service, ServiceName};

use crate::support::{self, LocalRegistry, UntagGuard, BUSYBOX};

fn image_id(engine_image: &str) -> String {
    support::docker_stdout(&["image", "inspect", "--format", "{{.Id}}", engine_image])
        .unwrap_or_else(|e| panic!("inspect {engine_image}: {e}"))
}

#[tokio::test]
async fn local_images_are_pushed_under_the_name_the_manifests_use() {
    support::ensure_images(&[(BUSYBOX, "busybox")]);
    let registry = LocalRegistry::start();
    // A path of this test's own: runs sharing the engine never share a pushed name.
    let address = format!(
        "127.0.0.1:{}/{}",
        registry.port,
        support::unique_name("k8sreg")
    );
    let engine = DockerEngine::connect().await.unwrap();
    let services = [("cache", BUSYBOX), ("tool", BUSYBOX)];
    let wanted: Vec<(String, String)> = services
        .iter()
        .map(|(s, i)| (s.to_string(), i.to_string()))
        .collect();
    let pushed_name = images::pushed_name(&address, BUSYBOX);
    let _untag = UntagGuard(vec![pushed_name.clone()]);

    let layers = std::sync::Mutex::new(0usize);
    let published = publish_images(&engine, &address, &wanted, &|_| {
        *layers.lock().unwrap() += 1;
    })
    .await
    .unwrap();

    // One push for the image both services use, named as the manifests name it.
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].services, ["cache", "tool"]);
    assert_eq!(published[0].local, BUSYBOX);
    assert_eq!(published[0].pushed, pushed_name);
    let service = Service::from_image(ServiceName::new("cache").unwrap(), BUSYBOX);
    assert_eq!(
        images::mapped(&service, Some(&address)).name,
        published[0].pushed
    );
    assert!(*layers.lock().unwrap() > 0, "no push progress reported");

    // The registry lists the tag…
    let repository = pushed_name
        .split_once('/')
        .and_then(|(_, path)| path.rsplit_once(':'))
        .map(|(repo, _)| repo.to_string())
        .unwrap();
    let (status, body) = support::protocols::http_get(
        registry.port,
        &format!("/v2/{repo}/tags/list", repo = repository),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"1.35\""), "{body}");
    // …and what a node would pull is the image this machine has.
    let local_id = image_id(BUSYBOX);
    support::docker_cli_ok(&["image", "rm", &pushed_name]);
    assert!(!engine.image_exists(&pushed_name).await.unwrap());
    engine.pull_image(&pushed_name, &|_| {}).await.unwrap();
    assert_eq!(image_id(&pushed_name), local_id);
}

#[tokio::test]
async fn an_image_this_machine_lacks_is_named_with_its_services() {
    let registry = LocalRegistry::start();
    let address = format!("127.0.0.1:{}", registry.port);
    let engine = DockerEngine::connect().await.unwrap();
    let missing = format!("envctl-build/{}:latest", support::unique_name("k8snone"));
    let err = publish_images(
        &engine,
        &address,
        &[("web".to_string(), missing.clone())],
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PublishError::Missing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "image {missing} (service `web`) is not on this machine's Docker engine"
        )),
        "{text}"
    );
    assert!(text.contains("build it first"), "{text}");
}

#[tokio::test]
async fn a_registry_that_does_not_answer_is_a_push_error_naming_image_and_registry() {
    support::ensure_images(&[(BUSYBOX, "busybox")]);
    // A loopback port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}/{}", support::unique_name("k8sdown"));
    let engine = DockerEngine::connect().await.unwrap();
    let _untag = UntagGuard(vec![images::pushed_name(&address, BUSYBOX)]);
    let err = publish_images(
        &engine,
        &address,
        &[("cache".to_string(), BUSYBOX.to_string())],
        &|_| {},
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PublishError::Push { .. }), "{err:?}");
    assert!(
        text.contains(&format!(
            "image {BUSYBOX} (service `cache`) could not be pushed to {address}"
        )),
        "{text}"
    );
}
