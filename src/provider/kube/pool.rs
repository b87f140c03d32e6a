//! Warm pools on a shared cluster (`--remote`).
//!
//! # DESIGN
//!
//! A member is a node Pod made by the ordinary remote provisioning under
//! its key (`kip-pool.POOL.ID`, with its ConfigMap), and nothing watches
//! it being made: its readiness probe (the inner API server's `/readyz`)
//! makes it Ready, and a Ready member is a ready one. So a refill only
//! creates objects, and the job that claimed can end at once; the shared
//! cluster does the rest. Members get the kind node image from the outer
//! node's seed when it has one (`KIP_SEED_USE_ONLY`: nobody streams), else
//! their Docker pulls it.
//!
//! A pool's definition is the ConfigMap `kip-pool.POOL` (the spec as JSON);
//! a change of it is an update at the resourceVersion read (409: another
//! kip changed it first).
//!
//! **A claim takes a member exclusively** by a merge patch of the member
//! Pod that carries the resourceVersion the claimer read: the API server
//! applies it only if the Pod is unchanged since, so of claimers racing for
//! one member exactly one gets 200 and the others 409 (the API's optimistic
//! concurrency). The patch writes the claim's time (and the name it is
//! for). Then the claim on the name: the ConfigMap `kip-NAME` created
//! (409: the name is another's; the member is released), naming the member
//! Pod and owned by it. Last, the Pod is relabelled as NAME's. A Pod cannot
//! be renamed, so a claimed cluster's node is found through its name's
//! ConfigMap (`claimed_member_pod`): the Pod it names, if its labels say
//! NAME. The kind cluster inside keeps the key's name (`NodeInfo::inner`).
//!
//! A claimer killed half-way leaves a member taken: the next kip that looks
//! (a claim's refill, `kip pool list`, `kip gc --remote`, which a CronJob
//! can run: `examples/pool-gc-cronjob.yaml`) deletes it once it has been
//! taken for longer than `member::TAKEN_LIMIT`; the cluster's garbage
//! collector removes a name's ConfigMap with the Pod that owns it, and one
//! whose member never became NAME's is a leftover that the next `kip up` of
//! the name replaces. `--paused` and `--from SNAPSHOT` are local only.

use super::KubeProvider;
use crate::error::Error;
use crate::names;
use crate::node::pod_options::{EndpointMode, PodOptions};
use crate::node::{labels, remote};
use crate::pool::member::{
    ClaimRecord, MemberInfo, MemberState, CLAIMED_AS, CLAIMED_AT, PLAN_LABEL, POOL_LABEL,
};
use crate::pool::spec::PoolSpec;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::{Claimed, Pools, StoredPool, Take};
use crate::provider::Provider;
use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// On a name's ConfigMap: the member Pod the cluster is.
pub(super) const MEMBER_POD: &str = "dev.kip.pool-member-pod";
/// On a member Pod taken by a claim that has not finished: the name.
const CLAIMING: &str = "dev.kip.claiming";
/// The label of a pool's definition ConfigMap.
const DEFINITION: &str = "dev.kip.pool-definition";

fn definition_name(pool: &str) -> String {
    format!("kip-pool.{pool}")
}

fn annotations(pod: &Pod) -> BTreeMap<String, String> {
    pod.metadata.annotations.clone().unwrap_or_default()
}

/// Whether `pod` is a pool's member not claimed as a cluster (a claimed
/// one is an ordinary cluster).
pub(super) fn is_unclaimed_member(pod: &Pod) -> bool {
    let a = annotations(pod);
    a.contains_key(POOL_LABEL) && !a.contains_key(CLAIMED_AS)
}

