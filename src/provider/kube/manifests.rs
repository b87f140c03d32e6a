//! The objects a remote node is made of (rendered by `node::remote`), and
//! their creation.

use super::KubeProvider;
use crate::node::pod_options::EndpointMode;
use crate::node::{remote, NodePlan};
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::PostParams;
use kube::Api;

impl KubeProvider {
    /// The manifests `up` creates, in order.
    pub fn manifests(&self, plan: &NodePlan) -> Vec<serde_json::Value> {
        let mut objects = vec![
            remote::config_map(plan, &self.namespace),
            remote::pod(plan, &self.namespace, &self.pod, self.endpoint),
        ];
        if self.endpoint == EndpointMode::Service {
            objects.push(remote::service(plan, &self.namespace));
        }
        objects
    }

    /// Creates one of the objects `manifests` makes; the outer error is
    /// kip's (a manifest that does not decode), the inner the server's.
    /// Creates one of the node's objects; the created object's uid.
    pub(super) async fn create(
        &self,
        params: &PostParams,
        object: serde_json::Value,
    ) -> Result<std::result::Result<Option<String>, kube::Error>> {
        let (client, ns) = (self.client.clone(), self.namespace.as_str());
        Ok(match object["kind"].as_str() {
            Some("Pod") => Api::<Pod>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
            Some("ConfigMap") => Api::<ConfigMap>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
            _ => Api::<Service>::namespaced(client, ns)
                .create(params, &serde_json::from_value(object)?)
                .await
                .map(|o| o.metadata.uid),
        })
    }
}
