//! The claim on a cluster's name: the node ConfigMap, created first. A
//! concurrent `kip up` of the same name finds it taken; a leftover of a
//! node deleted behind kip's back is replaced.

use super::KubeProvider;
use crate::error::Error;
use crate::names;
use anyhow::Result;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::Api;
use std::time::Duration;

/// A node ConfigMap without its Pod for this long is a leftover of a node
/// deleted behind kip's back; younger, it is another `kip up` at work.
const LEFTOVER_AFTER: Duration = Duration::from_secs(60);

impl KubeProvider {
    /// Creates the node's ConfigMap, the claim on the cluster's name. One
    /// that exists already is a leftover (its Pod is gone and it is older
    /// than a `kip up` takes to create the Pod after it), replaced; or
    /// another run's claim: [`Error::NameTaken`].
    pub(super) async fn claim(
        &self,
        cluster: &str,
        params: &PostParams,
        config_map: serde_json::Value,
    ) -> Result<()> {
        let name = names::node_name(cluster);
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace);
        for _ in 0..2 {
            match self.create(params, config_map.clone()).await? {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => {
                    return Err(Error::CreateObject {
                        kind: "ConfigMap".into(),
                        name,
                        error: e.to_string(),
                    }
                    .into())
                }
            }
            let existing = api.get_opt(&name).await.map_err(|e| self.unreachable(e))?;
            let Some(existing) = existing else { continue };
            let pod_uid = self.pod(cluster).await?.and_then(|p| p.metadata.uid);
            if !leftover(&existing, pod_uid.as_deref()) {
                return Err(taken(cluster));
            }
            self.delete_by_uid(&api, &name, existing.metadata.uid.clone())
                .await?;
        }
        Err(taken(cluster))
    }
}

impl KubeProvider {
    /// Whether the name is claimed by a `kip up` at work that has not made
    /// its Pod yet: its node ConfigMap there, young and unowned, no Pod.
    pub(super) async fn claimed_by_an_up_at_work(&self, cluster: &str) -> Result<bool> {
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace);
        let existing = api
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?;
        let Some(existing) = existing else {
            return Ok(false);
        };
        let pod_uid = self.pod(cluster).await?.and_then(|p| p.metadata.uid);
        Ok(pod_uid.is_none() && !leftover(&existing, None))
    }
}

/// Whether the node ConfigMap `existing` is a leftover, its node Pod being
/// the one of uid `pod_uid` (None: there is none). Owned by its node Pod
/// once that exists: owned by a Pod that is gone, it is a leftover the
/// cluster's garbage collector has not reached yet.
fn leftover(existing: &ConfigMap, pod_uid: Option<&str>) -> bool {
    let owner = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "Pod")
        .map(|o| o.uid.clone());
    let age = existing
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t.0))
        .and_then(|d| std::time::Duration::try_from(d).ok())
        .unwrap_or_default();
    match owner {
        Some(owner) => pod_uid != Some(owner.as_str()),
        None => pod_uid.is_none() && age >= LEFTOVER_AFTER,
    }
}

fn taken(cluster: &str) -> anyhow::Error {
    Error::NameTaken {
        cluster: cluster.to_string(),
    }
    .into()
}