impl Pools for KubeProvider {
    async fn pools(&self, name: Option<&str>) -> Result<Vec<StoredPool>> {
        let mut selector = format!("{}={},{DEFINITION}", labels::MANAGED_BY, labels::MANAGER);
        if let Some(name) = name {
            selector = format!("{selector}={}", remote::label_value(name));
        }
        let list = self
            .config_maps()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|cm| {
                let text = cm.data.as_ref()?.get("spec.json")?;
                let spec: PoolSpec = serde_json::from_str(text).ok()?;
                let version = cm.metadata.resource_version.clone()?;
                (name.is_none_or(|n| n == spec.name)).then_some(StoredPool { spec, version })
            })
            .collect())
    }

    async fn store_pool(&self, spec: &PoolSpec, version: Option<&str>) -> Result<bool> {
        let object: ConfigMap = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": definition_name(&spec.name),
                "namespace": self.namespace,
                "resourceVersion": version,
                "labels": {
                    labels::MANAGED_BY: labels::MANAGER,
                    DEFINITION: remote::label_value(&spec.name),
                },
            },
            "data": {"spec.json": serde_json::to_string(spec)?},
        }))?;
        let api = self.config_maps();
        let stored = match version {
            None => api.create(&PostParams::default(), &object).await,
            Some(_) => {
                api.replace(
                    &definition_name(&spec.name),
                    &PostParams::default(),
                    &object,
                )
                .await
            }
        };
        match stored {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(false),
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
        let pods = self.kips_pods(self.pods()).await?;
        Ok(pods
            .iter()
            .filter(|p| is_unclaimed_member(p) && p.metadata.deletion_timestamp.is_none())
            .filter_map(member_of)
            .filter(|m| pool.is_none_or(|p| p == m.pool))
            .collect())
    }

    async fn take(&self, member: &MemberInfo, record: &ClaimRecord) -> Result<Take> {
        if self.endpoint == EndpointMode::Service && record.cluster.is_some() {
            // A member has no Service, and its name (with dots) cannot be one's.
            return Err(Error::PoolFlagImpossible {
                flag: "--endpoint service",
                why: "a pool's member is reached through its Pod (use --endpoint forwarded or \
                      pod-ip, or make a cluster of your own without --pool)",
            }
            .into());
        }
        let name = names::node_name(&member.key);
        let Some(pod) = self
            .pods()
            .get_opt(&name)
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            return Ok(Take::Lost);
        };
        let a = annotations(&pod);
        if a.contains_key(CLAIMED_AT) || a.contains_key(CLAIMED_AS) {
            return Ok(Take::Lost);
        }
        // The resourceVersion read: the patch applies only to the Pod as
        // it was then, so one claimer of those that read it wins.
        let patch = json!({"metadata": {
            "resourceVersion": pod.metadata.resource_version,
            "annotations": {CLAIMED_AT: record.claimed_at, CLAIMING: record.cluster},
        }});
        match self
            .pods()
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(Take::Took),
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(Take::Lost),
            Err(e) => Err(Error::ClaimFailed {
                member: member.key.clone(),
                error: e.to_string(),
            }
            .into()),
        }
    }

    async fn finish_claim(
        &self,
        member: &MemberInfo,
        record: &ClaimRecord,
    ) -> Result<Claimed<Self::Node>> {
        let cluster = record
            .cluster
            .clone()
            .expect("a claim names the cluster it makes");
        let pod_name = names::node_name(&member.key);
        let Some(pod) = self
            .pods()
            .get_opt(&pod_name)
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            return Ok(Claimed::Lost);
        };
        let params = PostParams {
            dry_run: false,
            field_manager: Some("kip".into()),
        };
        let name_claim = claim_config_map(&cluster, &self.namespace, &pod);
        match self.claim(&cluster, &params, name_claim).await {
            Ok(()) => {}
            Err(e) => {
                self.release(&pod_name).await?;
                return match e.downcast_ref::<Error>() {
                    Some(Error::NameTaken { .. }) => Ok(Claimed::NameTaken),
                    _ => Err(e),
                };
            }
        }
        self.relabel(&pod_name, &cluster, record).await?;
        self.state.save(&cluster, &self.record())?;
        if self.endpoint == EndpointMode::Forwarded {
            self.start_forwarder(&cluster, 0, &pod_name).await?;
        }
        Ok(match self.lookup(&cluster).await? {
            Some(node) => Claimed::Won(node),
            None => Claimed::Lost,
        })
    }

    async fn delete_taken(&self, member: &MemberInfo) -> Result<()> {
        let pod_name = names::node_name(&member.key);
        self.delete_member_objects(&pod_name, (&member.key, &member.key))
            .await
    }

    async fn mark_ready(&self, _key: &str, _pause: bool) -> Result<()> {
        // Never asked: a remote member is Ready by its readiness probe.
        Ok(())
    }

    fn members_ready_themselves(&self) -> bool {
        true
    }

    fn member_maker(&self, spec: &PoolSpec) -> Self {
        let pod = spec.plan.pod.clone().unwrap_or_else(|| self.pod.clone());
        KubeProvider {
            // No port-forward while a member is made: its claimer starts
            // its own (or reaches the Pod's IP).
            endpoint: EndpointMode::PodIp,
            pod,
            ..self.clone()
        }
    }

    async fn complete_plan(
        &self,
        spec: &mut PoolSpec,
        restored: bool,
        host: Option<&DockerProvider>,
    ) -> Result<()> {
        if spec.paused {
            return Err(Error::PoolFlagImpossible {
                flag: "--paused",
                why: "a remote member is a Pod, and the cluster cannot freeze one \
                      (drop --paused, or keep the pool on the local engine)",
            }
            .into());
        }
        if restored {
            return Err(Error::PoolFlagImpossible {
                flag: "--from",
                why: "remote members are made by the shared cluster alone, and a snapshot \
                      is on this machine's engine (drop --from, or keep the pool local)",
            }
            .into());
        }
        spec.plan.pod = Some(PodOptions {
            endpoint: None,
            ..self.pod.clone()
        });
        // Members find the outer node's seed by the image's ID, read now:
        // nobody brings the image when the cluster makes a member.
        let image = crate::node::settings::kind_image_of(spec.plan.image.as_deref());
        if let Some(host) = host {
            spec.plan.kind_image_id = host.host_image_id(&image).await.ok().flatten();
        }
        Ok(())
    }
}

