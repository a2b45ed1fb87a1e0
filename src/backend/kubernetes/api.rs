//! The few API calls the backend makes, over plain HTTP requests on a `kube::Client` (so
//! every object stays a `serde_json::Value`, as the mapping produces it), and the one place
//! API failures become envctl errors: a 403 says which verb on which resource was refused and
//! that RBAC must allow it; a 409 on apply names the object and the other field manager.

use http::{Method, Request};
use serde_json::Value;

use super::kinds::{Kind, POD};
use crate::engine::{EngineError, EngineResult};

/// The field manager of everything envctl applies.
pub const FIELD_MANAGER: &str = "envctl";

/// A cluster, as the backend talks to it.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
}

/// Which request failed, for messages.
struct Call<'a> {
    /// The RBAC verb: get, list, patch, delete.
    verb: &'static str,
    kind: &'a Kind,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
}

impl Kube {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// The client underneath, for what goes beyond plain requests (`pod_io`: streams,
    /// websockets, typed objects).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The objects of `kind` in `namespace` (every namespace: `None`) whose labels match
    /// `selector` (Kubernetes selector syntax: `key=value,key`).
    pub async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        selector: &str,
    ) -> EngineResult<Vec<Value>> {
        let call = Call {
            verb: "list",
            kind,
            namespace,
            name: None,
        };
        let uri = match selector {
            "" => kind.collection(namespace),
            _ => format!(
                "{}?{}",
                kind.collection(namespace),
                encode(&[("labelSelector", selector)])
            ),
        };
        let list: Value = self.send(&call, Method::GET, uri, None, None).await?;
        Ok(match list.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        })
    }

    /// One object, `None` when it does not exist.
    pub async fn get(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> EngineResult<Option<Value>> {
        let call = Call {
            verb: "get",
            kind,
            namespace,
            name: Some(name),
        };
        match self
            .send(&call, Method::GET, kind.object(namespace, name), None, None)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(EngineError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Server-side apply of `object` as field manager `envctl`, never forced (a field
    /// someone else owns is a conflict to report, not to take). `dry_run`: validated and
    /// answered by the server, persisted nowhere.
    pub async fn apply(&self, object: &Value, dry_run: bool) -> EngineResult<Value> {
        let (kind, namespace, name) = identify(object)?;
        let call = Call {
            verb: "patch",
            kind: &kind,
            namespace: namespace.as_deref(),
            name: Some(&name),
        };
        let mut params = vec![("fieldManager", FIELD_MANAGER), ("force", "false")];
        if dry_run {
            params.insert(0, ("dryRun", "All"));
        }
        let uri = format!(
            "{}?{}",
            kind.object(namespace.as_deref(), &name),
            encode(&params)
        );
        self.send(
            &call,
            Method::PATCH,
            uri,
            Some("application/apply-patch+yaml"),
            Some(object.to_string()),
        )
        .await
    }

    /// A JSON merge patch (null removes a key): for annotations envctl keeps outside the
    /// applied manifest (the lease), so a later apply of the manifest leaves them alone.
    pub async fn merge_patch(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> EngineResult<Value> {
        let call = Call {
            verb: "patch",
            kind,
            namespace,
            name: Some(name),
        };
        let uri = format!(
            "{}?{}",
            kind.object(namespace, name),
            encode(&[("fieldManager", FIELD_MANAGER)])
        );
        self.send(
            &call,
            Method::PATCH,
            uri,
            Some("application/merge-patch+json"),
            Some(patch.to_string()),
        )
        .await
    }

    /// Deletes an object; one already gone is fine. `foreground`: the server removes its
    /// dependents first (a namespace: everything in it) before the object itself goes.
    pub async fn delete(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        foreground: bool,
    ) -> EngineResult<()> {
        let call = Call {
            verb: "delete",
            kind,
            namespace,
            name: Some(name),
        };
        let policy = if foreground {
            "Foreground"
        } else {
            "Background"
        };
        let uri = format!(
            "{}?{}",
            kind.object(namespace, name),
            encode(&[("propagationPolicy", policy)])
        );
        match self
            .send::<Value>(&call, Method::DELETE, uri, None, None)
            .await
        {
            Ok(_) | Err(EngineError::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// The last `tail` lines of a pod's log; `previous`: of its container's previous run
    /// (what a crash-looping container said before it died; the current run may have
    /// printed nothing yet).
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        tail: usize,
        previous: bool,
    ) -> EngineResult<Vec<String>> {
        let log = Kind {
            plural: "pods/log",
            ..POD
        };
        let call = Call {
            verb: "get",
            kind: &log,
            namespace: Some(namespace),
            name: Some(pod),
        };
        let tail = tail.to_string();
        let mut params = vec![("tailLines", tail.as_str())];
        if previous {
            params.push(("previous", "true"));
        }
        let uri = format!(
            "{}/log?{}",
            POD.object(Some(namespace), pod),
            encode(&params)
        );
        let request = build(Method::GET, &uri, None, None).map_err(|e| failure(&call, e))?;
        let text = self
            .client
            .request_text(request)
            .await
            .map_err(|e| failure(&call, e))?;
        Ok(text.lines().map(str::to_string).collect())
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call<'_>,
        method: Method,
        uri: String,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> EngineResult<T> {
        let request = build(method, &uri, content_type, body).map_err(|e| failure(call, e))?;
        self.client
            .request::<T>(request)
            .await
            .map_err(|e| failure(call, e))
    }
}

fn build(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Option<String>,
) -> Result<Request<Vec<u8>>, kube::Error> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    builder
        .body(body.unwrap_or_default().into_bytes())
        .map_err(kube::Error::HttpError)
}

/// `key=value&...`, percent-encoded.
fn encode(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// The kind, namespace and name of a manifest.
fn identify(object: &Value) -> EngineResult<(Kind, Option<String>, String)> {
    let kind_name = object["kind"].as_str().unwrap_or_default();
    let kind = Kind::of(kind_name).ok_or_else(|| EngineError::Api {
        context: "Kubernetes".into(),
        message: format!("envctl does not apply objects of kind `{kind_name}`"),
    })?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
    Ok((kind, namespace, name))
}

/// `deployment `web` in namespace `envctl-a``.
fn describe(call: &Call<'_>) -> String {
    let what = match call.name {
        Some(name) => format!("{} `{name}`", call.kind.word()),
        None => call.kind.plural.to_string(),
    };
    match call.namespace {
        Some(ns) if call.kind.namespaced => format!("{what} in namespace `{ns}`"),
        _ => what,
    }
}

/// Whether `err` is the API server's 403 (as `failure` reports it).
pub fn is_forbidden(err: &EngineError) -> bool {
    matches!(err, EngineError::Api { context, .. } if context.ends_with(FORBIDDEN))
}

const FORBIDDEN: &str = "(403 Forbidden)";

/// An API failure as envctl reports it.
fn failure(call: &Call<'_>, err: kube::Error) -> EngineError {
    let what = describe(call);
    let status = match err {
        kube::Error::Api(status) => status,
        other => {
            return EngineError::Api {
                context: format!("Kubernetes: {} {what}", call.verb),
                message: format!("no answer from the API server: {other}"),
            }
        }
    };
    match status.code {
        404 => EngineError::NotFound {
            what: format!("Kubernetes {what}"),
        },
        403 => {
            let scope = match call.namespace {
                Some(ns) if call.kind.namespaced => format!("in namespace `{ns}`"),
                _ => "at cluster scope".into(),
            };
            EngineError::Api {
                context: format!(
                    "Kubernetes refused to {} {} {scope} {FORBIDDEN}",
                    call.verb, call.kind.plural
                ),
                message: format!(
                    "the kubeconfig's user needs RBAC permission for verb `{}` on resource `{}` {scope} (a Role or ClusterRole bound to that user); the API server said: {}",
                    call.verb, call.kind.plural, status.message
                ),
            }
        }
        409 if call.verb == "patch" => {
            let manager = other_manager(&status.message);
            let owner = match &manager {
                Some(m) => format!("field manager `{m}` owns fields envctl sets"),
                None => "another field manager owns fields envctl sets".into(),
            };
            EngineError::Api {
                context: format!("Kubernetes: applying {what} conflicts (409)"),
                message: format!(
                    "{owner} (someone changed it outside envctl{}); envctl does not take fields over: undo that change, or delete the object if it is yours to lose, then run up again. The API server said: {}",
                    manager
                        .as_deref()
                        .map(|m| format!(", as `{m}`"))
                        .unwrap_or_default(),
                    status.message
                ),
            }
        }
        code => EngineError::Api {
            context: format!("Kubernetes: {} {what}", call.verb),
            message: format!("{} ({code} {})", status.message, status.reason),
        },
    }
}

/// The manager named in an apply conflict: `conflict with "kubectl-edit" using apps/v1: ...`.
fn other_manager(message: &str) -> Option<String> {
    let rest = message.split("conflict with \"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_manager_is_read_from_the_conflict_message() {
        let message = "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas";
        assert_eq!(other_manager(message).as_deref(), Some("kubectl-edit"));
        assert_eq!(other_manager("something else"), None);
    }
}
