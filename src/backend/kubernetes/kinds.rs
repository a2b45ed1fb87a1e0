//! The kinds of object the backend reads and writes, and where each lives in the API.

/// One kind of Kubernetes object, as its REST path names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// `Deployment`, as manifests spell it.
    pub kind: &'static str,
    /// `apps/v1`; `v1` for the core group.
    pub api_version: &'static str,
    /// `deployments`, as paths and RBAC rules spell it.
    pub plural: &'static str,
    /// Whether it lives in a namespace.
    pub namespaced: bool,
}

pub const NAMESPACE: Kind = Kind {
    kind: "Namespace",
    api_version: "v1",
    plural: "namespaces",
    namespaced: false,
};
pub const SECRET: Kind = Kind {
    kind: "Secret",
    api_version: "v1",
    plural: "secrets",
    namespaced: true,
};
pub const CLAIM: Kind = Kind {
    kind: "PersistentVolumeClaim",
    api_version: "v1",
    plural: "persistentvolumeclaims",
    namespaced: true,
};
pub const SERVICE: Kind = Kind {
    kind: "Service",
    api_version: "v1",
    plural: "services",
    namespaced: true,
};
pub const DEPLOYMENT: Kind = Kind {
    kind: "Deployment",
    api_version: "apps/v1",
    plural: "deployments",
    namespaced: true,
};
pub const JOB: Kind = Kind {
    kind: "Job",
    api_version: "batch/v1",
    plural: "jobs",
    namespaced: true,
};
pub const NETWORK_POLICY: Kind = Kind {
    kind: "NetworkPolicy",
    api_version: "networking.k8s.io/v1",
    plural: "networkpolicies",
    namespaced: true,
};
pub const POD: Kind = Kind {
    kind: "Pod",
    api_version: "v1",
    plural: "pods",
    namespaced: true,
};

/// Read by `backend::cluster` (the node address) and served by `fake_api`; never written.
pub const NODE: Kind = Kind {
    kind: "Node",
    api_version: "v1",
    plural: "nodes",
    namespaced: false,
};

/// The instance lock (`pod_io::try_lock`); served by `fake_api`, never planned or pruned.
pub const LEASE: Kind = Kind {
    kind: "Lease",
    api_version: "coordination.k8s.io/v1",
    plural: "leases",
    namespaced: true,
};

/// What an instance's namespace holds that envctl writes, in apply order (the mapping's):
/// `plan` lists each once, `down` without `--volumes` deletes all but the claims.
pub const MANAGED: [Kind; 6] = [SECRET, CLAIM, SERVICE, DEPLOYMENT, JOB, NETWORK_POLICY];

impl Kind {
    /// The kind a manifest names (`kind:`), when the backend manages it.
    pub fn of(kind: &str) -> Option<Kind> {
        std::iter::once(NAMESPACE)
            .chain(MANAGED)
            .chain([POD, NODE])
            .find(|k| k.kind == kind)
    }

    /// The kind served at `api_version` (`apps/v1`) under `plural` (`deployments`).
    pub fn at(api_version: &str, plural: &str) -> Option<Kind> {
        std::iter::once(NAMESPACE)
            .chain(MANAGED)
            .chain([POD, NODE, LEASE])
            .find(|k| k.api_version == api_version && k.plural == plural)
    }

    /// `/api/v1` or `/apis/apps/v1`.
    fn base(&self) -> String {
        if self.api_version.contains('/') {
            format!("/apis/{}", self.api_version)
        } else {
            format!("/api/{}", self.api_version)
        }
    }

    /// The collection path: in `namespace`, or across the cluster (`None`).
    pub fn collection(&self, namespace: Option<&str>) -> String {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{}/namespaces/{ns}/{}", self.base(), self.plural),
            None => format!("{}/{}", self.base(), self.plural),
        }
    }

    /// The path of one object.
    pub fn object(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection(namespace))
    }

    /// `deployment`, for messages and `kubectl` hints.
    pub fn word(&self) -> &'static str {
        match self.kind {
            "Namespace" => "namespace",
            "Secret" => "secret",
            "PersistentVolumeClaim" => "persistentvolumeclaim",
            "Service" => "service",
            "Deployment" => "deployment",
            "Job" => "job",
            "NetworkPolicy" => "networkpolicy",
            "Node" => "node",
            _ => "pod",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_api_groups() {
        assert_eq!(
            NAMESPACE.object(None, "envctl-a"),
            "/api/v1/namespaces/envctl-a"
        );
        assert_eq!(
            DEPLOYMENT.collection(Some("envctl-a")),
            "/apis/apps/v1/namespaces/envctl-a/deployments"
        );
        assert_eq!(POD.collection(None), "/api/v1/pods");
        assert_eq!(Kind::of("Job"), Some(JOB));
        assert_eq!(Kind::of("ConfigMap"), None);
    }
}
