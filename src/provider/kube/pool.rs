//! Warm pools on a shared cluster (remote mode).
//!
//! # DESIGN
//!
//! A member is a node Pod made by the ordinary remote provisioning under
//! its key (Pod and ConfigMap `kip-pool.POOL.ID`), reached by its pod IP
//! (nobody's port-forward), its readiness probe on `/readyz` saying when
//! it is ready: so only its objects are made, by whoever refills, and the
//! cluster it runs on does the rest. Pod labels can change, so a claim as
//! NAME is two of the API's optimistic operations: the ConfigMap
//! `kip-NAME` created first (the claim on the name, as for every remote
//! cluster: a 409 means another kip has the name), then the member Pod
//! replaced with the resourceVersion this claimer read, its labels and
//! annotations now cluster NAME with the claim's record (claimer,
//! claimed-at, TTL). Of claimers racing for one member, one update
//! succeeds and the others get 409 and try another; a claimer killed
//! between the two leaves a ConfigMap with no Pod, which the next `up` of
//! the name replaces after a minute (`claim.rs`). A member is never taken
//! by no one. The definition is the ConfigMap `kip-pool.POOL` (its spec in
//! `data`), changed only with the resourceVersion it was read at.

use super::pod::{pod_name, pod_problem, PodState};
use super::KubeProvider;
use crate::error::Error;
use crate::names;
use crate::node::labels;
use crate::node::pod_options::EndpointMode;
use crate::node::remote::{label_value, ENDPOINT_ANNOTATION};
use crate::pool::member::{
    ClaimRecord, MemberInfo, MemberState, CLAIMED_AT, KIND_NAME, PLAN_LABEL, POOL_LABEL,
};
use crate::pool::spec::PoolSpec;
use crate::provider::pool::{Claimed, Pools, StoredPool, Take};
use crate::provider::Provider;
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::Api;

/// The label of a pool's definition ConfigMap.
const DEFINITION: &str = "dev.kip.pool-definition";

fn definition_name(pool: &str) -> String {
    format!("kip-pool.{pool}")
}

impl Pools for KubeProvider {
    async fn pools(&self, name: Option<&str>) -> Result<Vec<StoredPool>> {
        let mut selector = format!("{}={},{DEFINITION}", labels::MANAGED_BY, labels::MANAGER);
        if let Some(name) = name {
            selector.push_str(&format!(",{POOL_LABEL}={name}"));
        }
        let found = self
            .config_maps()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(found
            .items
            .into_iter()
            .filter_map(|cm| {
                let spec = cm.data.as_ref()?.get("spec.json")?;
                Some(StoredPool {
                    spec: serde_json::from_str(spec).ok()?,
                    version: cm.metadata.resource_version.clone()?,
                })
            })
            .collect())
    }

