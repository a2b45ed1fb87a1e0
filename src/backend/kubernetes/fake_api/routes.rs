//! The fake server's request handling: path -> kind/namespace/name, the RBAC and conflict
//! knobs, then GET / LIST / POST (create) / PUT (replace) / PATCH (apply or merge) / DELETE
//! (with a resourceVersion precondition) / pod log on the store.

use serde_json::{json, Value};

use super::super::kinds::Kind;
use super::{controllers, Recorded, State};

/// What a request addresses.
struct Target {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    /// `log` for `pods/NAME/log`.
    sub: Option<String>,
}

/// (status code, body, whether the body is plain text).
pub type Answer = (u16, String, bool);

pub fn route(state: &mut State, req: &Recorded, content_type: &str, body: &[u8]) -> Answer {
    let Some(target) = parse(&req.path) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find {}", req.path),
        );
    };
    let verb = match (req.method.as_str(), &target.name) {
        ("GET", Some(_)) => "get",
        ("GET", None) => "list",
        ("POST", None) => "create",
        ("PUT", Some(_)) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => return status(405, "MethodNotAllowed", "method not allowed"),
    };
    let resource = match &target.sub {
        Some(sub) => format!("{}/{sub}", target.kind.plural),
        None => target.kind.plural.to_string(),
    };
    if state
        .forbidden
        .iter()
        .any(|(v, r)| v == verb && *r == resource)
    {
        let group = target.kind.api_version.rsplit_once('/').map(|(g, _)| g);
        let scope = match &target.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        let message = format!(
            "{resource}{} is forbidden: User \"dev\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            target.name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default(),
            group.unwrap_or_default()
        );
        return status(403, "Forbidden", &message);
    }
    match verb {
        "list" => list(state, &target, req),
        "get" if target.sub.as_deref() == Some("log") => logs(state, &target, req),
        "get" => get(state, &target),
        "create" => create(state, &target, body),
        "update" => update(state, &target, body),
        "patch" => patch(state, &target, req, content_type, body),
        _ => delete(state, &target, body),
    }
}

fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let owned = |s: Option<&&str>| s.map(|s| s.to_string());
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, more @ ..] => (
            Some(ns.to_string()),
            *plural,
            owned(more.first()),
            owned(more.get(1)),
        ),
        [plural, more @ ..] => (None, *plural, owned(more.first()), None),
        [] => return None,
    };
    Some(Target {
        kind: Kind::at(&api_version, plural)?,
        namespace,
        name,
        sub,
    })
}

/// A `Status` answer, as the API server sends for failures.
fn status(code: u16, reason: &str, message: &str) -> Answer {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": if code < 400 { "Success" } else { "Failure" },
        "message": message, "reason": reason, "code": code,
    });
    (code, body.to_string(), false)
}

fn not_found(target: &Target) -> Answer {
    let name = target.name.as_deref().unwrap_or_default();
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", target.kind.plural),
    )
}

fn ok(object: &Value) -> Answer {
    (200, object.to_string(), false)
}

fn ns_key(target: &Target) -> String {
    target.namespace.clone().unwrap_or_default()
}

fn list(state: &mut State, target: &Target, req: &Recorded) -> Answer {
    let selector = req.param("labelSelector").unwrap_or_default();
    let items: Vec<Value> = state
        .store
        .list(target.kind.kind, target.namespace.as_deref(), selector)
        .into_iter()
        .map(|mut item| {
            // As the real server: list items carry no kind of their own.
            if let Some(map) = item.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            item
        })
        .collect();
    let version = state.store.next();
    ok(&json!({
        "apiVersion": target.kind.api_version,
        "kind": format!("{}List", target.kind.kind),
        "metadata": { "resourceVersion": version.to_string() },
        "items": items,
    }))
}

fn get(state: &mut State, target: &Target) -> Answer {
    let name = target.name.clone().unwrap_or_default();
    if target.kind.kind == "Namespace" {
        if let Some(left) = state.store.terminating.get_mut(&name) {
            if *left == 0 {
                state.store.purge_namespace(&name);
            } else {
                *left -= 1;
            }
        }
    }
    match state.store.find(target.kind.kind, &ns_key(target), &name) {
        Some(object) => ok(object),
        None => not_found(target),
    }
}

