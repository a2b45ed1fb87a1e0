//! Images a cluster cannot pull: the ones built on this machine. Docker runs them from the
//! local engine; a cluster's nodes pull from a registry, so `up` pushes them to the
//! project's `registry:` (`registry::publish_images`) and the manifests name them there.

use crate::model::{Environment, PullPolicy, Service};

/// The repository prefix of the images scripts/build-images.sh builds on this machine.
pub const LOCAL_PREFIX: &str = "envctl/";

/// Whether `service`'s image exists only on this machine: it has `build:` (tagged
/// `envctl-build/...` or its `image:` by `up`), or it is one of envctl's own images.
pub fn is_local_only(service: &Service) -> bool {
    service.build.is_some() || service.image.starts_with(LOCAL_PREFIX)
}

/// (service, image) of every service whose image exists only on this machine.
pub fn local_only_images(env: &Environment) -> Vec<(String, String)> {
    env.services
        .values()
        .filter(|s| is_local_only(s))
        .map(|s| (s.name.to_string(), s.image.clone()))
        .collect()
}

/// The name of local `image` once pushed to `registry`: `<registry>/<name>:<tag>`, where a
/// registry host `image` already names (`myhost:5000/team/web:1`) is replaced, not nested.
pub fn pushed_name(registry: &str, image: &str) -> String {
    let registry = registry.trim_end_matches('/');
    let path = match image.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => rest,
        _ => image,
    };
    let has_tag = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':') || last.contains('@'));
    if has_tag {
        format!("{registry}/{path}")
    } else {
        format!("{registry}/{path}:latest")
    }
}

/// Docker's rule: a first path component with a dot or a port, or `localhost`, is a registry.
fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// How the manifests name `service`'s image, and when nodes pull it.
pub struct MappedImage {
    pub name: String,
    pub pull_policy: &'static str,
    /// Where the image comes from, for the workload's `io.envctl.local-image` annotation;
    /// `None` for an image pulled from wherever its name says.
    pub local_note: Option<String>,
}

/// `service`'s image in the manifests: as named, or (local-only, with a registry) as pushed.
pub fn mapped(service: &Service, registry: Option<&str>) -> MappedImage {
    let pull_policy = pull_policy(service.pull);
    if !is_local_only(service) {
        return MappedImage {
            name: service.image.clone(),
            pull_policy,
            local_note: None,
        };
    }
    match registry {
        None => MappedImage {
            name: service.image.clone(),
            pull_policy,
            local_note: Some(format!(
                "built on this machine, in no registry: set `registry:` in envctl.yaml (or {}) and `up` pushes it there",
                crate::project::REGISTRY_VAR
            )),
        },
        Some(registry) => MappedImage {
            name: pushed_name(registry, &service.image),
            // The tag is reused for new content (`build:` is always `latest`; build-images.sh
            // rebuilds in place), so a node's cached copy may be stale: ask the registry.
            pull_policy: match service.pull {
                PullPolicy::Never => "Never",
                _ => "Always",
            },
            local_note: Some(format!(
                "built on this machine, pushed to {registry} by up"
            )),
        },
    }
}

pub fn pull_policy(pull: PullPolicy) -> &'static str {
    match pull {
        PullPolicy::Missing => "IfNotPresent",
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
    }
}

/// Local-only images and no registry to push them to: `up` on a cluster cannot start them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} built on this machine, which the cluster cannot pull:\n{}\nset `registry: HOST[:PORT]` in envctl.yaml (or {}=HOST[:PORT]) to a registry this machine can push to and the cluster's nodes pull from; `up` then tags and pushes them there", if .images.len() == 1 { "1 image is" } else { "images are" }, .images.iter().map(|(service, image)| format!("  service `{service}`: {image}")).collect::<Vec<_>>().join("\n"), crate::project::REGISTRY_VAR)]
pub struct NoRegistry {
    /// (service, image).
    pub images: Vec<(String, String)>,
}