    async fn store_pool(&self, spec: &PoolSpec, version: Option<&str>) -> Result<bool> {
        let object = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": definition_name(&spec.name),
                "namespace": self.namespace,
                "labels": {labels::MANAGED_BY: labels::MANAGER, POOL_LABEL: spec.name, DEFINITION: "true"},
                "resourceVersion": version,
            },
            "data": {"spec.json": serde_json::to_string_pretty(spec)?},
        });
        let config_map: ConfigMap = serde_json::from_value(object)?;
        let params = PostParams::default();
        let api = self.config_maps();
        let stored = match version {
            None => api.create(&params, &config_map).await,
            Some(_) => {
                api.replace(&definition_name(&spec.name), &params, &config_map)
                    .await
            }
        };
        match stored {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    async fn remove_pool(&self, name: &str) -> Result<bool> {
        match self
            .config_maps()
            .delete(&definition_name(name), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    async fn members(&self, pool: Option<&str>, _memory: bool) -> Result<Vec<MemberInfo>> {
        let selector = match pool {
            Some(pool) => format!(
                "{}={},{POOL_LABEL}={pool}",
                labels::MANAGED_BY,
                labels::MANAGER
            ),
            None => format!("{}={},{POOL_LABEL}", labels::MANAGED_BY, labels::MANAGER),
        };
        let pods = self
            .pods()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(pods.items.iter().filter_map(member_of).collect())
    }

    async fn take(&self, member: &MemberInfo, record: &ClaimRecord) -> Result<Take> {
        let cluster = record
            .cluster
            .clone()
            .expect("a claim names the cluster it makes");
        let params = PostParams {
            dry_run: false,
            field_manager: Some("kip".into()),
        };
        match self
            .claim(&cluster, &params, self.name_claim(&cluster, member))
            .await
        {
            Err(e) if Error::is(&e, |e| matches!(e, Error::NameTaken { .. })) => {
                return Ok(Take::NameTaken)
            }
            other => other?,
        }
        if self.take_pod(member, &cluster, record).await?.is_none() {
            self.release_name(&cluster).await;
            return Ok(Take::Lost);
        }
        Ok(Take::Took)
    }

    async fn finish_claim(
        &self,
        member: &MemberInfo,
        record: &ClaimRecord,
    ) -> Result<Claimed<super::KubeNode>> {
        let cluster = record
            .cluster
            .clone()
            .expect("a claim names the cluster it makes");
        let Some(pod) = self
            .pods()
            .get_opt(&names::node_name(&member.key))
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            return Ok(Claimed::Lost);
        };
        let (name, uid) = (pod_name(&pod), pod.metadata.uid.clone());
        self.own_name_claim(&cluster, &name, uid).await?;
        self.state.save(&cluster, &self.record())?;
        if self.endpoint == EndpointMode::Forwarded {
            self.start_forwarder(&cluster, &name, 0).await?;
        }
        Ok(match self.lookup(&cluster).await? {
            Some(node) => Claimed::Won(node),
            None => Claimed::Lost,
        })
    }

    async fn delete_member(&self, member: &MemberInfo) -> Result<bool> {
        let name = names::node_name(&member.key);
        let Some(pod) = self
            .pods()
            .get_opt(&name)
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            self.delete_member_config(&name).await?;
            return Ok(true);
        };
        if member_of(&pod).is_none() {
            return Ok(false);
        }
        let delete = DeleteParams {
            preconditions: Some(Preconditions {
                uid: None,
                resource_version: pod.metadata.resource_version.clone(),
            }),
            ..DeleteParams::default()
        };
        match self.pods().delete(&name, &delete).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => return Ok(false),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        self.delete_member_config(&name).await?;
        Ok(true)
    }

    /// Its readiness probe marks a remote member ready.
    async fn mark_ready(&self, _key: &str, _pause: bool) -> Result<()> {
        Ok(())
    }

    fn members_ready_themselves(&self) -> bool {
        true
    }

    fn member_maker(&self, spec: &PoolSpec) -> Self {
        let mut maker = self.clone();
        maker.pod = spec.plan.pod.clone().unwrap_or_default();
        maker.pod.endpoint = Some(EndpointMode::PodIp);
        maker.endpoint = EndpointMode::PodIp;
        maker
    }
}

/// A pool's member as its Pod tells (None: a cluster now, or going away).
fn member_of(pod: &Pod) -> Option<MemberInfo> {
    let meta = &pod.metadata;
    let annotations = meta.annotations.clone().unwrap_or_default();
    let pod_labels = meta.labels.clone().unwrap_or_default();
    if annotations.contains_key(CLAIMED_AT) || meta.deletion_timestamp.is_some() {
        return None;
    }
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let state = match pod_problem(pod) {
        PodState::Failed(why) => MemberState::Broken(why),
        _ if ready => MemberState::Ready,
        _ => MemberState::Making,
    };
    Some(MemberInfo {
        key: annotations.get(labels::CLUSTER)?.clone(),
        pool: pod_labels.get(POOL_LABEL)?.clone(),
        state,
        created_at: annotations
            .get(labels::CREATED_AT)
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok()),
        plan: pod_labels.get(PLAN_LABEL).cloned(),
        paused: false,
        memory: None,
    })
}

