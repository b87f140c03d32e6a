//! What kip asks the cluster before it creates anything: its rights
//! (SelfSubjectAccessReview), the namespace's Pod Security level and a
//! server-side dry run of the objects; and the outer cluster's subnets, so
//! the inner cluster's stay clear of them.

use super::KubeBackend;
use crate::error::Failure;
use crate::node::pod_options::EndpointMode;
use crate::node::NodePlan;
use anyhow::Result;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{ListParams, PostParams};
use kube::Api;
use std::collections::BTreeMap;

/// The Pod Security levels that refuse privileged pods.
const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

impl KubeBackend {
    /// Everything kip needs, asked before anything is created; each refusal
    /// named with what an admin must grant.
    pub(super) async fn preflight(&self, plan: &NodePlan) -> Result<()> {
        let mut needed: Vec<(&str, &str, &str)> = vec![
            ("create", "pods", ""),
            ("get", "pods", ""),
            ("list", "pods", ""),
            ("watch", "pods", ""),
            ("delete", "pods", ""),
            ("create", "pods", "exec"),
            ("get", "pods", "log"),
            ("create", "configmaps", ""),
            ("get", "configmaps", ""),
            ("patch", "configmaps", ""),
            ("delete", "configmaps", ""),
        ];
        if self.endpoint == EndpointMode::Forwarded {
            needed.push(("create", "pods", "portforward"));
        }
        if self.endpoint == EndpointMode::Service {
            needed.push(("create", "services", ""));
            needed.push(("delete", "services", ""));
        }
        let reviews: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let mut missing = Vec::new();
        for (verb, resource, sub) in needed {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        namespace: Some(self.namespace.clone()),
                        verb: Some(verb.into()),
                        resource: Some(resource.into()),
                        subresource: (!sub.is_empty()).then(|| sub.to_string()),
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
                let what = if sub.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}/{sub}")
                };
                missing.push((verb, what));
            }
        }
        if !missing.is_empty() {
            let lines: Vec<String> = missing
                .iter()
                .map(|(verb, what)| format!("  - {verb} {what}"))
                .collect();
            let mut by_resource: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (verb, what) in &missing {
                by_resource.entry(what.as_str()).or_default().push(verb);
            }
            let rules: Vec<String> = by_resource
                .iter()
                .map(|(what, verbs)| {
                    format!(
                        "  - apiGroups: [\"\"]\n    resources: [\"{what}\"]\n    verbs: [{}]",
                        verbs
                            .iter()
                            .map(|v| format!("\"{v}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            return Err(Failure::Environment(format!(
                "kip may not do what a remote node needs in {}:\n{}\nAn admin must grant them, e.g. in a Role bound to you:\n{}",
                self.where_(),
                lines.join("\n"),
                rules.join("\n")
            ))
            .into());
        }
        // Pod Security admission: read the namespace's label when allowed
        // (the dry-run below catches the rest).
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        if let Ok(ns) = namespaces.get(&self.namespace).await {
            let level = ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PSA_ENFORCE))
                .cloned();
            if let Some(level @ ("baseline" | "restricted")) = level.as_deref() {
                return Err(Failure::Environment(format!(
                    "namespace {} enforces the Pod Security level \"{level}\", which refuses privileged pods, and kip's node must run privileged.\n\
                     Use a namespace that allows it, or have an admin label one: kubectl label namespace NAMESPACE {PSA_ENFORCE}=privileged",
                    self.namespace
                ))
                .into());
            }
        }
        // A server-side dry run of the objects: admission webhooks, quotas
        // and policies answer now, not after half of them exist.
        let dry = PostParams {
            dry_run: true,
            field_manager: Some("kip".into()),
        };
        for object in self.manifests(plan) {
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            let result = self.create(&dry, object).await?;
            match result {
                Ok(_) => {}
                // Left over from a node deleted behind kip's back (replaced
                // below), or another run's claim (found below).
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(kube::Error::Api(s)) => {
                    return Err(Failure::Environment(format!(
                        "the cluster refuses kip's {kind} in {} (a server-side dry run): {}",
                        self.where_(),
                        s.message
                    ))
                    .into())
                }
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        Ok(())
    }

    /// The outer cluster's pod and service ranges, as far as kip may read
    /// them (nodes' podCIDRs; the `kubernetes` Service's /16), so that the
    /// inner cluster's subnets stay clear of them. Best effort: RBAC often
    /// hides nodes, and then kip's defaults apply.
    pub(super) async fn outer_subnets(&self) -> Vec<String> {
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