fn logs(state: &mut State, target: &Target, req: &Recorded) -> Answer {
    let name = target.name.clone().unwrap_or_default();
    let Some(pod) = state.store.find("Pod", &ns_key(target), &name) else {
        return not_found(target);
    };
    let service = pod["metadata"]["labels"]["io.envctl.service"]
        .as_str()
        .unwrap_or_default();
    let lines = state.logs.get(service).cloned().unwrap_or_default();
    let tail: usize = req
        .param("tailLines")
        .and_then(|n| n.parse().ok())
        .unwrap_or(lines.len());
    let shown = &lines[lines.len().saturating_sub(tail)..];
    let mut text = shown.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    (200, text, true)
}

fn patch(
    state: &mut State,
    target: &Target,
    req: &Recorded,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let name = target.name.clone().unwrap_or_default();
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the body is not JSON");
    };
    let namespace = ns_key(target);
    if target.kind.namespaced {
        if state.store.find("Namespace", "", &namespace).is_none() {
            return status(
                404,
                "NotFound",
                &format!("namespaces \"{namespace}\" not found"),
            );
        }
        if state.store.terminating.contains_key(&namespace) {
            return status(403, "Forbidden", &format!("unable to create new content in namespace {namespace} because it is being terminated"));
        }
    }
    let existing = state
        .store
        .find(target.kind.kind, &namespace, &name)
        .cloned();
    let dry_run = req.is_dry_run();
    if content_type.starts_with("application/merge-patch+json") {
        let Some(mut object) = existing else {
            return not_found(target);
        };
        merge(&mut object, &patch);
        if !dry_run {
            bump(state, &mut object);
            state.store.put(object.clone());
        }
        return ok(&object);
    }
    if !content_type.starts_with("application/apply-patch+yaml") {
        return status(415, "UnsupportedMediaType", content_type);
    }
    if req.param("fieldManager").is_none() {
        return status(
            400,
            "BadRequest",
            "PATCH request with apply content type requires fieldManager",
        );
    }
    let forced = req.param("force") == Some("true");
    if let (Some(_), false) = (&existing, forced) {
        let key = (target.kind.plural.to_string(), name.clone());
        if let Some(manager) = state.conflicts.get(&key) {
            let message = format!(
                "Apply failed with 1 conflict: conflict with \"{manager}\" using {}: .spec.template.spec.containers[name=\"{name}\"].image",
                target.kind.api_version
            );
            return status(409, "Conflict", &message);
        }
    }
    let created = existing.is_none();
    let mut object = match existing {
        Some(old) => apply_onto(old, &patch),
        None => patch.clone(),
    };
    if target.kind.kind == "Service" {
        if let Err(port) = controllers::allocate_node_ports(state, &mut object) {
            let message = format!(
                "Service \"{}\" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated",
                object["metadata"]["name"].as_str().unwrap_or_default()
            );
            return status(422, "Invalid", &message);
        }
    }
    if dry_run {
        return ok(&object);
    }
    let object = if created {
        state.store.put_new(object)
    } else {
        bump(state, &mut object);
        state.store.put(object.clone());
        object
    };
    controllers::after_apply(state, &object);
    let object = state
        .store
        .find(target.kind.kind, &namespace, &name)
        .cloned()
        .unwrap_or(object);
    (if created { 201 } else { 200 }, object.to_string(), false)
}

/// A server-side apply onto an existing object, simplified: the applied fields replace the
/// old ones, labels and annotations are merged, what the server owns (uid, creation time,
/// generation, status) stays; the generation grows when the spec changed.
fn apply_onto(old: Value, patch: &Value) -> Value {
    let mut object = patch.clone();
    let mut metadata = old["metadata"].clone();
    for key in ["labels", "annotations"] {
        if let Some(new) = patch["metadata"][key].as_object() {
            if metadata[key].is_null() {
                metadata[key] = json!({});
            }
            for (k, v) in new {
                metadata[key][k] = v.clone();
            }
        }
    }
    if old["spec"] != patch["spec"] {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        metadata["generation"] = json!(generation + 1);
    }
    object["metadata"] = metadata;
    if !old["status"].is_null() {
        object["status"] = old["status"].clone();
    }
    if let Some(ports) = old["spec"]["ports"].as_array() {
        // Allocated node ports stay (the applied manifest does not name them).
        let kept: Vec<(Value, Value)> = ports
            .iter()
            .map(|p| (p["port"].clone(), p["nodePort"].clone()))
            .collect();
        for port in object["spec"]["ports"].as_array_mut().into_iter().flatten() {
            if let Some((_, node)) = kept.iter().find(|(p, _)| *p == port["port"]) {
                if !node.is_null() && port["nodePort"].is_null() {
                    port["nodePort"] = node.clone();
                }
            }
        }
    }
    object
}