impl KubeProvider {
    /// The node Pod of a cluster claimed from a pool: the member its name's
    /// ConfigMap names, once relabelled as the cluster's.
    pub(super) async fn claimed_member_pod(&self, cluster: &str) -> Result<Option<Pod>> {
        let claim = self
            .config_maps()
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?;
        let Some(member) = claim
            .filter(|c| super::ownership::is_kips(&c.metadata, cluster))
            .and_then(|c| c.metadata.annotations?.get(MEMBER_POD).cloned())
        else {
            return Ok(None);
        };
        let pod = self
            .pods()
            .get_opt(&member)
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(pod.filter(|p| super::ownership::is_kips(&p.metadata, cluster)))
    }

    /// A member taken by a claim whose name was another's: as it was.
    async fn release(&self, pod: &str) -> Result<()> {
        let patch = json!({"metadata": {"annotations": {CLAIMED_AT: null, CLAIMING: null}}});
        match self
            .pods()
            .patch(pod, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// The member Pod relabelled as `cluster`'s, with the claim's record
    /// (its TTL, owner, labels) and this claimer's endpoint.
    async fn relabel(&self, pod: &str, cluster: &str, record: &ClaimRecord) -> Result<()> {
        let mut annotations: BTreeMap<String, Value> = record
            .to_labels()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        annotations.insert(CLAIMING.into(), Value::Null);
        annotations.insert(
            remote::ENDPOINT_ANNOTATION.into(),
            serde_json::to_value(self.endpoint)?,
        );
        let mut selectable: BTreeMap<String, String> = record
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("dev.kip."))
            .map(|(k, v)| (k.clone(), remote::label_value(v)))
            .collect();
        selectable.insert(labels::CLUSTER.into(), remote::label_value(cluster));
        selectable.insert(labels::OWNER.into(), remote::label_value(&record.owner));
        if let Some(ttl) = &record.ttl {
            selectable.insert(labels::TTL.into(), remote::label_value(ttl));
        }
        let patch = json!({"metadata": {"labels": selectable, "annotations": annotations}});
        self.pods()
            .patch(pod, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| Error::ClaimFailed {
                member: pod.to_string(),
                error: e.to_string(),
            })?;
        Ok(())
    }

    /// Deletes a member's Pod (kip's for `cluster`: its key, or the name it
    /// was claimed as), with its ConfigMap (of its `key`) and, for a member
    /// taken by a claim that never finished, that claim's ConfigMap of the
    /// name.
    pub(super) async fn delete_member_objects(
        &self,
        pod_name: &str,
        (cluster, key): (&str, &str),
    ) -> Result<()> {
        let pod = self
            .pods()
            .get_opt(pod_name)
            .await
            .map_err(|e| self.unreachable(e))?;
        if let Some(cluster) = pod
            .as_ref()
            .and_then(|p| annotations(p).get(CLAIMING).cloned())
        {
            self.delete_unfinished_claim(&cluster, pod_name).await?;
        }
        if let Some(pod) = pod.filter(|p| super::ownership::is_kips(&p.metadata, cluster)) {
            self.delete_by_uid(&self.pods(), pod_name, pod.metadata.uid)
                .await?;
        }
        let mut left = Vec::new();
        self.delete_owned(&self.config_maps(), key, "ConfigMap", &mut left)
            .await?;
        Ok(())
    }

    /// The name's ConfigMap a claim killed half-way made, if it names
    /// `member` and no cluster is that name.
    async fn delete_unfinished_claim(&self, cluster: &str, member: &str) -> Result<()> {
        let Some(claim) = self
            .config_maps()
            .get_opt(&names::node_name(cluster))
            .await
            .map_err(|e| self.unreachable(e))?
        else {
            return Ok(());
        };
        let names_member = claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MEMBER_POD))
            .is_some_and(|m| m == member);
        if !names_member || !super::ownership::is_kips(&claim.metadata, cluster) {
            return Ok(());
        }
        let name = names::node_name(cluster);
        self.delete_by_uid(&self.config_maps(), &name, claim.metadata.uid)
            .await
    }
}

