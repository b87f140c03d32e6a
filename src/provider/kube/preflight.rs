//! What kip asks the cluster before it creates anything: its rights
//! (SelfSubjectAccessReview), the namespace's Pod Security level and a
//! server-side dry run of the objects; and the outer cluster's subnets, so
//! the inner cluster's stay clear of them.

use super::KubeProvider;
use crate::error::Error;
use crate::node::pod_options::EndpointMode;
use crate::node::{remote, NodePlan};
use anyhow::Result;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{ListParams, PostParams};
use kube::Api;
use std::collections::BTreeMap;

pub use crate::error::{pod_security_fix, pod_security_problem, PSA_ENFORCE};

/// One thing kip asks to do in the node's namespace (a SelfSubjectAccessReview).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Right {
    pub verb: &'static str,
    pub resource: &'static str,
    /// Empty: the resource itself.
    pub subresource: &'static str,
}

impl Right {
    const fn new(verb: &'static str, resource: &'static str, subresource: &'static str) -> Self {
        Right {
            verb,
            resource,
            subresource,
        }
    }

    /// `pods`, or `pods/exec`: as a Role's `resources` names it.
    fn resource_path(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// What every remote node needs, whatever its endpoint.
const NODE_RIGHTS: [Right; 11] = [
    Right::new("create", "pods", ""),
    Right::new("get", "pods", ""),
    Right::new("list", "pods", ""),
    Right::new("watch", "pods", ""),
    Right::new("delete", "pods", ""),
    Right::new("create", "pods", "exec"),
    Right::new("get", "pods", "log"),
    Right::new("create", "configmaps", ""),
    Right::new("get", "configmaps", ""),
    Right::new("patch", "configmaps", ""),
    Right::new("delete", "configmaps", ""),
];

/// What warm pools need beyond a node's rights (`kip pool --remote`, `up
/// --remote --pool`): a claim patches a member Pod at its resourceVersion,
/// and a pool's definition is a ConfigMap listed and updated at its own.
pub const POOL_RIGHTS: [Right; 3] = [
    Right::new("patch", "pods", ""),
    Right::new("list", "configmaps", ""),
    Right::new("update", "configmaps", ""),
];

/// Every right a remote node reached through `endpoint` needs: what `up`
/// asks before it creates anything, and what `doctor` checks.
pub fn needed_rights(endpoint: EndpointMode) -> Vec<Right> {
    let mut needed = NODE_RIGHTS.to_vec();
    match endpoint {
        EndpointMode::Forwarded => needed.push(Right::new("create", "pods", "portforward")),
        EndpointMode::Service => {
            needed.push(Right::new("create", "services", ""));
            needed.push(Right::new("delete", "services", ""));
        }
        EndpointMode::PodIp => {}
    }
    needed
}

/// The missing rights, one `  - VERB RESOURCE` line each.
pub fn missing_lines(missing: &[Right]) -> String {
    missing
        .iter()
        .map(|r| format!("  - {} {}", r.verb, r.resource_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Role rules that grant `missing`, as YAML.
pub fn role_rules(missing: &[Right]) -> String {
    let mut by_resource: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for right in missing {
        by_resource
            .entry(right.resource_path())
            .or_default()
            .push(right.verb);
    }
    by_resource
        .iter()
        .map(|(what, verbs)| {
            let verbs: Vec<String> = verbs.iter().map(|v| format!("\"{v}\"")).collect();
            format!(
                "  - apiGroups: [\"\"]\n    resources: [\"{what}\"]\n    verbs: [{}]",
                verbs.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pod Security levels that refuse privileged pods.
pub fn refuses_privileged(level: &str) -> bool {
    matches!(level, "baseline" | "restricted")
}

impl KubeProvider {
    /// Everything kip needs, asked before anything is created; each refusal
    /// named with what an admin must grant.
    pub(super) async fn preflight(&self, plan: &NodePlan) -> Result<()> {
        let missing = self.missing_rights().await?;
        if !missing.is_empty() {
            return Err(Error::MissingRights {
                place: self.where_(),
                lines: missing_lines(&missing),
                rules: role_rules(&missing),
            }
            .into());
        }
        // Pod Security admission: read the namespace's label when allowed
        // (the dry-run below catches the rest).
        if let Ok(Some(level)) = self.pod_security_level().await {
            if refuses_privileged(&level) {
                return Err(Error::PodSecurityRefuses {
                    namespace: self.namespace.clone(),
                    level,
                }
                .into());
            }
        }
        self.dry_run(plan).await??;
        Ok(())
    }

    /// The rights of [`needed_rights`] the cluster does not grant in the
    /// namespace (SelfSubjectAccessReview).
    pub async fn missing_rights(&self) -> Result<Vec<Right>> {
        self.missing_of(needed_rights(self.endpoint)).await
    }

    /// Which of [`POOL_RIGHTS`] this user lacks in the namespace.
    pub async fn missing_pool_rights(&self) -> Result<Vec<Right>> {
        self.missing_of(POOL_RIGHTS.to_vec()).await
    }

    async fn missing_of(&self, rights: Vec<Right>) -> Result<Vec<Right>> {
        let reviews: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let mut missing = Vec::new();
        for right in rights {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(self.namespace.clone()),
                        verb: Some(right.verb.into()),
                        resource: Some(right.resource.into()),
                        subresource: (!right.subresource.is_empty())
                            .then(|| right.subresource.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = reviews
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| self.unreachable(e))?;
            if !answer.status.is_some_and(|s| s.allowed) {
                missing.push(right);
            }
        }
        Ok(missing)
    }

    /// The namespace's Pod Security `enforce` level (None: no label), or
    /// why it cannot be read (RBAC often hides namespaces).
    pub async fn pod_security_level(&self) -> std::result::Result<Option<String>, String> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns = namespaces
            .get(&self.namespace)
            .await
            .map_err(|e| format!("cannot read namespace {}: {e}", self.namespace))?;
        Ok(ns
            .metadata
            .labels
            .and_then(|mut labels| labels.remove(PSA_ENFORCE)))
    }

    /// A server-side dry run of the node's objects: admission webhooks,
    /// quotas and policies answer now, not after half of them exist. The
    /// inner error is the cluster's refusal, in its words.
    pub async fn dry_run(&self, plan: &NodePlan) -> Result<std::result::Result<(), Error>> {
        let dry = PostParams {
            dry_run: true,
            field_manager: Some("kip".into()),
        };
        for object in self.manifests(plan) {
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            match self.create(&dry, object).await? {
                Ok(_) => {}
                // Left over from a node deleted behind kip's back (replaced
                // by `up`), or another run's claim (found by `up`).
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(kube::Error::Api(s)) => {
                    return Ok(Err(Error::DryRunRefused {
                        kind,
                        place: self.where_(),
                        message: s.message,
                    }))
                }
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        Ok(Ok(()))
    }

    /// The cluster's words when it refuses the node Pod with its seed
    /// store (a `hostPath`) and accepts it without: a policy (Pod Security,
    /// an admission policy or webhook) that forbids hostPath volumes. None
    /// when it accepts both, or refuses both (the preflight then says why).
    pub async fn host_path_refusal(&self, plan: &NodePlan) -> Result<Option<String>> {
        if plan.node.seed_store.is_none() {
            return Ok(None);
        }
        let Err(refusal) = self.dry_run_pod(plan).await? else {
            return Ok(None);
        };
        let mut without = plan.clone();
        without.node.seed_store = None;
        Ok(self.dry_run_pod(&without).await?.is_ok().then_some(refusal))
    }

    /// A server-side dry run of the node Pod alone; the inner error is the
    /// cluster's refusal.
    async fn dry_run_pod(&self, plan: &NodePlan) -> Result<std::result::Result<(), String>> {
        let dry = PostParams {
            dry_run: true,
            field_manager: Some("kip".into()),
        };
        let pod = remote::pod(plan, &self.namespace, &self.pod, self.endpoint);
        match self.create(&dry, pod).await? {
            // 409: a Pod of that name exists (another run's): the spec passed.
            Ok(_) => Ok(Ok(())),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Ok(())),
            Err(kube::Error::Api(s)) => Ok(Err(s.message)),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// The outer cluster's pod and service ranges, as far as kip may read
    /// them (nodes' podCIDRs; the `kubernetes` Service's /16), so that the
    /// inner cluster's subnets stay clear of them. Best effort: RBAC often
    /// hides nodes, and then kip's defaults apply.
    pub async fn outer_subnets(&self) -> Vec<String> {
        let mut subnets = Vec::new();
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        if let Ok(list) = nodes.list(&ListParams::default()).await {
            for node in list.items {
                let spec = node.spec.unwrap_or_default();
                subnets.extend(spec.pod_cidrs.unwrap_or_default());
                subnets.extend(spec.pod_cidr);
            }
        }
        let services: Api<Service> = Api::namespaced(self.client.clone(), "default");
        if let Ok(svc) = services.get("kubernetes").await {
            if let Some(ip) = svc.spec.and_then(|s| s.cluster_ip) {
                let octets: Vec<&str> = ip.split('.').collect();
                if octets.len() == 4 {
                    subnets.push(format!("{}.{}.0.0/16", octets[0], octets[1]));
                }
            }
        }
        subnets.sort();
        subnets.dedup();
        subnets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_decides_the_extra_rights() {
        let has = |endpoint, resource: &str| {
            needed_rights(endpoint)
                .iter()
                .any(|r| r.resource_path() == resource)
        };
        assert!(has(EndpointMode::Forwarded, "pods/portforward"));
        assert!(!has(EndpointMode::Forwarded, "services"));
        assert!(has(EndpointMode::Service, "services"));
        assert!(!has(EndpointMode::PodIp, "pods/portforward"));
        assert!(has(EndpointMode::PodIp, "pods/exec"));
    }

    #[test]
    fn missing_rights_and_their_rules() {
        let missing = [
            Right::new("create", "pods", "exec"),
            Right::new("create", "services", ""),
            Right::new("delete", "services", ""),
        ];
        assert_eq!(
            missing_lines(&missing),
            "  - create pods/exec\n  - create services\n  - delete services"
        );
        assert_eq!(
            role_rules(&missing),
            "  - apiGroups: [\"\"]\n    resources: [\"pods/exec\"]\n    verbs: [\"create\"]\n  \
             - apiGroups: [\"\"]\n    resources: [\"services\"]\n    verbs: [\"create\", \"delete\"]"
        );
    }
}
