//! An instance's lock on a cluster: a coordination.k8s.io/v1 Lease `envctl-lock` in the
//! instance's namespace, so two machines serialise `up`/`down` of one instance.
//!
//! The API server is the arbiter: a create succeeds once (409 for the second), and a
//! replace carries the resourceVersion that was read, so of two machines taking over one
//! ended lease only one succeeds (409 for the other). A lease whose holder crashed frees
//! itself when its duration has passed. `unlock` deletes the lease only in the version this
//! process wrote: after a takeover it is someone else's.

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client};

use super::errors::{is_status, Request};
use crate::engine::EngineResult;
use crate::kubernetes::manifests::namespace_name;
use crate::lock::{EngineLock, LockAttempt};
use crate::model::InstanceId;

/// The Lease's name in every instance namespace.
pub const LEASE_NAME: &str = "envctl-lock";

/// How long a lock lasts without its holder: `up` of a big instance takes minutes, a crashed
/// holder's lock must not block for a day.
const LEASE_SECONDS: i32 = 1800;

/// One attempt at `instance`'s lock for `holder` (`user@host (pid N, envctl up)`). Creates the
/// instance's namespace, labelled as `up` labels it, when it does not exist yet.
pub async fn try_lock(
    client: &Client,
    instance: &InstanceId,
    holder: &str,
) -> EngineResult<LockAttempt> {
    let namespace = namespace_name(instance.as_str());
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let request = |verb| Request {
        verb,
        resource: "leases",
        kind: "lease",
        namespace: &namespace,
        name: LEASE_NAME,
    };
    let now = Utc::now();
    let found = leases
        .get_opt(LEASE_NAME)
        .await
        .map_err(|e| request("get").error(e))?;
    let Some(found) = found else {
        ensure_namespace(client, instance, &namespace).await?;
        let created = leases
            .create(&PostParams::default(), &lease(None, holder, now))
            .await;
        return match created {
            Ok(mine) => Ok(acquired(&namespace, &mine)),
            // Someone created it between our read and our create: theirs.
            Err(e) if is_status(&e, 409) => held_by_current(&leases, &request("get")).await,
            Err(e) => Err(request("create").error(e)),
        };
    };
    if let Some(held) = held(&found, now) {
        return Ok(held);
    }
    // Ended (or released without being deleted): take it over in the version we read.
    let replaced = leases
        .replace(
            LEASE_NAME,
            &PostParams::default(),
            &lease(Some(&found), holder, now),
        )
        .await;
    match replaced {
        Ok(mine) => Ok(acquired(&namespace, &mine)),
        Err(e) if is_status(&e, 409) => held_by_current(&leases, &request("get")).await,
        Err(e) => Err(request("update").error(e)),
    }
}

/// Releases a lock `try_lock` gave: deletes the lease in the version it wrote (someone who
/// took an ended lease over keeps theirs; a lease already gone is fine).
pub async fn unlock(client: &Client, lock: EngineLock) -> EngineResult<()> {
    let (namespace, version) = parse_lock_name(&lock.name);
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams {
        preconditions: version.map(|v| Preconditions {
            resource_version: Some(v.to_string()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match leases.delete(LEASE_NAME, &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
        Err(e) => Err(Request {
            verb: "delete",
            resource: "leases",
            kind: "lease",
            namespace,
            name: LEASE_NAME,
        }
        .error(e)),
    }
}

/// `EngineLock::name`: `<namespace>/envctl-lock@<resourceVersion>`, all `unlock` needs.
fn lock_name(namespace: &str, version: Option<&str>) -> String {
    match version {
        Some(version) => format!("{namespace}/{LEASE_NAME}@{version}"),
        None => format!("{namespace}/{LEASE_NAME}"),
    }
}

fn parse_lock_name(name: &str) -> (&str, Option<&str>) {
    let (namespace, rest) = name.split_once('/').unwrap_or((name, ""));
    (namespace, rest.split_once('@').map(|(_, version)| version))
}

fn acquired(namespace: &str, lease: &Lease) -> LockAttempt {
    LockAttempt::Acquired(EngineLock {
        name: lock_name(namespace, lease.metadata.resource_version.as_deref()),
    })
}

/// `Held` when `lease` has a holder whose time has not run out at `now`.
fn held(lease: &Lease, now: DateTime<Utc>) -> Option<LockAttempt> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .and_then(|t| DateTime::<Utc>::from_timestamp_micros(t.0.as_microsecond()))?;
    let ends = renewed + chrono::Duration::seconds(spec.lease_duration_seconds.unwrap_or(0).into());
    (ends > now).then(|| LockAttempt::Held {
        holder: format!(
            "held by {holder} until {}",
            crate::lifetime::format_time(ends)
        ),
    })
}

/// After a lost race: whoever holds the lease now.
async fn held_by_current(leases: &Api<Lease>, get: &Request<'_>) -> EngineResult<LockAttempt> {
    let now = Utc::now();
    let current = leases.get_opt(LEASE_NAME).await.map_err(|e| get.error(e))?;
    Ok(current
        .and_then(|l| held(&l, now))
        .unwrap_or(LockAttempt::Held {
            holder: "another envctl (just released)".into(),
        }))
}

/// The lease for `holder` from `now`; over `previous` (its resourceVersion: the replace
/// fails if anyone wrote it since).
fn lease(previous: Option<&Lease>, holder: &str, now: DateTime<Utc>) -> Lease {
    let at = Timestamp::from_microsecond(now.timestamp_micros())
        .map(MicroTime)
        .ok();
    let transitions = previous
        .and_then(|p| p.spec.as_ref()?.lease_transitions)
        .map_or(0, |n| n + 1);
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.into()),
            resource_version: previous.and_then(|p| p.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: at.clone(),
            renew_time: at,
            lease_transitions: previous.map(|_| transitions),
            ..LeaseSpec::default()
        }),
    }
}