/// The claim on the name `cluster`: its ConfigMap, naming the member Pod
/// and owned by it (the cluster's garbage collector removes it with the
/// Pod).
fn claim_config_map(cluster: &str, namespace: &str, pod: &Pod) -> Value {
    let member = pod.metadata.name.clone().unwrap_or_default();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": names::node_name(cluster),
            "namespace": namespace,
            "labels": {
                labels::MANAGED_BY: labels::MANAGER,
                labels::CLUSTER: remote::label_value(cluster),
            },
            "annotations": {
                labels::CLUSTER: cluster,
                MEMBER_POD: member,
            },
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Pod", "name": member,
                "uid": pod.metadata.uid.clone().unwrap_or_default(),
            }],
        },
    })
}

/// A member as its Pod says: taken (a claim's time on it), broken (its
/// node ended), ready (its readiness probe passed) or being made.
fn member_of(pod: &Pod) -> Option<MemberInfo> {
    let a = annotations(pod);
    let key = a.get(labels::CLUSTER)?.clone();
    let parse = |k: &str| a.get(k).and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_default();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let state = if a.contains_key(CLAIMED_AT) {
        MemberState::Taken {
            since: parse(CLAIMED_AT),
        }
    } else if phase == "Failed" || phase == "Succeeded" {
        MemberState::Broken(format!("its node Pod ended ({phase})"))
    } else if ready {
        MemberState::Ready
    } else {
        MemberState::Making
    };
    Some(MemberInfo {
        pool: a.get(POOL_LABEL)?.clone(),
        state,
        created_at: parse(labels::CREATED_AT),
        plan: a.get(PLAN_LABEL).cloned(),
        paused: false,
        memory: None,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotations: &[(&str, &str)], phase: &str, ready: bool) -> Pod {
        let a: BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "kip-pool.ci.0000abcd", "annotations": a},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}
            ]},
        }))
        .unwrap()
    }

    const MEMBER: [(&str, &str); 3] = [
        (labels::CLUSTER, "pool.ci.0000abcd"),
        (POOL_LABEL, "ci"),
        (labels::CREATED_AT, "2026-12-05T10:00:00Z"),
    ];

    #[test]
    fn a_members_state_is_read_from_its_pod() {
        let state = |p: &Pod| member_of(p).unwrap().state;
        assert_eq!(state(&pod(&MEMBER, "Running", true)), MemberState::Ready);
        assert_eq!(state(&pod(&MEMBER, "Running", false)), MemberState::Making);
        assert_eq!(state(&pod(&MEMBER, "Pending", false)), MemberState::Making);
        assert!(matches!(
            state(&pod(&MEMBER, "Failed", false)),
            MemberState::Broken(_)
        ));
        let mut taken = MEMBER.to_vec();
        taken.push((CLAIMED_AT, "2026-12-05T10:05:00Z"));
        assert!(matches!(
            state(&pod(&taken, "Running", true)),
            MemberState::Taken { since: Some(_) }
        ));
        let member = member_of(&pod(&MEMBER, "Running", true)).unwrap();
        assert_eq!(
            (member.key.as_str(), member.pool.as_str()),
            ("pool.ci.0000abcd", "ci")
        );
    }

    #[test]
    fn a_claimed_member_is_a_cluster_not_a_member() {
        assert!(is_unclaimed_member(&pod(&MEMBER, "Running", true)));
        let mut claimed = MEMBER.to_vec();
        claimed.push((CLAIMED_AS, "job-7"));
        assert!(!is_unclaimed_member(&pod(&claimed, "Running", true)));
        assert!(!is_unclaimed_member(&pod(
            &[(labels::CLUSTER, "dev")],
            "Running",
            true
        )));
    }

    #[test]
    fn the_claim_on_a_name_names_its_member_and_is_owned_by_it() {
        let mut member = pod(&MEMBER, "Running", true);
        member.metadata.uid = Some("uid-1".into());
        let cm = claim_config_map("job-7", "ci", &member);
        assert_eq!(cm["metadata"]["name"], "kip-job-7");
        assert_eq!(
            cm["metadata"]["annotations"][MEMBER_POD],
            "kip-pool.ci.0000abcd"
        );
        assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(cm["metadata"]["labels"][labels::CLUSTER], "job-7");
    }
}
