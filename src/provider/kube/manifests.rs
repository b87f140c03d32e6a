//! The objects a remote node is made of (rendered by `node::remote`), and
//! their creation: the ConfigMap first (the claim on the name), then the
//! Pod, which owns the ConfigMap and the Service.

use super::{forwarder, KubeProvider};
use crate::error::Error;
use crate::node::pod_options::EndpointMode;
use crate::node::{remote, NodePlan};
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
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

    /// Creates the node's objects: the ConfigMap first (the claim on the
    /// name), then the Pod, which owns the ConfigMap and the Service.
    pub(super) async fn create_objects(&self, plan: &NodePlan) -> Result<()> {
        let cluster = &plan.cluster;
        let name = &plan.node.name;
        let params = PostParams {
            dry_run: false,
            field_manager: Some("kip".into()),
        };
        let mut objects = self.manifests(plan).into_iter();
        // The ConfigMap comes first and is the claim on the name: a
        // concurrent `kip up` of this name that made it first owns the
        // cluster, and this run must not touch any of it.
        let config_map = objects.next().expect("the ConfigMap is the first object");
        self.claim(cluster, &params, config_map).await?;
        // Leftovers of a node deleted behind kip's back, now that the name
        // is this run's: a Service, a forwarder that serves nothing.
        let _ = Api::<Service>::namespaced(self.client.clone(), &self.namespace)
            .delete(name, &DeleteParams::default())
            .await;
        if let Some(old) = self.state.load(cluster).and_then(|r| r.forwarder) {
            forwarder::stop(old.pid);
        }
        self.state.save(cluster, &self.record())?;
        // The Pod owns the ConfigMap and the Service: if it is deleted
        // behind kip's back, the cluster's garbage collector removes them.
        let mut owner = None;
        for mut object in objects {
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            if let Some(owner) = &owner {
                object["metadata"]["ownerReferences"] = serde_json::json!([owner]);
            }
            let result = self.create(&params, object).await?;
            let uid = result.map_err(|e| Error::CreateObject {
                kind: kind.clone(),
                name: name.clone(),
                error: e.to_string(),
            })?;
            if kind == "Pod" {
                owner = Some(self.own_config_map(cluster, uid).await?);
            }
        }
        Ok(())
    }

    /// Makes the node Pod of `cluster` (of uid `uid`) the owner of its
    /// ConfigMap; the owner reference, for the objects made after it. The
    /// ConfigMap gone, the claim was deleted by another kip (a `kip down`
    /// of the name): the Pod this run made goes too.
    async fn own_config_map(
        &self,
        cluster: &str,
        uid: Option<String>,
    ) -> Result<serde_json::Value> {
        let name = &crate::names::node_name(cluster);
        let reference = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid.clone().unwrap_or_default(),
        });
        let owned = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"ownerReferences": [reference]}})),
            )
            .await;
        match owned {
            Ok(_) => Ok(reference),
            Err(kube::Error::Api(e)) if e.code == 404 => {
                self.delete_by_uid(&self.pods(), name, uid).await?;
                Err(Error::DeletedWhileMade {
                    name: cluster.to_string(),
                }
                .into())
            }
            Err(e) => Err(Error::OwnConfigMap {
                name: name.to_string(),
                error: e.to_string(),
            }
            .into()),
        }
    }
}