impl KubeProvider {
    pub(super) fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The ConfigMap `kip-NAME` that claims the name for a member.
    fn name_claim(&self, cluster: &str, member: &MemberInfo) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": names::node_name(cluster),
                "namespace": self.namespace,
                "labels": {
                    labels::MANAGED_BY: labels::MANAGER,
                    labels::CLUSTER: cluster,
                    POOL_LABEL: member.pool,
                },
            },
            "data": {"member": member.key},
        })
    }

    /// Replaces the member's Pod, as read now and still a member, with its
    /// labels and annotations those of cluster `cluster` claimed by
    /// `record`; None when another kip took (or deleted) it first.
    async fn take_pod(
        &self,
        member: &MemberInfo,
        cluster: &str,
        record: &ClaimRecord,
    ) -> Result<Option<Pod>> {
        let name = names::node_name(&member.key);
        let Some(mut pod) = self
            .pods()
            .get_opt(&name)
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            return Ok(None);
        };
        if member_of(&pod).is_none_or(|m| m.state != MemberState::Ready) {
            return Ok(None);
        }
        let meta = &mut pod.metadata;
        let pod_labels = meta.labels.get_or_insert_with(Default::default);
        pod_labels.insert(labels::CLUSTER.into(), cluster.into());
        let annotations = meta.annotations.get_or_insert_with(Default::default);
        annotations.insert(KIND_NAME.into(), member.key.clone());
        annotations.insert(labels::CLUSTER.into(), cluster.into());
        annotations.insert(labels::CREATED_AT.into(), record.claimed_at.clone());
        annotations.insert(ENDPOINT_ANNOTATION.into(), endpoint_word(self.endpoint));
        for (key, value) in record.to_labels() {
            let selectable =
                !key.starts_with("dev.kip.") || key == labels::TTL || key == labels::OWNER;
            if selectable {
                pod_labels.insert(key.clone(), label_value(&value));
            }
            annotations.insert(key, value);
        }
        match self
            .pods()
            .replace(&name, &PostParams::default(), &pod)
            .await
        {
            Ok(pod) => Ok(Some(pod)),
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// The name claim of a claim that lost its member, given up.
    async fn release_name(&self, cluster: &str) {
        let _ = self
            .config_maps()
            .delete(&names::node_name(cluster), &DeleteParams::default())
            .await;
    }

    /// The claimed Pod `pod` (of uid `uid`) owns the name's ConfigMap: the
    /// cluster's garbage collector removes it with the Pod.
    async fn own_name_claim(&self, cluster: &str, pod: &str, uid: Option<String>) -> Result<()> {
        let reference = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "name": pod, "uid": uid.unwrap_or_default(),
        });
        self.config_maps()
            .patch(
                &names::node_name(cluster),
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(
                    serde_json::json!({"metadata": {"ownerReferences": [reference]}}),
                ),
            )
            .await
            .map_err(|e| Error::OwnConfigMap {
                name: names::node_name(cluster),
                error: e.to_string(),
            })?;
        Ok(())
    }

    async fn delete_member_config(&self, name: &str) -> Result<()> {
        match self
            .config_maps()
            .delete(name, &DeleteParams::default())
            .await
        {
            Err(kube::Error::Api(e)) if e.code != 404 => Err(self.unreachable(kube::Error::Api(e))),
            Err(e @ kube::Error::Service(_)) => Err(self.unreachable(e)),
            _ => Ok(()),
        }
    }

    /// Deletes the node Pod of cluster `cluster` when a member became it
    /// (its Pod and ConfigMap keep the member's name); whether there was one.
    pub(super) async fn delete_pool_born(&self, cluster: &str) -> Result<bool> {
        let Some(pod) = self.pod(cluster).await? else {
            return Ok(false);
        };
        let name = pod_name(&pod);
        if name == names::node_name(cluster) {
            return Ok(false);
        }
        match self.pods().delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(self.unreachable(e)),
        }
        self.delete_member_config(&name).await?;
        Ok(true)
    }
}

fn endpoint_word(mode: EndpointMode) -> String {
    serde_json::to_value(mode)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