/// Creates the instance's namespace with its ownership labels unless it exists (the lock
/// comes before `up` creates anything).
async fn ensure_namespace(
    client: &Client,
    instance: &InstanceId,
    namespace: &str,
) -> EngineResult<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let request = |verb| Request {
        verb,
        resource: "namespaces",
        kind: "namespace",
        namespace,
        name: namespace,
    };
    let found = namespaces
        .get_opt(namespace)
        .await
        .map_err(|e| request("get").error(e))?;
    if found.is_some() {
        return Ok(());
    }
    let created = namespaces
        .create(
            &PostParams::default(),
            &namespace_object(instance, namespace),
        )
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 409) => Ok(()),
        Err(e) => Err(request("create").error(e)),
    }
}

/// The labels `manifests` gives an instance's Namespace, so the later server-side apply of
/// the Namespace changes nothing but what it adds.
fn namespace_object(instance: &InstanceId, namespace: &str) -> Namespace {
    let labels = crate::kubernetes::manifests::instance_labels(instance);
    Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_api::{client, json, status};
    use super::*;
    use serde_json::{json, Value};

    const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/envctl-shop--f1/leases";

    fn instance() -> InstanceId {
        InstanceId::new("shop", Some("f1")).unwrap()
    }

    fn stored(holder: &str, renewed: DateTime<Utc>, version: &str) -> Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": { "name": LEASE_NAME, "namespace": "envctl-shop--f1", "resourceVersion": version },
            "spec": {
                "holderIdentity": holder, "leaseDurationSeconds": 1800,
                "renewTime": renewed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            }
        })
    }

    /// What the server stores when asked to: the body, with a new resourceVersion.
    fn echo(body: &[u8], version: &str) -> Value {
        let mut lease: Value = serde_json::from_slice(body).unwrap();
        lease["metadata"]["resourceVersion"] = json!(version);
        lease
    }

    #[tokio::test]
    async fn a_free_instance_gets_its_namespace_and_a_lease() {
        let (client, log) = client(|seen, _| match seen.line.split_once(' ').unwrap() {
            ("GET", _) => status(404, "NotFound", "not found"),
            ("POST", "/api/v1/namespaces?") => json(201, seen.json()),
            ("POST", _) => json(201, echo(&seen.body, "7")),
            other => panic!("unexpected {other:?}"),
        });
        let LockAttempt::Acquired(lock) = try_lock(&client, &instance(), "alice@a (pid 1)")
            .await
            .unwrap()
        else {
            panic!("a free lock must be acquired");
        };
        assert_eq!(lock.name, "envctl-shop--f1/envctl-lock@7");
        assert_eq!(
            log.lines(),
            [
                format!("GET {LEASE_PATH}/envctl-lock"),
                "GET /api/v1/namespaces/envctl-shop--f1".into(),
                "POST /api/v1/namespaces?".into(),
                format!("POST {LEASE_PATH}?"),
            ]
        );
        let all = log.all();
        let labels = &all[2].json()["metadata"]["labels"];
        assert_eq!(labels["io.envctl.instance"], "shop--f1");
        assert_eq!(labels["io.envctl.env"], "shop");
        assert_eq!(labels["io.envctl.feature"], "f1");
        let spec = &all[3].json()["spec"];
        assert_eq!(spec["holderIdentity"], "alice@a (pid 1)");
        assert_eq!(spec["leaseDurationSeconds"], 1800);
        assert!(spec["renewTime"].as_str().unwrap().ends_with('Z'), "{spec}");
    }

    /// The lock may create the namespace before `up` applies its manifest: the same labels,
    /// so nothing of the instance's ownership changes when `up` does.
    #[test]
    fn the_lock_makes_the_namespace_the_manifests_describe() {
        for feature in [None, Some("f1")] {
            let instance = InstanceId::new("shop", feature).unwrap();
            let env = crate::model::Environment {
                env: "shop".into(),
                feature: feature.map(str::to_string),
                instance: instance.clone(),
                description: None,
                ttl: None,
                source: "/defs/shop.yaml".into(),
                services: Default::default(),
                local: Default::default(),
                overlay: None,
                forkable: None,
            };
            let rendered = crate::kubernetes::manifests(&env).unwrap();
            let namespace = namespace_name(instance.as_str());
            let made = serde_json::to_value(namespace_object(&instance, &namespace)).unwrap();
            assert_eq!(made["metadata"]["name"], rendered[0]["metadata"]["name"]);
            assert_eq!(
                made["metadata"]["labels"],
                rendered[0]["metadata"]["labels"]
            );
        }
    }

    #[tokio::test]
    async fn a_running_lease_of_someone_else_is_held() {
        let renewed = Utc::now() - chrono::Duration::minutes(5);
        let (client, log) = client(move |_, _| json(200, stored("bob@b (pid 9)", renewed, "3")));
        match try_lock(&client, &instance(), "alice@a").await.unwrap() {
            LockAttempt::Held { holder } => {
                assert!(
                    holder.starts_with("held by bob@b (pid 9) until "),
                    "{holder}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(log.lines().len(), 1, "reading is all it takes");
    }

    #[tokio::test]
    async fn an_ended_lease_is_taken_over_in_the_version_read() {
        let renewed = Utc::now() - chrono::Duration::hours(1);
        let (client, log) = client(move |seen, _| match seen.line.split_once(' ').unwrap().0 {
            "GET" => json(200, stored("bob@b", renewed, "3")),
            "PUT" => json(200, echo(&seen.body, "4")),
            other => panic!("unexpected {other}"),
        });
        let LockAttempt::Acquired(lock) = try_lock(&client, &instance(), "alice@a").await.unwrap()
        else {
            panic!("an ended lease must be taken over");
        };
        assert_eq!(lock.name, "envctl-shop--f1/envctl-lock@4");
        assert_eq!(
            log.lines(),
            [
                format!("GET {LEASE_PATH}/envctl-lock"),
                format!("PUT {LEASE_PATH}/envctl-lock?"),
            ]
        );
        let replaced = log.all()[1].json();
        assert_eq!(replaced["metadata"]["resourceVersion"], "3");
        assert_eq!(replaced["spec"]["holderIdentity"], "alice@a");
    }

    #[tokio::test]
    async fn losing_the_takeover_race_reports_the_winner() {
        let ended = Utc::now() - chrono::Duration::hours(1);
        let (client, log) = client(move |seen, index| match (seen.line.as_str(), index) {
            (_, 0) => json(200, stored("bob@b", ended, "3")),
            (line, 1) if line.starts_with("PUT") => {
                status(409, "Conflict", "the object has been modified")
            }
            (_, 2) => json(200, stored("carol@c", Utc::now(), "4")),
            other => panic!("unexpected {other:?}"),
        });
        match try_lock(&client, &instance(), "alice@a").await.unwrap() {
            LockAttempt::Held { holder } => assert!(holder.contains("carol@c"), "{holder}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(log.lines().len(), 3);
    }

    #[tokio::test]
    async fn a_forbidden_lease_names_the_rbac_rule() {
        let (client, _) = client(|_, _| status(403, "Forbidden", "leases is forbidden"));
        let err = try_lock(&client, &instance(), "alice@a")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("lease envctl-shop--f1/envctl-lock"), "{err}");
        assert!(err.contains("verb `get` on resource `leases`"), "{err}");
    }

    #[tokio::test]
    async fn unlock_deletes_only_the_version_it_wrote_and_a_gone_lease_is_fine() {
        let (client, log) = client(|_, index| match index {
            0 => json(
                200,
                json!({ "kind": "Status", "apiVersion": "v1", "status": "Success" }),
            ),
            _ => status(404, "NotFound", "gone"),
        });
        let lock = || EngineLock {
            name: "envctl-shop--f1/envctl-lock@4".into(),
        };
        unlock(&client, lock()).await.unwrap();
        unlock(&client, lock()).await.unwrap();
        let all = log.all();
        assert_eq!(all[0].line, format!("DELETE {LEASE_PATH}/envctl-lock?"));
        assert_eq!(all[0].json()["preconditions"]["resourceVersion"], "4");
        assert_eq!(all.len(), 2);
    }
}