/// Refuses an environment with local-only images when no registry is set.
pub fn require_registry(env: &Environment, registry: Option<&str>) -> Result<(), NoRegistry> {
    let images = local_only_images(env);
    if registry.is_some() || images.is_empty() {
        Ok(())
    } else {
        Err(NoRegistry { images })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BuildSpec, ServiceName};

    fn service(name: &str, image: &str) -> Service {
        Service::from_image(ServiceName::new(name).unwrap(), image)
    }

    #[test]
    fn pushed_names_keep_path_and_tag_and_replace_a_registry_host() {
        for (image, want) in [
            ("envctl/redis:7", "reg:5000/envctl/redis:7"),
            (
                "envctl-build/shop-web:latest",
                "reg:5000/envctl-build/shop-web:latest",
            ),
            ("web", "reg:5000/web:latest"),
            ("old.example.com/team/web:1", "reg:5000/team/web:1"),
            ("localhost:5000/web", "reg:5000/web:latest"),
            ("team/web@sha256:abc", "reg:5000/team/web@sha256:abc"),
        ] {
            assert_eq!(pushed_name("reg:5000/", image), want, "{image}");
        }
        assert_eq!(
            pushed_name("registry.example.com/shop", "envctl/redis:7"),
            "registry.example.com/shop/envctl/redis:7"
        );
    }

    #[test]
    fn local_only_means_built_here_or_envctls_own() {
        let mut built = service("web", "envctl-build/shop-web:latest");
        built.build = Some(BuildSpec {
            context: "/defs/web".into(),
            dockerfile: "Dockerfile".into(),
            args: Default::default(),
        });
        assert!(is_local_only(&built));
        assert!(is_local_only(&service("cache", "envctl/redis:7")));
        assert!(!is_local_only(&service("cache", "redis:7")));
        assert!(!is_local_only(&service(
            "x",
            "registry.example.com/envctl/x:1"
        )));

        let mapped_pulled = mapped(&service("cache", "redis:7"), Some("reg"));
        assert_eq!(mapped_pulled.name, "redis:7");
        assert_eq!(mapped_pulled.pull_policy, "IfNotPresent");
        assert!(mapped_pulled.local_note.is_none());
        let pushed = mapped(&built, Some("reg"));
        assert_eq!(pushed.name, "reg/envctl-build/shop-web:latest");
        assert_eq!(pushed.pull_policy, "Always");
        let unpushed = mapped(&built, None);
        assert_eq!(unpushed.name, "envctl-build/shop-web:latest");
        assert!(unpushed.local_note.unwrap().contains("registry:"));
    }

    #[test]
    fn local_images_without_a_registry_are_refused_listing_each_and_what_to_set() {
        use std::collections::BTreeMap;
        let services = [
            service("cache", "envctl/redis:7"),
            service("db", "mysql:8"),
            service("zk", "envctl/zookeeper:3.8"),
        ];
        let env = Environment {
            env: "shop".into(),
            feature: None,
            instance: crate::model::InstanceId::new("shop", None).unwrap(),
            description: None,
            ttl: None,
            source: "/defs/shop.yaml".into(),
            services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
            local: BTreeMap::new(),
            overlay: None,
            forkable: None,
        };
        assert_eq!(
            local_only_images(&env),
            [
                ("cache".to_string(), "envctl/redis:7".to_string()),
                ("zk".to_string(), "envctl/zookeeper:3.8".to_string()),
            ]
        );
        assert_eq!(require_registry(&env, Some("reg:5000")), Ok(()));
        assert_eq!(
            require_registry(&env, None).unwrap_err().to_string(),
            "images are built on this machine, which the cluster cannot pull:\n  service `cache`: envctl/redis:7\n  service `zk`: envctl/zookeeper:3.8\nset `registry: HOST[:PORT]` in envctl.yaml (or ENVCTL_REGISTRY=HOST[:PORT]) to a registry this machine can push to and the cluster's nodes pull from; `up` then tags and pushes them there"
        );
    }
}
