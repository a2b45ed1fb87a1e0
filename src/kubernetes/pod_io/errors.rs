//! `kube::Error` -> `EngineError`, naming the object and, for a 403, what RBAC must allow.

use crate::engine::EngineError;

/// One request on one object: `verb` and `resource` as RBAC names them (`create` on
/// `pods/exec`), `kind` and `name` as a user reads them (`pod envctl-shop/web-7f9c`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl Request<'_> {
    /// `pod envctl-shop/web-7f9c`.
    pub fn what(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    /// `create pods/exec of pod envctl-shop/web-7f9c`.
    pub fn context(&self) -> String {
        format!("{} {} of {}", self.verb, self.resource, self.what())
    }

    /// The error of this request, kept apart by what callers branch on (`NotFound`).
    pub fn error(&self, err: kube::Error) -> EngineError {
        match err {
            kube::Error::Api(status) if status.code == 404 => {
                EngineError::NotFound { what: self.what() }
            }
            // Also a 403, but no RBAC rule is missing: `down` is deleting the namespace.
            kube::Error::Api(status) if is_terminating(&status) => self.failed(&format!(
                "namespace {} is being deleted (a `down` of this instance is still in progress); try again once it is gone",
                self.namespace
            )),
            kube::Error::Api(status) if status.code == 403 => self.failed(&format!(
                "forbidden: the cluster's RBAC must allow verb `{}` on resource `{}` in namespace {} for this user ({})",
                self.verb, self.resource, self.namespace, status.message
            )),
            kube::Error::Api(status) => self.failed(&status.message),
            other => self.failed(&other.to_string()),
        }
    }

    pub fn failed(&self, message: &str) -> EngineError {
        EngineError::Api {
            context: self.context(),
            message: message.to_string(),
        }
    }
}

/// The API server's refusal to create anything in a namespace that is being deleted.
fn is_terminating(status: &kube::core::Status) -> bool {
    let cause = status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"));
    cause || status.message.contains("because it is being terminated")
}

/// Whether `err` is the API server's answer `code`.
pub(super) fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> kube::Error {
        let mut status = kube::core::Status::failure(message, "Forbidden");
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    const EXEC: Request<'static> = Request {
        verb: "create",
        resource: "pods/exec",
        kind: "pod",
        namespace: "envctl-shop",
        name: "web-1",
    };

    #[test]
    fn forbidden_names_verb_resource_and_namespace() {
        let err = EXEC
            .error(status(403, "User \"dev\" cannot create resource"))
            .to_string();
        assert!(
            err.starts_with("create pods/exec of pod envctl-shop/web-1: forbidden"),
            "{err}"
        );
        assert!(
            err.contains("allow verb `create` on resource `pods/exec` in namespace envctl-shop"),
            "{err}"
        );
        assert!(err.contains("User \"dev\" cannot create"), "{err}");
    }

    #[test]
    fn a_terminating_namespace_is_not_blamed_on_rbac() {
        let err = EXEC
            .error(status(
                403,
                "unable to create new content in namespace envctl-shop because it is being terminated",
            ))
            .to_string();
        assert!(
            err.contains("namespace envctl-shop is being deleted"),
            "{err}"
        );
        assert!(!err.contains("RBAC"), "{err}");
    }

    #[test]
    fn not_found_is_kept_apart_and_names_the_pod() {
        match EXEC.error(status(404, "pods \"web-1\" not found")) {
            EngineError::NotFound { what } => assert_eq!(what, "pod envctl-shop/web-1"),
            other => panic!("{other:?}"),
        }
        assert!(is_status(&status(409, "conflict"), 409));
        assert!(!is_status(&status(409, "conflict"), 404));
    }
}