/// A new resource version for a written object (`apply_onto` grows the generation).
fn bump(state: &mut State, object: &mut Value) {
    let n = state.store.next();
    object["metadata"]["resourceVersion"] = json!(n.to_string());
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in fields {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The body's object, placed where the path says (typed clients leave the namespace out).
fn object_at(target: &Target, body: &[u8]) -> Result<Value, Answer> {
    let mut object: Value = serde_json::from_slice(body)
        .map_err(|_| status(400, "BadRequest", "the body is not JSON"))?;
    object["kind"] = json!(target.kind.kind);
    object["apiVersion"] = json!(target.kind.api_version);
    if let Some(namespace) = &target.namespace {
        object["metadata"]["namespace"] = json!(namespace);
    }
    Ok(object)
}

fn already_exists(target: &Target, name: &str) -> Answer {
    let plural = target.kind.plural;
    status(
        409,
        "AlreadyExists",
        &format!("{plural} \"{name}\" already exists"),
    )
}

fn version_conflict(target: &Target, name: &str) -> Answer {
    let plural = target.kind.plural;
    status(409, "Conflict", &format!("Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"))
}

/// POST: a new object; 409 when one of that name exists.
fn create(state: &mut State, target: &Target, body: &[u8]) -> Answer {
    let object = match object_at(target, body) {
        Ok(object) => object,
        Err(answer) => return answer,
    };
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let namespace = ns_key(target);
    if target.kind.namespaced && state.store.find("Namespace", "", &namespace).is_none() {
        return status(
            404,
            "NotFound",
            &format!("namespaces \"{namespace}\" not found"),
        );
    }
    if state
        .store
        .find(target.kind.kind, &namespace, &name)
        .is_some()
    {
        return already_exists(target, &name);
    }
    let object = state.store.put_new(object);
    (201, object.to_string(), false)
}

/// PUT: replaces an object in the resourceVersion the body names (409 when it moved on).
fn update(state: &mut State, target: &Target, body: &[u8]) -> Answer {
    let mut object = match object_at(target, body) {
        Ok(object) => object,
        Err(answer) => return answer,
    };
    let name = target.name.clone().unwrap_or_default();
    let Some(existing) = state.store.find(target.kind.kind, &ns_key(target), &name) else {
        return not_found(target);
    };
    let version = &object["metadata"]["resourceVersion"];
    if !version.is_null() && *version != existing["metadata"]["resourceVersion"] {
        return version_conflict(target, &name);
    }
    for kept in ["uid", "creationTimestamp", "generation"] {
        object["metadata"][kept] = existing["metadata"][kept].clone();
    }
    bump(state, &mut object);
    state.store.put(object.clone());
    ok(&object)
}

fn delete(state: &mut State, target: &Target, body: &[u8]) -> Answer {
    let name = target.name.clone().unwrap_or_default();
    let namespace = ns_key(target);
    // DeleteOptions' precondition: delete only the version the client read.
    let options: Value = serde_json::from_slice(body).unwrap_or_default();
    let wanted = &options["preconditions"]["resourceVersion"];
    if let (Some(found), false) = (
        state.store.find(target.kind.kind, &namespace, &name),
        wanted.is_null(),
    ) {
        if found["metadata"]["resourceVersion"] != *wanted {
            return version_conflict(target, &name);
        }
    }
    if target.kind.kind == "Namespace" {
        let Some(object) = state.store.find_mut("Namespace", "", &name) else {
            return not_found(target);
        };
        object["metadata"]["deletionTimestamp"] =
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        object["status"] = json!({ "phase": "Terminating" });
        let answer = ok(object);
        if state.namespace_linger == 0 {
            state.store.purge_namespace(&name);
        } else {
            let linger = state.namespace_linger;
            state.store.terminating.entry(name).or_insert(linger);
        }
        return answer;
    }
    match state.store.remove(target.kind.kind, &namespace, &name) {
        Some(object) => {
            controllers::after_delete(state, &object);
            ok(&object)
        }
        None => not_found(target),
    }
}
