//! A remote pool's member as its objects say (`pool.rs` has the DESIGN):
//! where a member stands, read from its Pod; the claim's ConfigMap of the
//! name; a taken member released or relabelled as the cluster it became;
//! the deletion of a member's objects, and of a claim killed half-way.

use super::KubeProvider;
use crate::error::Error;
use crate::names;
use crate::node::{labels, remote};
use crate::pool::member::{
    ClaimRecord, MemberInfo, MemberState, CLAIMED_AS, CLAIMED_AT, PLAN_LABEL, POOL_LABEL,
};
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// On a name's ConfigMap: the member Pod the cluster is.
pub(super) const MEMBER_POD: &str = "dev.kip.pool-member-pod";
/// On a member Pod taken by a claim that has not finished: the name.
pub(super) const CLAIMING: &str = "dev.kip.claiming";

pub(super) fn annotations(pod: &Pod) -> BTreeMap<String, String> {
    pod.metadata.annotations.clone().unwrap_or_default()
}

/// Whether `pod` is a pool's member not claimed as a cluster (a claimed
/// one is an ordinary cluster).
pub(super) fn is_unclaimed_member(pod: &Pod) -> bool {
    let a = annotations(pod);
    a.contains_key(POOL_LABEL) && !a.contains_key(CLAIMED_AS)
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
    pub(super) async fn release(&self, pod: &str) -> Result<()> {
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
    pub(super) async fn relabel(
        &self,
        pod: &str,
        cluster: &str,
        record: &ClaimRecord,
    ) -> Result<()> {
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
pub(super) fn claim_config_map(cluster: &str, namespace: &str, pod: &Pod) -> Value {
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
pub(super) fn member_of(pod: &Pod) -> Option<MemberInfo> {
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
