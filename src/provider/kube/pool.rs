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

use super::pool_member::{annotations, claim_config_map, is_unclaimed_member, member_of, CLAIMING};
use super::KubeProvider;
use crate::error::Error;
use crate::names;
use crate::node::pod_options::{EndpointMode, PodOptions};
use crate::node::{labels, remote};
use crate::pool::member::{ClaimRecord, MemberInfo, CLAIMED_AS, CLAIMED_AT};
use crate::pool::spec::PoolSpec;
use crate::provider::docker::DockerProvider;
use crate::provider::pool::{Claimed, Pools, StoredPool, Take};
use crate::provider::Provider;
use anyhow::Result;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// The label of a pool's definition ConfigMap.
const DEFINITION: &str = "dev.kip.pool-definition";

fn definition_name(pool: &str) -> String {
    format!("kip-pool.{pool}")
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
